"""Divergences between already-normalised distributions.

:func:`masked_kl_terms` takes logits and applies a softmax. Some members
output distributions directly: a saliency map divided by its sum is a
distribution over the pixels of a frame. For those, this module holds the
``eps``-stabilised KL divergence of the MIT saliency benchmark::

    KL(P || Q) = sum_c P_c * log(eps + P_c / (Q_c + eps))

which stays finite where ``Q`` is zero and is exactly zero where ``P`` is,
and the generalised KL divergence of positive values,
``P log(P / Q) - P + Q``, non-negative in every summand. The KD terms
between members' distributions are :func:`~bikd_mm.core.kd_term.kd_terms`
with ``input_kind='probs'`` (:func:`distribution_kl_terms` is that call).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

#: MATLAB's ``eps``, the value used by the saliency benchmark code.
MATLAB_EPS = 2.2204e-16


def distribution_kl(
    p: Tensor, q: Tensor, dim: int = 1, eps: float = MATLAB_EPS
) -> Tensor:
    """``eps``-stabilised ``KL(p || q)`` along ``dim``.

    Args:
        p (Tensor): Distribution(s) summing to 1 along ``dim``.
        q (Tensor): Distribution(s) of the same shape.
        dim (int): The distribution dimension. Defaults to 1.
        eps (float): Stabiliser. Defaults to 2.2204e-16.

    Returns:
        Tensor: ``sum(p * log(eps + p / (q + eps)))`` along ``dim``; the
        shape of ``p`` without ``dim``.
    """
    if p.shape != q.shape:
        raise ValueError(
            f'p and q must have one shape, got {tuple(p.shape)} and '
            f'{tuple(q.shape)}'
        )
    return (p * torch.log(eps + p / (q + eps))).sum(dim)


def generalized_kl(p: Tensor, q: Tensor, dim: int | None = None) -> Tensor:
    """Generalised KL divergence ``p log(p / q) - p + q`` of positive
    values (unnormalised measures).

    Each summand is non-negative (zero where ``p == q``); where ``p`` and
    ``q`` both sum to 1 along ``dim`` the sum is ``KL(p || q)``.

    Args:
        p (Tensor): Positive values.
        q (Tensor): Positive values of the same shape.
        dim (int | None): Dimension to sum over; None keeps every
            element's summand. Defaults to None.

    Returns:
        Tensor: The summands (``dim=None``) or their sum along ``dim``.

    Raises:
        ValueError: If ``p`` and ``q`` differ in shape.
    """
    if p.shape != q.shape:
        raise ValueError(
            f'p and q must have one shape, got {tuple(p.shape)} and '
            f'{tuple(q.shape)}'
        )
    div = p * torch.log(p / q) - p + q
    return div if dim is None else div.sum(dim)


def distribution_kl_terms(
    probs: Sequence[Tensor],
    teacher: Tensor,
    dim: int = 1,
    eps: float = MATLAB_EPS,
    detach_teacher: bool = False,
    normalize: str = 'all',
    valid: Tensor | None = None,
) -> Tensor:
    """Per-direction KD terms between members' distributions.

    Entry ``[t, s]`` is ``1 / D`` times the sum, over the elements taught
    by member ``t``, of :func:`distribution_kl` ``(p_t, p_s)``. The
    diagonal is zero and ``D`` follows ``normalize`` as in
    :func:`masked_kl_terms` (``'all'``: valid elements, ``'masked'``:
    taught elements, ``'none'``: 1; clamped to at least 1). The inputs are
    used as given: no softmax, no temperature. This is
    :func:`~bikd_mm.core.kd_term.kd_terms` with ``input_kind='probs'``.

    Args:
        probs (Sequence[Tensor]): ``N >= 2`` member distributions of one
            shape, normalised along ``dim`` (e.g. maps ``[B, H * W]``
            divided by their sum); must be finite and non-negative.
        teacher (Tensor): Integer tensor of the element shape (``probs``
            shape without ``dim``): the teaching member per element, ``-1``
            (or any value outside ``[0, N)``) for none. Typically from
            :func:`select_teachers`.
        dim (int): The distribution dimension. Defaults to 1.
        eps (float): Stabiliser of the KL. Defaults to 2.2204e-16.
        detach_teacher (bool): Stop the gradient through the teacher's
            distribution. Defaults to False (both sides learn).
        normalize (str): ``'all'``, ``'masked'`` or ``'none'``. Defaults
            to ``'all'``.
        valid (Tensor | None): Bool mask of the element shape; invalid
            elements are neither distilled nor counted.

    Returns:
        Tensor: ``[N, N]`` tensor; its sum is the total KD loss.

    Raises:
        TypeError: If ``probs`` is not a sequence of tensors, or
            ``teacher`` / ``valid`` have the wrong dtype.
        ValueError: On fewer than two members, mismatched shapes, an
            out-of-range ``dim`` or an unknown ``normalize``.
    """
    from .kd_term import kd_terms

    return kd_terms(
        probs,
        teacher,
        input_kind='probs',
        class_dim=dim,
        eps=eps,
        detach_teacher=detach_teacher,
        normalize=normalize,
        valid=valid,
    ).terms
