"""Per-element task losses for dense tasks.

Dense Bi-KD picks, per pixel or per image, the member with the lower task
loss as the teacher. These functions return unreduced losses for that
choice, and the batch loss for binary masks (BCE + Dice).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import (
    check_index_tensor,
    check_mask,
    check_tensor,
    class_dim_index,
    element_shape,
    log_probs,
)

BCE_DICE_REDUCTIONS = ('none', 'image', 'mean')


def pixel_cross_entropy(
    logits: Tensor,
    target: Tensor,
    ignore_index: int | None = 255,
    class_dim: int = 1,
    from_log_probs: bool = False,
) -> Tensor:
    """Unreduced cross-entropy per element.

    Equals ``F.cross_entropy(logits, target, ignore_index=ignore_index,
    reduction='none')`` for ``class_dim=1``, for any ``class_dim``. With
    ``from_log_probs=True`` it is the negative log-likelihood of
    precomputed log-probabilities, so a caller that also needs them for
    :func:`masked_kl` computes the log-softmax once.

    Args:
        logits (Tensor): Logits (or log-probabilities, see
            ``from_log_probs``) with classes along ``class_dim``.
        target (Tensor): Integer labels of ``logits`` shape without
            ``class_dim``.
        ignore_index (int | None): Label value whose elements get loss 0
            (and zero gradient). None ignores nothing. Defaults to 255.
        class_dim (int): Class dimension of ``logits``. Defaults to 1.
        from_log_probs (bool): Whether ``logits`` already are
            log-probabilities over ``class_dim``. Defaults to False.

    Returns:
        Tensor: Loss of ``logits`` shape without ``class_dim``, 0 where
        ignored.

    Raises:
        TypeError: If ``target`` is not an integer tensor.
        ValueError: If ``target`` does not have the element shape or
            ``class_dim`` is out of range.
    """
    check_tensor(logits, 'logits')
    class_dim = class_dim_index(logits.dim(), class_dim, 'logits')
    check_index_tensor(
        target, element_shape(logits.shape, class_dim), 'target'
    )
    ignored = None
    if ignore_index is not None:
        ignored = target == ignore_index
        target = target.masked_fill(ignored, 0)
    lp = log_probs(logits, class_dim, from_log_probs)
    loss = -lp.gather(class_dim, target.long().unsqueeze(class_dim))
    loss = loss.squeeze(class_dim)
    if ignored is not None:
        loss = loss.masked_fill(ignored, 0)
    return loss


def per_image_mean(
    per_element_loss: Tensor, valid: Tensor | None = None
) -> Tensor:
    """Mean of a per-element loss over the valid elements of each image.

    Images without any valid element get 0. They should not take part in a
    per-image teacher selection: pass ``valid.flatten(1).any(1)`` as the
    ``valid`` argument of :func:`select_teachers`.

    Args:
        per_element_loss (Tensor): Loss of shape ``[B, *S]`` (batch first).
        valid (Tensor | None): Bool mask of the same shape. None means
            every element is valid.

    Returns:
        Tensor: Per-image mean of shape ``[B]``.

    Raises:
        TypeError: If ``valid`` is not a bool tensor.
        ValueError: If ``per_element_loss`` is 0-d or ``valid`` has another
            shape.
    """
    check_tensor(per_element_loss, 'per_element_loss')
    if per_element_loss.dim() < 1:
        raise ValueError('per_element_loss must have a batch dimension')
    check_mask(valid, per_element_loss.shape, 'valid')
    batch = per_element_loss.shape[0]
    loss = per_element_loss.reshape(batch, -1)
    if valid is None:
        return loss.sum(1) / max(loss.shape[1], 1)
    valid = valid.reshape(batch, -1)
    total = torch.where(valid, loss, 0).sum(1)
    return total / valid.sum(1).clamp_min(1).to(loss.dtype)


def bce_dice_loss(
    mask_logits: Tensor,
    target: Tensor,
    reduction: str = 'mean',
    smooth: float = 1.0,
    valid: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy plus Dice loss of binary masks.

    Per image ``b``: ``mean_valid(BCE) + 1 - Dice_b`` with the soft Dice
    ``Dice_b = (2 sum(p y) + smooth) / (sum(p) + sum(y) + smooth)``,
    ``p = sigmoid(mask_logits)``, all sums over the valid elements of the
    image.

    Reductions:

    - ``'none'``: per-element BCE of shape ``mask_logits.shape``, 0 where
      invalid. Dice is a ratio over a whole image and has no per-element
      share, so it is left out; this is the per-pixel task loss used to
      pick per-pixel teachers.
    - ``'image'``: per-image BCE + Dice loss of shape ``[B]``; images with
      no valid element get 0.
    - ``'mean'``: mean of the ``'image'`` values over the images that have
      at least one valid element (all images when ``valid`` is None); 0
      (still connected to the graph) when there is none.

    Args:
        mask_logits (Tensor): Binary logits of shape ``[B, *S]``.
        target (Tensor): Targets in ``[0, 1]`` of the same shape; bool or
            integer targets are converted to the logits' dtype.
        reduction (str): ``'none'``, ``'image'`` or ``'mean'``. Defaults to
            ``'mean'``.
        smooth (float): Non-negative Dice smoothing added to numerator and
            denominator. Defaults to 1.0.
        valid (Tensor | None): Bool mask of the same shape; invalid
            elements (e.g. ignored pixels) are left out of both terms.
            None means all are valid.

    Returns:
        Tensor: Loss shaped as given by ``reduction``.

    Raises:
        TypeError: If an argument is not a tensor or ``valid`` is not bool.
        ValueError: If shapes mismatch, ``mask_logits`` is 0-d,
            ``reduction`` is unknown or ``smooth < 0``.
    """
    if reduction not in BCE_DICE_REDUCTIONS:
        raise ValueError(
            f'reduction must be one of {BCE_DICE_REDUCTIONS}, got '
            f'{reduction!r}'
        )
    if not smooth >= 0:
        raise ValueError(f'smooth must be >= 0, got {smooth!r}')
    check_tensor(mask_logits, 'mask_logits')
    check_tensor(target, 'target')
    if mask_logits.dim() < 1:
        raise ValueError('mask_logits must have a batch dimension')
    if target.shape != mask_logits.shape:
        raise ValueError(
            f'target must have the mask_logits shape '
            f'{tuple(mask_logits.shape)}, got {tuple(target.shape)}'
        )
    check_mask(valid, mask_logits.shape, 'valid')
    target = target.to(mask_logits.dtype)

    bce = F.binary_cross_entropy_with_logits(
        mask_logits, target, reduction='none'
    )
    prob = mask_logits.sigmoid()
    if valid is not None:
        bce = torch.where(valid, bce, 0)
        prob = torch.where(valid, prob, 0)
        target = torch.where(valid, target, 0)
    if reduction == 'none':
        return bce

    batch = mask_logits.shape[0]
    inter = (prob * target).reshape(batch, -1).sum(1)
    total = prob.reshape(batch, -1).sum(1) + target.reshape(batch, -1).sum(1)
    # With smooth=0 an image with no positive target whose sigmoid
    # underflows to 0 would give 0 / 0; the clamp makes its Dice 0.
    denom = (total + smooth).clamp_min(torch.finfo(total.dtype).tiny)
    dice = (2 * inter + smooth) / denom
    loss = per_image_mean(bce, valid) + 1 - dice
    if valid is None:
        num_images = max(batch, 1)
    else:
        has_valid = valid.reshape(batch, -1).any(1)
        loss = torch.where(has_valid, loss, 0)
        num_images = has_valid.sum().clamp_min(1).to(loss.dtype)
    if reduction == 'image':
        return loss
    return loss.sum() / num_images
