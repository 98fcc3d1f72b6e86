import torch.nn as nn
from torch import Tensor

from bikd_mm.core.distribution_kl import MATLAB_EPS
from bikd_mm.models.losses.loss_name import check_loss_name
from bikd_mm.registry import MODELS

from .functional import (
    check_reduction,
    reduce_values,
    saliency_kld,
)


@MODELS.register_module()
class SaliencyKLDLoss(nn.Module):
    """KL divergence of a predicted saliency map from the ground truth.

    Both maps are divided by their sum, then
    ``KLD = sum(Q * log(eps + Q / (P + eps)))`` per sample, ``Q`` the
    ground truth, ``P`` the prediction (TASED-Net, ViNet, TMFI-Net).

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        reduction (str): ``'mean'`` over the batch, ``'sum'``, or
            ``'none'`` for one value per sample ``[B]`` (teacher
            selection). Defaults to ``'mean'``.
        eps (float): Stabiliser. Defaults to 2.2204e-16.
        loss_name (str): Key in the loss dict; starts with ``loss_``.
            Defaults to ``'loss_kld'``.
    """

    def __init__(
        self,
        loss_weight: float = 1.0,
        reduction: str = 'mean',
        eps: float = MATLAB_EPS,
        loss_name: str = 'loss_kld',
    ) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction)
        self.eps = eps
        self._loss_name = check_loss_name(loss_name)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(
        self, pred: Tensor, target: Tensor, reduction: str | None = None
    ) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Non-negative maps ``[B, H, W]`` or
                ``[B, 1, H, W]``.
            target (Tensor): Ground-truth maps of the same size.
            reduction (str, optional): Overrides ``self.reduction``.

        Returns:
            Tensor: A scalar, or ``[B]`` with ``'none'``.
        """
        values = self.loss_weight * saliency_kld(pred, target, self.eps)
        return reduce_values(values, reduction or self.reduction)
