"""The Bi-KD distillation term: one entry point, one ``kernel=`` switch.

On every element (a sample, a pixel or an image) the teaching member ``t``
distils into every other member ``s``. For ``N`` members the term is the
``[N, N]`` matrix::

    terms[t, s] = T**2 / D * sum over the elements taught by t of
                  KL(p_t || p_s)

with ``p = softmax(z / T)`` of each member's logits ``z`` (or each
member's distribution as given), ``D`` the count that ``normalize`` names
and a zero diagonal. The sum of the terms is the KD loss; each entry is
one direction's loss (``kd.loss_<t>_to_<s>``). With ``mutual=True`` every
member teaches every valid element (Deep Mutual Learning).

:func:`kd_terms` is the one function the Bi-KD models call for it. Its
``kernel`` picks how the term is computed; every kernel gives the same
values and gradients up to rounding (``tests/core/test_core_kd_term.py``
checks each against ``'reference'``):

- ``'reference'``: the formula above in plain PyTorch: one element-wise
  divergence map per direction, summed under the teacher mask, autograd
  for the gradient. The one to check the method against; it keeps every
  map for the backward pass.
- ``'chunked'``: chunked PyTorch with a recomputing backward, a few
  chunk-sized temporaries instead of full-size maps
  (:func:`~bikd_mm.core.masked_kl.masked_kl_terms` and
  :func:`~bikd_mm.core.mutual_kl.mutual_kl_terms` over
  :mod:`~bikd_mm.core.kl_sums`; with ``labels``
  :func:`~bikd_mm.core.ce_masked_kl.ce_and_masked_kl_terms`, which keeps
  only the logits for the backward pass). ``'torch'`` is its former name.
- ``'triton'``: with ``labels``, the fused Triton kernels
  (:mod:`~bikd_mm.core.ce_masked_kl_triton` for a pair with a per-element
  :class:`~bikd_mm.core.selection.LowestScoreRule`,
  :mod:`~bikd_mm.core.ce_masked_kl_triton_n` for 2 to 4 members and any
  selection); an error where neither applies.
- ``'auto'``: what the models use by default: with ``labels`` the Triton
  kernels for CUDA logits they take, else ``'chunked'``; logits without
  labels ``'chunked'``; distributions ``'reference'``.

With ``labels`` (dense members), the function also returns each member's
per-element cross-entropy (differentiable) and top-1 class, and the
teacher may be a function of those cross-entropies, so that the fused
kernels read the logits once for all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ._checks import (
    check_index_tensor,
    check_mask,
    check_members,
    class_dim_index,
    element_shape,
    log_probs,
)
from .ce_masked_kl import ce_and_masked_kl_terms
from .distribution_kl import MATLAB_EPS, distribution_kl, generalized_kl
from .masked_kl import check_kl_options, masked_kl_terms, scale_terms
from .mutual_kl import mutual_kl_terms
from .task_losses import pixel_cross_entropy

KERNELS = ('reference', 'chunked', 'triton', 'auto')
#: Former kernel names, still accepted.
KERNEL_ALIASES = {'torch': 'chunked'}
#: Every accepted ``kernel`` value.
KERNEL_NAMES = (*KERNELS, *KERNEL_ALIASES)
INPUT_KINDS = ('logits', 'log_probs', 'probs')
DIVERGENCES = ('kl', 'generalized_kl')


class KDTerms(NamedTuple):
    """What :func:`kd_terms` returns.

    Attributes:
        terms (Tensor): ``[N, N]``, entry ``[t, s]`` the loss of direction
            ``t -> s``, zero diagonal; differentiable.
        teacher (Tensor): Teaching member per element (element shape),
            ``-1`` where nobody teaches (invalid elements included). With
            ``mutual=True`` it is the given (or selected) teacher, for the
            record only.
        ce (Tensor | None): With ``labels``: each member's cross-entropy
            per element ``[N, *E]``, 0 on ignored elements;
            differentiable. Else None.
        preds (list | None): With ``labels``: per member its first
            arg-max class per element, or None where ``predict`` is
            False. Else None.
    """

    terms: Tensor
    teacher: Tensor
    ce: Tensor | None = None
    preds: list | None = None


def kd_terms(
    inputs: Sequence[Tensor],
    teacher: Tensor | Callable[[Tensor], Tensor],
    kernel: str = 'auto',
    *,
    input_kind: str = 'logits',
    divergence: str = 'kl',
    mutual: bool = False,
    class_dim: int = 1,
    temperature: float = 1.0,
    detach_teacher: bool = False,
    normalize: str = 'all',
    valid: Tensor | None = None,
    eps: float = MATLAB_EPS,
    labels: Tensor | None = None,
    ignore_index: int | None = 255,
    per_element: bool = False,
    predict: bool | Sequence[bool] = False,
    chunk_elements: int | None = None,
) -> KDTerms:
    """The ``[N, N]`` Bi-KD terms ``KL(p_t || p_s)`` where ``t`` teaches.

    Entry ``[t, s]`` is ``T**2 / D`` times the sum, over the valid
    elements taught by member ``t``, of the divergence of member ``s``'s
    distribution from member ``t``'s. ``D`` follows ``normalize``:
    ``'all'`` the valid elements (the reference), ``'masked'`` the taught
    ones (with ``mutual``, the valid ones), ``'none'`` 1; at least 1, so
    with nothing taught every term is a zero still connected to the graph.

    Args:
        inputs (Sequence[Tensor]): ``N >= 2`` members' outputs of one
            shape, classes along ``class_dim``; finite. What they are is
            ``input_kind``.
        teacher (Tensor | Callable): The teaching member per element: an
            integer tensor of the element shape (``inputs`` shape without
            ``class_dim``), any value outside ``[0, N)`` for none
            (typically from :func:`select_teachers`). With ``labels`` it
            may instead be a selector that maps the detached ``[N, *E]``
            cross-entropies (0 on ignored elements) to that tensor; it
            runs without gradient.
        kernel (str): How the term is computed, one of :data:`KERNELS`
            (see the module docstring). Defaults to ``'auto'``.
        input_kind (str): ``'logits'``; ``'log_probs'``, log-softmax
            outputs at temperature 1 (saves recomputing those the task
            loss needed; any ``temperature`` still applies); or
            ``'probs'``, distributions normalised along ``class_dim``
            (e.g. saliency maps divided by their sum), used as given: no
            softmax, no temperature. Defaults to ``'logits'``.
        divergence (str): ``'kl'``: ``KL(p || q) = sum_c p_c log(p_c /
            q_c)``; for ``'probs'`` the ``eps``-stabilised form of the
            MIT saliency benchmark, ``sum_c p_c log(eps + p_c / (q_c +
            eps))`` (:func:`distribution_kl`). ``'generalized_kl'``
            (``'probs'`` only): ``sum_c p_c log(p_c / q_c) - p_c + q_c``
            of positive inputs, non-negative in every summand
            (:func:`generalized_kl`). Defaults to ``'kl'``.
        mutual (bool): Every member teaches every other on every valid
            element (Deep Mutual Learning); ``teacher`` then only fills
            :attr:`KDTerms.teacher`. Defaults to False.
        class_dim (int): Class (distribution) dimension. Defaults to 1.
        temperature (float): Softmax temperature ``T > 0``; the terms are
            multiplied by ``T**2``. 1 for ``'probs'``. With ``labels`` the
            cross-entropy is always at ``T = 1``. Defaults to 1.0.
        detach_teacher (bool): No gradient through the teaching side of
            each direction, so that only students learn from the term.
            Defaults to False (both sides learn; the reference).
        normalize (str): ``'all'``, ``'masked'`` or ``'none'``, see above.
            Defaults to ``'all'``.
        valid (Tensor | None): Bool mask of the element shape: elements
            neither distilled nor counted where False. None means all.
            With ``labels`` it is ``labels != ignore_index`` and must not
            be given. Defaults to None.
        eps (float): Stabiliser of the ``'probs'`` KL. Defaults to
            2.2204e-16 (MATLAB's ``eps``).
        labels (Tensor | None): Integer label per element (``'logits'``
            only): a class in ``[0, C)`` or ``ignore_index``. Adds each
            member's cross-entropy and top-1 class to the result and
            allows a selector as ``teacher``. Defaults to None.
        ignore_index (int | None): With ``labels``, the label of elements
            that are neither trained nor taught. Defaults to 255.
        per_element (bool): With ``labels``, whether the selector decides
            each element from that element's cross-entropies alone (the
            lowest per pixel): the chunked and Triton kernels then call it
            on chunks and compute the KL in the same pass. Defaults to
            False.
        predict (bool | Sequence[bool]): With ``labels``, for which
            members (one bool for all) to return the top-1 class.
            Defaults to False.
        chunk_elements (int | None): Largest number of values per member
            one chunk of the ``'chunked'`` kernel touches. None: its
            default.

    Returns:
        KDTerms: ``terms``, ``teacher`` and, with ``labels``, ``ce`` and
        ``preds``.

    Raises:
        TypeError: If ``inputs`` is not a sequence of tensors, or
            ``teacher`` / ``valid`` / ``labels`` have the wrong dtype.
        ValueError: If ``kernel``, ``input_kind``, ``divergence`` or
            ``normalize`` is unknown, the kernel cannot compute the call
            (the message says why), there are fewer than two members,
            shapes mismatch, ``temperature <= 0`` or the selector returns
            another shape.
    """
    kernel = _kernel_name(kernel)
    _check_kinds(input_kind, divergence, temperature, labels, valid)
    check_kl_options(normalize, temperature)
    if labels is None:
        if callable(teacher):
            raise ValueError(
                'teacher is a selector of the cross-entropies, which needs '
                'labels; pass labels= or a teacher index tensor'
            )
        if per_element or predict is not False:
            raise ValueError(
                'per_element and predict apply with labels only, got '
                f'per_element={per_element!r}, predict={predict!r} and no '
                'labels'
            )
    options = dict(
        class_dim=class_dim,
        temperature=temperature,
        detach_teacher=detach_teacher,
        normalize=normalize,
    )
    if labels is not None:
        return _with_labels(
            inputs,
            teacher,
            kernel,
            labels,
            dict(
                options,
                ignore_index=ignore_index,
                per_element=per_element,
                predict=predict,
                mutual=mutual,
                chunk_elements=chunk_elements,
            ),
        )
    return _without_labels(
        inputs,
        teacher,
        kernel,
        valid,
        dict(
            options,
            input_kind=input_kind,
            divergence=divergence,
            mutual=mutual,
            eps=eps,
            chunk_elements=chunk_elements,
        ),
    )


def _without_labels(inputs, teacher, kernel, valid, options) -> KDTerms:
    """The terms from a teacher index per element."""
    input_kind = name = options['input_kind']
    mutual = options['mutual']
    members = check_members(inputs, name)
    dim = class_dim_index(members[0].dim(), options['class_dim'], name)
    shape = element_shape(members[0].shape, dim)
    check_index_tensor(teacher, shape, 'teacher')
    check_mask(valid, shape, 'valid')
    taught = (teacher >= 0) & (teacher < len(members))
    if valid is not None:
        taught &= valid
    chosen = torch.where(taught, teacher.long(), -1)
    if input_kind == 'probs':
        if kernel not in ('reference', 'auto'):
            raise ValueError(
                f'kernel={kernel!r} computes the KL of softmax outputs; '
                f"input_kind='probs' takes kernel='reference' or 'auto'"
            )
        kernel = 'reference'
    elif kernel == 'triton':
        raise ValueError(
            "kernel='triton' computes the cross-entropy, the teachers "
            'and the KL in one pass from labels; pass labels= or use '
            "kernel='chunked' or 'auto'"
        )
    if kernel == 'reference':
        terms = _reference_terms(
            members,
            chosen,
            input_kind,
            options['divergence'],
            mutual,
            dim,
            options['temperature'],
            options['detach_teacher'],
            options['normalize'],
            valid,
            options['eps'],
        )
    else:
        terms = _chunked_terms(members, chosen, valid, options)
    return KDTerms(terms, chosen)


def _kernel_name(kernel: str) -> str:
    """``kernel`` with a former name replaced, refused if unknown."""
    if kernel not in KERNEL_NAMES:
        raise ValueError(
            f'kernel must be one of {KERNELS} (or {tuple(KERNEL_ALIASES)}, '
            f"the former name of 'chunked'), got {kernel!r}"
        )
    return KERNEL_ALIASES.get(kernel, kernel)


def _check_kinds(input_kind, divergence, temperature, labels, valid) -> None:
    """Refuse unknown or contradictory input and divergence options."""
    if input_kind not in INPUT_KINDS:
        raise ValueError(
            f'input_kind must be one of {INPUT_KINDS}, got {input_kind!r}'
        )
    if divergence not in DIVERGENCES:
        raise ValueError(
            f'divergence must be one of {DIVERGENCES}, got {divergence!r}'
        )
    if divergence == 'generalized_kl' and input_kind != 'probs':
        raise ValueError(
            "divergence='generalized_kl' compares positive values as "
            f"given and needs input_kind='probs', got {input_kind!r}"
        )
    if input_kind == 'probs' and temperature != 1.0:
        raise ValueError(
            "input_kind='probs' is used as given and takes no "
            f'temperature, got temperature={temperature!r}'
        )
    if labels is not None:
        if input_kind != 'logits':
            raise ValueError(
                "labels (for the cross-entropy) need input_kind='logits', "
                f'got {input_kind!r}'
            )
        if valid is not None:
            raise ValueError(
                'with labels the valid elements are labels != ignore_index; '
                'valid must be None'
            )


def _distribution(x: Tensor, input_kind: str, dim: int, temperature: float):
    """A member's distribution in the form its divergence reads: log-
    probabilities at ``temperature``, or the probabilities as given."""
    if input_kind == 'probs':
        return x
    return log_probs(x, dim, input_kind == 'log_probs', temperature)


def _divergence(p_t, p_s, input_kind, divergence, dim, eps) -> Tensor:
    """Per element, the divergence of the student's distribution ``p_s``
    from the teacher's ``p_t`` (log-probabilities unless ``'probs'``)."""
    if input_kind != 'probs':
        return (p_t.exp() * (p_t - p_s)).sum(dim)
    if divergence == 'kl':
        return distribution_kl(p_t, p_s, dim, eps)
    return generalized_kl(p_t, p_s, dim)


