"""Distillation in every direction on every element (mutual learning).

The baseline that Bi-KD's per-element teacher selection is measured
against: Deep Mutual Learning (Zhang et al., CVPR 2018) distils every
member into every other on every element, ``KL(p_t || p_s)`` for all
``t != s``, with no mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._checks import check_members, class_dim_index, element_shape
from .kl_sums import DEFAULT_CHUNK_ELEMENTS
from .masked_kl import masked_kl_terms


def mutual_kl_terms(
    logits: Sequence[Tensor],
    class_dim: int = 1,
    temperature: float = 1.0,
    detach_teacher: bool = False,
    normalize: str = 'all',
    valid: Tensor | None = None,
    from_log_probs: bool = False,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """Per-direction KD terms with every member teaching every element.

    Entry ``[t, s]`` is ``T**2 / D`` times the sum over the valid elements
    of ``KL(p_t || p_s)``, ``D`` the number of valid elements (``'all'``
    and ``'masked'`` agree here, since every valid element is taught) or 1
    for ``'none'``. The diagonal is zero. This is :func:`masked_kl_terms`
    with member ``t`` teaching everywhere, for each ``t``.

    Args:
        logits (Sequence[Tensor]): ``N >= 2`` member logits of one shape.
        class_dim (int): Class dimension of ``logits``. Defaults to 1.
        temperature (float): Softmax temperature ``T > 0``. Defaults to 1.0.
        detach_teacher (bool): Stop the gradient through the teaching side
            of each term, so that ``KL(p_t || p_s)`` only trains ``s`` (as
            in Deep Mutual Learning). Defaults to False.
        normalize (str): ``'all'``, ``'masked'`` or ``'none'``. Defaults to
            ``'all'``.
        valid (Tensor | None): Bool mask of the element shape. Defaults to
            None (all valid).
        from_log_probs (bool): Whether ``logits`` are log-probabilities.
            Defaults to False.
        chunk_elements (int): See :func:`masked_kl_terms`.

    Returns:
        Tensor: ``[N, N]`` tensor of the logits' dtype.

    Raises:
        TypeError: See :func:`masked_kl_terms`.
        ValueError: See :func:`masked_kl_terms`.
    """
    members = check_members(logits, 'logits')
    dim = class_dim_index(members[0].dim(), class_dim, 'logits')
    shape = element_shape(members[0].shape, dim)
    rows = []
    for t in range(len(members)):
        teacher = torch.full(
            tuple(shape), t, dtype=torch.long, device=members[0].device
        )
        rows.append(
            masked_kl_terms(
                members,
                teacher,
                class_dim=class_dim,
                temperature=temperature,
                detach_teacher=detach_teacher,
                normalize=normalize,
                valid=valid,
                from_log_probs=from_log_probs,
                chunk_elements=chunk_elements,
            )[t]
        )
    return torch.stack(rows)
