import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from bikd_mm.core import bce_dice_loss

from .loss_name import check_loss_name

REDUCTIONS = ('none', 'image', 'mean')


@MODELS.register_module()
class BCEDiceLoss(nn.Module):
    """Binary cross-entropy plus Dice loss on mask logits.

    Usable as a member's ``loss_decode`` for binary segmentation (one output
    channel, labels 0/1) or multi-label segmentation (C channels, labels are
    class indices turned into one binary mask per channel), and as the task
    loss that a teacher selector compares. Each (image, channel) mask gets
    its own Dice term; pixels equal to ``ignore_index`` are left out of both
    terms.

    Args:
        reduction (str): ``'mean'`` (a scalar), ``'image'`` (``[B]``: mean
            over channels of BCE + 1 - Dice) or ``'none'`` (per-pixel BCE
            ``[B, H, W]`` summed over channels; Dice has no per-pixel
            share). Defaults to ``'mean'``.
        smooth (float): Dice smoothing. Defaults to 1.0.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name in the loss dict; must start with ``loss_``.
            Defaults to ``'loss_bce_dice'``.
    """

    def __init__(
        self,
        reduction: str = 'mean',
        smooth: float = 1.0,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_bce_dice',
    ):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(
                f'BCEDiceLoss: reduction must be one of '
                f'{REDUCTIONS}, got {reduction!r}'
            )
        self.reduction = reduction
        self.smooth = smooth
        self.loss_weight = loss_weight
        self._loss_name = check_loss_name(loss_name, 'BCEDiceLoss')

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        ignore_index: int = 255,
        **kwargs,
    ) -> Tensor:
        """Loss of mask logits against a label map.

        Args:
            pred (Tensor): Mask logits ``[B, C, H, W]``.
            target (Tensor): Labels ``[B, H, W]``: 0/1 when ``C == 1``,
                class indices in ``[0, C)`` otherwise.
            weight (Tensor, optional): Not supported; must be None.
            ignore_index (int): Label value to leave out. Defaults to 255.

        Returns:
            Tensor: The loss, shaped by ``reduction``.
        """
        if weight is not None:
            raise ValueError(
                'BCEDiceLoss does not support per-pixel weights (no sampler)'
            )
        if pred.dim() != 4 or target.shape != (pred.shape[0], *pred.shape[2:]):
            raise ValueError(
                f'BCEDiceLoss: expected pred [B, C, H, W] and '
                f'target [B, H, W], got {tuple(pred.shape)} '
                f'and {tuple(target.shape)}'
            )
        batch, channels = pred.shape[:2]
        valid = target != ignore_index
        labels = target.masked_fill(~valid, 0).long()
        if channels == 1:
            if labels.max() > 1:
                raise ValueError(
                    'BCEDiceLoss: a single-channel prediction '
                    'needs 0/1 labels, got label '
                    f'{int(labels.max())}'
                )
            masks = labels[:, None]
        else:
            if labels.max() >= channels:
                raise ValueError(
                    f'BCEDiceLoss: label {int(labels.max())} '
                    f'outside [0, {channels})'
                )
            masks = F.one_hot(labels, channels).permute(0, 3, 1, 2)
        valid = valid[:, None].expand_as(pred)
        flat = dict(
            mask_logits=pred.flatten(0, 1),
            target=masks.flatten(0, 1),
            valid=valid.flatten(0, 1),
            smooth=self.smooth,
        )
        if self.reduction == 'none':
            loss = bce_dice_loss(reduction='none', **flat).view_as(pred).sum(1)
        else:
            loss = (
                bce_dice_loss(reduction='image', **flat)
                .view(batch, channels)
                .mean(1)
            )
            if self.reduction == 'mean':
                loss = loss.mean()
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        return self._loss_name