def _reference_terms(
    members: list,
    teacher: Tensor,
    input_kind: str,
    divergence: str,
    mutual: bool,
    dim: int,
    temperature: float,
    detach_teacher: bool,
    normalize: str,
    valid: Tensor | None,
    eps: float,
) -> Tensor:
    """The terms from the formula: per direction ``t -> s`` the divergence
    map of every element, summed where ``t`` teaches (``teacher``: ``-1``
    where nobody does), then scaled and normalised."""
    num = len(members)
    dists = [_distribution(m, input_kind, dim, temperature) for m in members]
    everywhere = (
        torch.ones_like(teacher, dtype=torch.bool) if valid is None else valid
    )
    zero = dists[0].new_zeros(())
    rows = []
    for t in range(num):
        teaches = everywhere if mutual else teacher == t
        p_t = dists[t].detach() if detach_teacher else dists[t]
        row = []
        for s in range(num):
            if s == t:
                row.append(zero)
                continue
            div = _divergence(p_t, dists[s], input_kind, divergence, dim, eps)
            # where (not a product) keeps untaught elements out of the
            # value and the gradient.
            row.append(torch.where(teaches, div, 0).sum())
        rows.append(torch.stack(row))
    taught = everywhere if mutual else teacher >= 0
    return scale_terms(
        torch.stack(rows), temperature, normalize, valid, taught
    )


