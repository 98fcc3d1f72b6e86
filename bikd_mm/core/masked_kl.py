"""Knowledge distillation from the per-element teacher to the others.

On every element the teaching member ``t`` (see :func:`select_teachers`)
distils into every other member ``s`` with ``KL(p_t || p_s)``. The result is
available as one scalar (:func:`masked_kl`) or as an ``[N, N]`` matrix of
per-direction terms (:func:`masked_kl_terms`) whose sum is that scalar.

Cost: each member's log-softmax is computed once (and can be shared with the
task loss, ``from_log_probs``). The per-direction sums come from
:func:`~bikd_mm.core.kl_sums.kl_direction_sums`, which walks the elements in
chunks and recomputes the teacher's probabilities in its backward pass, so
the term keeps no full-size tensor of its own for the backward: its memory
is a few chunk-sized temporaries.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._checks import (
    check_index_tensor,
    check_mask,
    check_members,
    check_tensor,
    class_dim_index,
    element_shape,
    log_probs,
)
from .kl_sums import DEFAULT_CHUNK_ELEMENTS, kl_direction_sums

NORMALIZE_MODES = ('all', 'masked', 'none')


def check_kl_options(normalize: str, temperature: float) -> None:
    """Refuse an unknown ``normalize`` or a temperature that is not > 0."""
    if normalize not in NORMALIZE_MODES:
        raise ValueError(
            f'normalize must be one of {NORMALIZE_MODES}, got {normalize!r}'
        )
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature!r}')


def scale_terms(
    sums: Tensor,
    temperature: float,
    normalize: str,
    valid: Tensor | None,
    taught: Tensor,
) -> Tensor:
    """Per-direction KL sums -> terms: times ``T^2``, divided by the valid
    elements (``'all'``; every element if ``valid`` is None), the taught
    ones (``'masked'``) or 1 (``'none'``), at least 1."""
    if normalize == 'all':
        count = taught.numel() if valid is None else valid.sum()
    elif normalize == 'masked':
        count = taught.sum()
    else:
        count = 1
    if isinstance(count, Tensor):
        count = count.clamp_min(1).to(sums.dtype)
    else:
        count = max(count, 1)
    return sums * (temperature**2) / count


def masked_kl_terms(
    logits: Sequence[Tensor],
    teacher: Tensor,
    class_dim: int = 1,
    temperature: float = 1.0,
    detach_teacher: bool = False,
    normalize: str = 'all',
    valid: Tensor | None = None,
    from_log_probs: bool = False,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """Per-direction knowledge distillation terms.

    Entry ``[t, s]`` is ``T**2 / D`` times the sum, over the elements taught
    by member ``t``, of ``KL(p_t || p_s)`` with ``p = softmax(z / T)`` over
    ``class_dim``. The diagonal is zero. ``D`` depends on ``normalize``:

    - ``'all'`` (reference): the number of valid elements, whether taught
      or not.
    - ``'masked'``: the number of valid elements that have a teacher.
    - ``'none'``: 1, i.e. the plain sum.

    ``D`` is clamped to at least 1, so with no valid (or, for ``'masked'``,
    no taught) element every term is a zero that is still connected to the
    graph and back-propagates finite (zero) gradients.

    The entries can be used directly as loss terms: their sum is
    :func:`masked_kl`, with the same gradients.

    Args:
        logits (Sequence[Tensor]): ``N >= 2`` member logits of one shape,
            classes along ``class_dim``; must be finite.
        teacher (Tensor): Integer tensor of the element shape (``logits``
            shape without ``class_dim``) holding the teaching member per
            element. ``-1`` (or any value outside ``[0, N)``) means no
            teacher. Typically the output of :func:`select_teachers`.
        class_dim (int): Class dimension of ``logits``. Defaults to 1.
        temperature (float): Softmax temperature ``T > 0``; logits are
            divided by ``T`` and the loss multiplied by ``T**2``. Defaults to
            1.0 (reference).
        detach_teacher (bool): Whether to stop the gradient through the
            teacher's distribution so that only students learn from the KD
            term. Defaults to False (reference: both sides receive
            gradient).
        normalize (str): ``'all'``, ``'masked'`` or ``'none'``, see above.
            Defaults to ``'all'``.
        valid (Tensor | None): Bool mask of the element shape; invalid
            elements are neither distilled nor counted. ``None`` means all
            are valid.
        from_log_probs (bool): Whether ``logits`` already are
            log-probabilities over ``class_dim`` (``log_softmax`` at
            temperature 1), which saves recomputing them when the task loss
            already needed them. Any ``temperature`` still applies.
            Defaults to False.
        chunk_elements (int): Largest number of values per member that
            one chunk of the computation touches (see
            :func:`~bikd_mm.core.kl_sums.kl_direction_sums`). Defaults to
            2**24.

    Returns:
        Tensor: ``[N, N]`` tensor of the logits' dtype.

    Raises:
        TypeError: If ``logits`` is not a sequence of tensors, or
            ``teacher`` / ``valid`` have the wrong dtype.
        ValueError: If there are fewer than two members, shapes mismatch,
            ``class_dim`` is out of range, ``temperature <= 0`` or
            ``normalize`` is unknown.
    """
    members = check_members(logits, 'logits')
    num = len(members)
    class_dim = class_dim_index(members[0].dim(), class_dim, 'logits')
    elem_shape = element_shape(members[0].shape, class_dim)
    check_index_tensor(teacher, elem_shape, 'teacher')
    check_mask(valid, elem_shape, 'valid')
    check_kl_options(normalize, temperature)

    lps = [
        log_probs(m, class_dim, from_log_probs, temperature) for m in members
    ]
    taught = (teacher >= 0) & (teacher < num)
    if valid is not None:
        taught &= valid

    teacher = torch.where(taught, teacher.long(), -1)
    terms = kl_direction_sums(
        lps,
        teacher,
        class_dim,
        detach_teacher=detach_teacher,
        chunk_elements=chunk_elements,
    )

    return scale_terms(terms, temperature, normalize, valid, taught)


def masked_kl(
    logits: Sequence[Tensor],
    teacher: Tensor,
    class_dim: int = 1,
    temperature: float = 1.0,
    detach_teacher: bool = False,
    normalize: str = 'all',
    valid: Tensor | None = None,
    from_log_probs: bool = False,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """Knowledge distillation loss from each element's teacher.

    For each element with teacher ``t``, ``KL(p_t || p_s)`` is summed over
    every other member ``s``; the total is normalised as described in
    :func:`masked_kl_terms` and scaled by ``temperature**2``. With two
    members, ``teacher`` from :func:`select_teachers` on
    :func:`gt_confidence` and the defaults this is the reference
    ``mean(mask_A * KL(p_A || p_B) + mask_B * KL(p_B || p_A))``.

    Args:
        logits (Sequence[Tensor]): ``N >= 2`` member logits of one shape.
        teacher (Tensor): Integer teacher index per element, ``-1`` for
            none.
        class_dim (int): Class dimension of ``logits``. Defaults to 1.
        temperature (float): Softmax temperature. Defaults to 1.0.
        detach_teacher (bool): Stop the gradient through the teacher.
            Defaults to False.
        normalize (str): ``'all'``, ``'masked'`` or ``'none'``. Defaults to
            ``'all'``.
        valid (Tensor | None): Bool mask of the element shape. Defaults to
            None (all valid).
        from_log_probs (bool): Whether ``logits`` are log-probabilities.
            Defaults to False.
        chunk_elements (int): See :func:`masked_kl_terms`.

    Returns:
        Tensor: Scalar loss, the sum of :func:`masked_kl_terms`.

    Raises:
        TypeError: See :func:`masked_kl_terms`.
        ValueError: See :func:`masked_kl_terms`.
    """
    return masked_kl_terms(
        logits,
        teacher,
        class_dim=class_dim,
        temperature=temperature,
        detach_teacher=detach_teacher,
        normalize=normalize,
        valid=valid,
        from_log_probs=from_log_probs,
        chunk_elements=chunk_elements,
    ).sum()


def binary_to_two_class(mask_logits: Tensor, class_dim: int = 1) -> Tensor:
    """Two-class logits whose softmax is ``[sigmoid(x), 1 - sigmoid(x)]``.

    Lets binary (sigmoid) outputs such as saliency masks use
    :func:`masked_kl`, which then computes the Bernoulli KL divergence.
    ``x`` is paired with 0, not with ``-x`` (whose softmax would be
    ``sigmoid(2 x)``).

    Args:
        mask_logits (Tensor): Binary logits with size 1 along ``class_dim``.
        class_dim (int): The singleton class dimension. Defaults to 1.

    Returns:
        Tensor: Logits with size 2 along ``class_dim``; index 0 is the
        positive class.

    Raises:
        ValueError: If ``mask_logits`` has no singleton ``class_dim``.
    """
    check_tensor(mask_logits, 'mask_logits')
    class_dim = class_dim_index(mask_logits.dim(), class_dim, 'mask_logits')
    if mask_logits.shape[class_dim] != 1:
        raise ValueError(
            f'mask_logits must have size 1 along class_dim={class_dim}, got '
            f'shape {tuple(mask_logits.shape)}'
        )
    return torch.cat([mask_logits, torch.zeros_like(mask_logits)], class_dim)
