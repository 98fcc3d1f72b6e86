import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .loss_name import check_loss_name


@MODELS.register_module()
class ClassWeightedCrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with one weight per class, for label maps
    that contain an ignore value.

    The loss is ``sum_i w[y_i] * CE_i / sum_i w[y_i]`` over the pixels that
    are not ignored, i.e. ``F.cross_entropy(..., weight=class_weight,
    ignore_index=ignore_index)``; a per-pixel ``weight`` (from a pixel
    sampler) multiplies both sums. Usable as a member's ``loss_decode`` when
    a class dominates the pixels (e.g. background): mmseg's
    ``CrossEntropyLoss`` with ``class_weight`` indexes the weights with the
    raw labels, which fails on ignored pixels.

    Args:
        class_weight (list[float]): Weight of each class, one per output
            channel.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name in the loss dict; must start with ``loss_``.
            Defaults to ``'loss_ce'``.
    """

    def __init__(
        self,
        class_weight: list,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_ce',
    ):
        super().__init__()
        weights = torch.as_tensor(class_weight, dtype=torch.float32)
        if weights.dim() != 1 or weights.numel() == 0:
            raise ValueError(
                'ClassWeightedCrossEntropyLoss: class_weight must be a '
                f'non-empty list of floats, got {class_weight!r}'
            )
        if bool((weights < 0).any()) or not bool((weights > 0).any()):
            raise ValueError(
                'ClassWeightedCrossEntropyLoss: class_weight must be >= 0 '
                f'with at least one positive weight, got {class_weight!r}'
            )
        self.register_buffer('class_weight', weights, persistent=False)
        self.loss_weight = loss_weight
        self._loss_name = check_loss_name(
            loss_name, 'ClassWeightedCrossEntropyLoss'
        )

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        ignore_index: int = 255,
        **kwargs,
    ) -> Tensor:
        """Weighted mean cross-entropy of class logits against labels.

        Args:
            pred (Tensor): Class logits ``[B, C, H, W]``.
            target (Tensor): Labels ``[B, H, W]`` in ``[0, C)`` or
                ``ignore_index``.
            weight (Tensor, optional): Per-pixel weights ``[B, H, W]``.
            ignore_index (int): Label value to leave out. Defaults to 255.

        Returns:
            Tensor: The scalar loss (0 when no pixel counts).
        """
        channels = self.class_weight.numel()
        if (
            pred.dim() != 4
            or pred.shape[1] != channels
            or target.shape != (pred.shape[0], *pred.shape[2:])
        ):
            raise ValueError(
                'ClassWeightedCrossEntropyLoss: expected pred '
                f'[B, {channels}, H, W] (one channel per class_weight) and '
                f'target [B, H, W], got {tuple(pred.shape)} and '
                f'{tuple(target.shape)}'
            )
        valid = target != ignore_index
        labels = target.masked_fill(~valid, 0).long()
        outside = (labels < 0) | (labels >= channels)
        if bool(outside.any()):
            bad = labels[outside][0]
            raise ValueError(
                f'ClassWeightedCrossEntropyLoss: label {int(bad)} outside '
                f'[0, {channels}) and not ignore_index={ignore_index}'
            )
        ce = F.cross_entropy(pred, labels, reduction='none')
        pixel_weight = self.class_weight.to(pred.dtype)[labels] * valid
        if weight is not None:
            pixel_weight = pixel_weight * weight.to(pred.dtype)
        total = pixel_weight.sum()
        loss = (ce * pixel_weight).sum() / total.clamp(
            min=torch.finfo(pred.dtype).tiny
        )
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        return self._loss_name