def _chunked_terms(members, teacher, valid, options) -> Tensor:
    """The ``'chunked'`` kernel without labels."""
    kwargs = {
        k: options[k]
        for k in ('class_dim', 'temperature', 'detach_teacher', 'normalize')
    }
    kwargs.update(
        valid=valid, from_log_probs=options['input_kind'] == 'log_probs'
    )
    if options['chunk_elements'] is not None:
        kwargs['chunk_elements'] = options['chunk_elements']
    if options['mutual']:
        return mutual_kl_terms(members, **kwargs)
    return masked_kl_terms(members, teacher, **kwargs)


def _with_labels(inputs, teacher, kernel, labels, opts) -> KDTerms:
    """Cross-entropy, teachers, terms and predictions of dense members."""
    select = teacher
    if isinstance(teacher, Tensor):

        def select(ce: Tensor) -> Tensor:
            return teacher

    if kernel == 'reference':
        return _reference_with_labels(inputs, select, labels, opts)
    if opts['chunk_elements'] is None:
        opts.pop('chunk_elements')
    ce, terms, chosen, preds = ce_and_masked_kl_terms(
        inputs,
        labels,
        select,
        kernel='torch' if kernel == 'chunked' else kernel,
        **opts,
    )
    return KDTerms(terms, chosen, ce, preds)


