import torch.nn as nn
from torch import Tensor

from bikd_mm.models.losses.loss_name import check_loss_name
from bikd_mm.registry import MODELS

from .functional import (
    check_reduction,
    reduce_values,
    saliency_cc,
)


@MODELS.register_module()
class SaliencyCCLoss(nn.Module):
    """Pearson's correlation coefficient (CC) of predicted and true maps.

    The value is ``loss_weight * CC``. CC is a score (higher is better),
    so the default weight is -1: alone, the loss is ``-CC``, and in the
    reference combination ``KLD - CC`` it is the ``- CC`` part.

    Args:
        loss_weight (float): Multiplier of CC. Defaults to -1.0.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'`` (``[B]``).
            Defaults to ``'mean'``.
        loss_name (str): Key in the loss dict; starts with ``loss_``.
            Defaults to ``'loss_cc'``.
    """

    def __init__(
        self,
        loss_weight: float = -1.0,
        reduction: str = 'mean',
        loss_name: str = 'loss_cc',
    ) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction)
        self._loss_name = check_loss_name(loss_name)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(
        self, pred: Tensor, target: Tensor, reduction: str | None = None
    ) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Maps ``[B, H, W]`` or ``[B, 1, H, W]``.
            target (Tensor): Ground-truth maps of the same size.
            reduction (str, optional): Overrides ``self.reduction``.

        Returns:
            Tensor: A scalar, or ``[B]`` with ``'none'``.
        """
        values = self.loss_weight * saliency_cc(pred, target)
        return reduce_values(values, reduction or self.reduction)
