import torch.nn as nn
from torch import Tensor

from bikd_mm.core.distribution_kl import MATLAB_EPS
from bikd_mm.models.losses.loss_name import check_loss_name
from bikd_mm.registry import MODELS

from .functional import (
    check_reduction,
    reduce_values,
    saliency_cc,
    saliency_kld,
)


@MODELS.register_module()
class SaliencyKLDCCLoss(nn.Module):
    """Weighted sum of KLD and CC, the loss of ViNet and TMFI-Net.

    ``loss = kld_weight * KLD + cc_weight * CC`` per sample; the reference
    weights 1 and -1 give ``KLD - CC``. With ``reduction='none'`` it is
    the per-sample score by which a Bi-KD pair picks its teacher (lower
    is better).

    Args:
        kld_weight (float): Weight of KLD. Defaults to 1.0.
        cc_weight (float): Weight of CC. Defaults to -1.0.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'`` (``[B]``).
            Defaults to ``'mean'``.
        eps (float): Stabiliser of KLD. Defaults to 2.2204e-16.
        loss_name (str): Key in the loss dict; starts with ``loss_``.
            Defaults to ``'loss_kld_cc'``.
    """

    def __init__(
        self,
        kld_weight: float = 1.0,
        cc_weight: float = -1.0,
        reduction: str = 'mean',
        eps: float = MATLAB_EPS,
        loss_name: str = 'loss_kld_cc',
    ) -> None:
        super().__init__()
        self.kld_weight = kld_weight
        self.cc_weight = cc_weight
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
        values = 0
        if self.kld_weight:
            values = self.kld_weight * saliency_kld(pred, target, self.eps)
        if self.cc_weight:
            values = values + self.cc_weight * saliency_cc(pred, target)
        if isinstance(values, int):
            values = pred.new_zeros(pred.shape[0]) + 0 * pred.sum()
        return reduce_values(values, reduction or self.reduction)
