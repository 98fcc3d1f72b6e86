"""Probability that a member gives to the ground truth.

This is the classification score by which Bi-KD picks the teacher on each
sample: the member most confident in the correct label teaches.
"""

from __future__ import annotations

from torch import Tensor

from ._checks import (
    check_index_tensor,
    check_tensor,
    class_dim_index,
    element_shape,
    log_probs,
)


def gt_confidence(
    logits: Tensor,
    target: Tensor,
    class_dim: int = 1,
    ignore_index: int | None = None,
    from_log_probs: bool = False,
) -> Tensor:
    """Probability of the ground truth under ``softmax(logits)``.

    Hard labels give ``p[y]``; soft or mixed labels (e.g. label smoothing,
    mixup) give ``sum_c y_c p_c``, which equals ``p[y]`` for a one-hot
    ``y``.

    Ignored elements (hard labels equal to ``ignore_index``) get confidence
    0, a finite value that is safe to log or average. They are *not*
    excluded from teacher selection by this function: pass
    ``valid=target != ignore_index`` to :func:`select_teachers` and
    :func:`masked_kl`, otherwise an all-zero tie may pick a teacher there.

    The result is differentiable; detach it if it is only used to select
    teachers (:func:`select_teachers` does not need a gradient).

    Args:
        logits (Tensor): Logits with classes along ``class_dim``.
        target (Tensor): Hard labels, an integer tensor of ``logits`` shape
            without ``class_dim``; or soft labels, a floating tensor of
            ``logits`` shape.
        class_dim (int): Class dimension of ``logits``. Defaults to 1.
        ignore_index (int | None): Hard label value that marks elements
            without ground truth. Not used with soft labels. Defaults to
            None (nothing ignored).
        from_log_probs (bool): Whether ``logits`` already are
            log-probabilities over ``class_dim``. Defaults to False.

    Returns:
        Tensor: Confidence of ``logits`` shape without ``class_dim``.

    Raises:
        TypeError: If ``target`` is a bool tensor or not a tensor.
        ValueError: If ``target`` has neither the element shape (hard
            labels) nor the logits shape (soft labels), or ``class_dim`` is
            out of range.
    """
    check_tensor(logits, 'logits')
    check_tensor(target, 'target')
    class_dim = class_dim_index(logits.dim(), class_dim, 'logits')
    if target.is_floating_point():
        if target.shape != logits.shape:
            raise ValueError(
                'target with soft labels must have the logits shape '
                f'{tuple(logits.shape)}, got {tuple(target.shape)}'
            )
        probs = log_probs(logits, class_dim, from_log_probs).exp()
        return (probs * target).sum(class_dim)

    check_index_tensor(
        target, element_shape(logits.shape, class_dim), 'target'
    )
    ignored = None
    if ignore_index is not None:
        ignored = target == ignore_index
        target = target.masked_fill(ignored, 0)
    index = target.long().unsqueeze(class_dim)
    lp = log_probs(logits, class_dim, from_log_probs)
    confidence = lp.gather(class_dim, index).squeeze(class_dim).exp()
    if ignored is not None:
        confidence = confidence.masked_fill(ignored, 0)
    return confidence