def _reference_with_labels(inputs, select, labels, opts) -> KDTerms:
    """``'reference'`` with labels: each member's cross-entropy from its
    log-softmax, the selector's teachers (none where the label is
    ignored), then :func:`_reference_terms`. Half-precision logits are
    computed in float32, as by the other kernels."""
    members = check_members(inputs, 'logits')
    num = len(members)
    dim = class_dim_index(members[0].dim(), opts['class_dim'], 'logits')
    shape = element_shape(members[0].shape, dim)
    check_index_tensor(labels, shape, 'labels')
    predict = opts['predict']
    if isinstance(predict, bool):
        predict = [predict] * num
    if len(predict) != num:
        raise ValueError(
            f'predict has {len(predict)} entries for {num} members'
        )
    dtype = torch.promote_types(members[0].dtype, torch.float32)
    zs = [z.to(dtype) for z in members]
    labels = labels.long()
    ignore_index = opts['ignore_index']
    ce = torch.stack(
        [pixel_cross_entropy(z, labels, ignore_index, dim) for z in zs]
    )
    valid = None if ignore_index is None else labels != ignore_index
    with torch.no_grad():
        chosen = select(ce.detach()).long()
    if chosen.shape != shape:
        raise ValueError(
            f'select returned teachers of shape {tuple(chosen.shape)}, '
            f'expected {tuple(shape)}'
        )
    taught = (chosen >= 0) & (chosen < num)
    if valid is not None:
        taught &= valid
    chosen = torch.where(taught, chosen, -1)
    preds = [
        z.argmax(dim) if want else None for z, want in zip(members, predict)
    ]
    terms = _reference_terms(
        zs,
        chosen,
        'logits',
        'kl',
        opts['mutual'],
        dim,
        opts['temperature'],
        opts['detach_teacher'],
        opts['normalize'],
        valid,
        MATLAB_EPS,
    )
    return KDTerms(terms, chosen, ce, preds)
