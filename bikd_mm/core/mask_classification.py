"""Per-pixel class distribution of a mask-classification prediction.

A mask-classification model (MaskFormer, Mask2Former) predicts ``Q``
queries, each with class scores over ``C`` classes plus "no object" and a
mask. Bi-KD compares members pixel by pixel, so such a member needs one
class distribution per pixel: the semantic inference of Mask2Former,

    s_c(x) = sum_q softmax(z_q)_c * sigmoid(m_q(x)),   c < C,

normalised over the classes, p_c(x) = s_c(x) / sum_c' s_c'(x).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_tensor


def mask_classification_log_probs(
    cls_logits: Tensor, mask_logits: Tensor, eps: float = 1e-8
) -> Tensor:
    """Log of the per-pixel class distribution of query predictions.

    The scores ``s_c = sum_q softmax(cls)_c * sigmoid(mask)`` are what
    mmseg's ``Mask2FormerHead.predict`` returns as ``seg_logits``; here
    they are normalised over the classes per pixel, so that they are a
    distribution that a KL term and a per-pixel cross-entropy can use.
    Computed in float32; nothing is detached.

    Args:
        cls_logits (Tensor): Class logits ``[B, Q, C + 1]``, the last one
            "no object" (dropped after the softmax).
        mask_logits (Tensor): Mask logits ``[B, Q, H, W]``.
        eps (float): Floor of the probabilities before the log, which
            bounds the log-probabilities at ``log(eps)``. Defaults to 1e-8.

    Returns:
        Tensor: Log-probabilities ``[B, C, H, W]``; their exponentials sum
        to 1 over the classes up to the ``eps`` floor.

    Raises:
        ValueError: If the shapes do not match.
    """
    check_tensor(cls_logits, 'cls_logits')
    check_tensor(mask_logits, 'mask_logits')
    if (
        cls_logits.dim() != 3
        or mask_logits.dim() != 4
        or cls_logits.shape[:2] != mask_logits.shape[:2]
        or cls_logits.shape[-1] < 2
    ):
        raise ValueError(
            'expected cls_logits [B, Q, C + 1] and mask_logits [B, Q, H, W] '
            'with the same B and Q, got '
            f'{tuple(cls_logits.shape)} and {tuple(mask_logits.shape)}'
        )
    cls_probs = cls_logits.float().softmax(-1)[..., :-1]
    mask_probs = mask_logits.float().sigmoid()
    scores = torch.einsum('bqc,bqhw->bchw', cls_probs, mask_probs)
    total = scores.sum(1, keepdim=True)
    probs = scores / total.clamp_min(torch.finfo(scores.dtype).tiny)
    return probs.clamp_min(eps).log()
