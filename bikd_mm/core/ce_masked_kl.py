"""Cross-entropy, teacher selection and masked KL from raw logits at once.

:func:`ce_and_masked_kl_terms` gives, for ``N`` members' logits over the
same elements and one label per element, what a dense Bi-KD step needs:

- each member's per-element cross-entropy (with gradient, so a member's own
  decode loss can be built on it),
- the teacher per element, from a caller's ``select`` function of those
  cross-entropies (per pixel, per image, by another loss, ...),
- the ``[N, N]`` masked KL terms of :func:`masked_kl_terms`,
- each member's top-1 prediction (for accuracies and visualisation).

It saves only the logits for the backward pass and returns the gradient
with respect to them directly: log-softmax, cross-entropy and KL are
recomputed chunk by chunk, and no log-probability tensor of full size is
kept. The straightforward composition (``log_softmax`` per member, then
:func:`pixel_cross_entropy` and :func:`masked_kl_terms`) keeps each
member's log-probabilities for the backward pass and, in it, a gradient of
them beside the gradient of the logits; this function keeps the memory of
the members' stock cross-entropy instead.

Gradients, with ``p = softmax(z)``, ``p^T = softmax(z / T)``, ``g_ce`` the
incoming gradient of the member's cross-entropy on an element with label
``y`` and ``g_kl`` the gradient of the KL terms with respect to the
temperature-``T`` log-probabilities (see :mod:`bikd_mm.core.kl_sums`)::

    d/dz = g_ce * (p - onehot(y)) + (g_kl - p^T * sum_c g_kl) / T
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._checks import (
    check_index_tensor,
    check_members,
    class_dim_index,
    element_shape,
)
from .kl_sums import (
    chunk_direction_sums,
    chunk_log_prob_grads,
    chunk_slices,
    element_index,
)
from .masked_kl import check_kl_options, scale_terms

KERNELS = ('torch', 'triton', 'auto')
#: Most members the Triton kernels take (:mod:`.ce_masked_kl_triton_n`).
MAX_TRITON_MEMBERS = 4

#: Values per member in one chunk: each chunk-sized temporary is 32 MiB in
#: float32, a handful of them live at once.
DEFAULT_FUSED_CHUNK_ELEMENTS = 2**23


def _log_probs(z: Tensor, class_dim: int, temperature: float) -> Tensor:
    if temperature != 1.0:
        z = z / temperature
    return z.log_softmax(class_dim)


class _CEAndMaskedKL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, labels, opts, *logits):
        num = len(logits)
        class_dim, temp = opts['class_dim'], opts['temperature']
        chunks = chunk_slices(
            logits[0].shape, class_dim, opts['chunk_elements']
        )
        valid = (
            torch.ones_like(labels, dtype=torch.bool)
            if opts['ignore_index'] is None
            else labels != opts['ignore_index']
        )
        target = torch.where(valid, labels, 0)
        # Half-precision logits (autocast) are computed in float32.
        dtype = torch.promote_types(logits[0].dtype, torch.float32)
        ce = logits[0].new_empty((num, *labels.shape), dtype=dtype)
        preds = [
            torch.empty_like(labels, dtype=torch.long) if p else None
            for p in opts['predict']
        ]
        teacher = torch.empty_like(labels, dtype=torch.long)
        sums = torch.zeros(num, num, dtype=torch.float64, device=ce.device)

        def teachers(scores: Tensor, valid: Tensor) -> Tensor:
            chosen = opts['select'](scores).long()
            if chosen.shape != valid.shape:
                raise ValueError(
                    f'select returned teachers of shape '
                    f'{tuple(chosen.shape)}, expected {tuple(valid.shape)}'
                )
            taught = (chosen >= 0) & (chosen < num) & valid
            return torch.where(taught, chosen, -1)

        mutual = opts['mutual']

        def add_sums(lps, elem):
            if mutual:
                _mutual_sums(lps, valid[elem], sums, class_dim)
            else:
                chunk_direction_sums(lps, teacher[elem], sums, class_dim)

        # Pass 1: CE (and top-1) of every member; with an element-wise
        # selection also the teachers and the KL, from the same
        # log-probabilities.
        one_pass = opts['per_element'] and temp == 1.0
        for index in chunks:
            elem = element_index(index, class_dim)
            y = target[elem].unsqueeze(class_dim)
            lps = []
            for m, z in enumerate(logits):
                chunk = z[index].to(dtype)
                lp = chunk.log_softmax(class_dim)
                ce[m][elem] = lp.gather(class_dim, y).squeeze(class_dim)
                if preds[m] is not None:
                    preds[m][elem] = chunk.max(class_dim).indices
                if one_pass:
                    lps.append(lp)
            if opts['per_element']:
                ce_chunk = ce[(slice(None), *elem)].neg()
                ce_chunk.masked_fill_(~valid[elem], 0)
                teacher[elem] = teachers(ce_chunk, valid[elem])
                if one_pass:
                    add_sums(lps, elem)
        ce.neg_().masked_fill_(~valid, 0)
        if not opts['per_element']:
            teacher = teachers(ce, valid)
        if not one_pass:
            # Pass 2: the KL from recomputed log-probabilities.
            for index in chunks:
                add_sums(
                    [
                        _log_probs(z[index].to(dtype), class_dim, temp)
                        for z in logits
                    ],
                    element_index(index, class_dim),
                )
        ctx.chunks = chunks
        ctx.class_dim = class_dim
        ctx.temperature = temp
        ctx.detach_teacher = opts['detach_teacher']
        ctx.mutual = mutual
        ctx.save_for_backward(target, valid, teacher, *logits)
        ctx.mark_non_differentiable(
            teacher, *[p for p in preds if p is not None]
        )
        return ce, sums.to(ce.dtype), teacher, *preds

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_ce, grad_sums, *_grad_teacher_preds):
        target, valid, teacher, *logits = ctx.saved_tensors
        none = (None,) * 2
        needs = ctx.needs_input_grad[2:]
        if not any(needs):
            return (*none, *([None] * len(logits)))
        class_dim, temp = ctx.class_dim, ctx.temperature
        dtype = torch.promote_types(logits[0].dtype, torch.float32)
        grads = [
            torch.empty_like(z) if n else None for z, n in zip(logits, needs)
        ]
        weights = grad_sums.to(dtype).flatten()
        grad_ce = torch.where(valid, grad_ce, 0)
        for index in ctx.chunks:
            elem = element_index(index, class_dim)
            y = target[elem].unsqueeze(class_dim)
            zs = [z[index].to(dtype) for z in logits]
            lps_t = [_log_probs(z, class_dim, temp) for z in zs]
            # Each member's gradient is assembled in place in its output.
            outs = [
                None
                if g is None
                else g[index]
                if g.dtype == dtype
                else torch.empty_like(zs[0])
                for g in grads
            ]
            _chunk_grads(
                lps_t,
                teacher[elem],
                valid[elem] if ctx.mutual else None,
                weights,
                outs,
                class_dim,
                ctx.detach_teacher,
            )
            for m, g in enumerate(outs):
                if g is None:
                    continue
                g_ce = grad_ce[m][elem].unsqueeze(class_dim)
                p_t = lps_t[m].exp_()
                if temp == 1.0:
                    # One softmax Jacobian for both: d lp[y] / d lp = onehot.
                    g.scatter_add_(class_dim, y, -g_ce)
                    g.addcmul_(p_t, g.sum(class_dim, keepdim=True), value=-1)
                else:
                    g.addcmul_(p_t, g.sum(class_dim, keepdim=True), value=-1)
                    g.div_(temp).addcmul_(zs[m].softmax(class_dim), g_ce)
                    g.scatter_add_(class_dim, y, -g_ce)
                if grads[m].dtype != dtype:
                    grads[m][index] = g
        return (*none, *grads)


def _mutual_sums(lps: list, valid: Tensor, sums: Tensor, class_dim: int):
    """Add one chunk's ``KL(p_t || p_s)`` sums over its valid elements for
    every direction (every member teaches everywhere)."""
    for t, lp_t in enumerate(lps):
        p_t = lp_t.exp()
        for s, lp_s in enumerate(lps):
            if s != t:
                kl = (p_t * (lp_t - lp_s)).sum(class_dim)
                sums[t, s] += torch.where(valid, kl, 0).sum(
                    dtype=torch.float64
                )


def _mutual_grads(lps, valid, weights, outs, class_dim, detach_teacher):
    """One chunk's gradient of the weighted mutual sums with respect to
    every member's log-probabilities: as a student ``-sum_t g_tm p_t``, as
    a teacher ``p_m (W_m (lp_m + 1) - sum_s g_ms lp_s)`` with ``W_m =
    sum_s g_ms``; zero on invalid elements."""
    num = len(lps)
    w = weights.view(num, num)
    probs = [lp.exp() for lp in lps]
    keep = valid.unsqueeze(class_dim)
    for m, out in enumerate(outs):
        if out is None:
            continue
        out.zero_()
        for t in range(num):
            if t != m:
                out.sub_(probs[t] * w[t, m])
        if not detach_teacher:
            own = lps[m] + 1
            own.mul_(w[m].sum() - w[m, m])
            for s in range(num):
                if s != m:
                    own.sub_(lps[s] * w[m, s])
            out.add_(own.mul_(probs[m]))
        out.masked_fill_(~keep, 0)


def _chunk_grads(
    lps, t_idx, mutual_valid, weights, outs, class_dim, detach_teacher
) -> None:
    """:func:`chunk_log_prob_grads`, or with ``mutual_valid`` (every member
    teaching every valid element) :func:`_mutual_grads`."""
    if mutual_valid is None:
        chunk_log_prob_grads(
            lps, t_idx, weights, outs, class_dim, detach_teacher
        )
    else:
        _mutual_grads(
            lps, mutual_valid, weights, outs, class_dim, detach_teacher
        )


def ce_and_masked_kl_terms(
    logits: list[Tensor],
    labels: Tensor,
    select: Callable[[Tensor], Tensor],
    ignore_index: int | None = 255,
    class_dim: int = 1,
    temperature: float = 1.0,
    detach_teacher: bool = False,
    normalize: str = 'all',
    per_element: bool = False,
    predict: bool | Sequence[bool] = True,
    chunk_elements: int = DEFAULT_FUSED_CHUNK_ELEMENTS,
    kernel: str = 'torch',
    mutual: bool = False,
) -> tuple[Tensor, Tensor, Tensor, list]:
    """Per-element CE, teachers, masked KL terms and predictions.

    Equal in value and gradient to::

        lps = [z.log_softmax(class_dim) for z in logits]
        ce = torch.stack([pixel_cross_entropy(lp, labels, ignore_index,
                                              class_dim, True) for lp in lps])
        teacher = select(ce.detach())     # then -1 where label is ignored
        terms = masked_kl_terms(logits, teacher, class_dim,
                                valid=labels != ignore_index, ...)

    and with ``mutual=True`` row ``t`` of the terms is that of ``t``
    teaching every valid element (:func:`mutual_kl_terms`).

    Args:
        logits (list[Tensor]): ``N >= 2`` members' logits of one shape.
        labels (Tensor): Integer label per element (logits' shape without
            ``class_dim``): a class in ``[0, C)`` or ``ignore_index``. Not
            checked on the device (a check would wait for it): the
            PyTorch path fails on another value, the Triton kernels take
            its cross-entropy as the log-sum-exp (no class).
        select (Callable): Maps the detached ``[N, *E]`` cross-entropies
            (0 on ignored elements) to the teacher per element (``E``,
            integer; values outside ``[0, N)`` for none). Runs without
            gradient. Ignored elements get no teacher whatever it returns.
        ignore_index (int | None): Label of elements that are neither
            trained nor taught. Defaults to 255.
        class_dim (int): Non-negative class dimension. Defaults to 1.
        temperature (float): KL temperature; the terms are multiplied by
            ``T^2``. The cross-entropy is always at ``T = 1``.
        detach_teacher (bool): No KL gradient into the teaching member.
        normalize (str): ``'all'`` (divide by the valid elements),
            ``'masked'`` (by the taught ones) or ``'none'``.
        per_element (bool): Whether ``select`` decides every element from
            that element's cross-entropies alone (e.g. the lowest CE per
            pixel). It is then called on chunks ``[N, *e]`` of the
            elements, and the KL is computed from the same log-softmax as
            the CE (one pass over the logits instead of two). Defaults to
            False (``select`` sees all elements at once, e.g. per image).
        predict (bool | Sequence[bool]): For which members to return the
            top-1 class per element (one bool for all). Defaults to True.
        chunk_elements (int): Largest number of values per member that one
            chunk touches (PyTorch path).
        kernel (str): How it is computed; every choice gives the same
            values and gradients (up to rounding):

            - ``'torch'``: chunked PyTorch, any case.
            - ``'triton'``: fused Triton kernels (class dimension 1, at
              most 1024 classes, float32/16 or bfloat16; on CPU tensors
              they run in Triton's slow interpreter): for two members
              with a :class:`~bikd_mm.core.selection.LowestScoreRule`
              and ``per_element``, the pair kernels of
              :mod:`~bikd_mm.core.ce_masked_kl_triton`; otherwise, for 2
              to 4 members and any ``select`` or ``mutual``, those of
              :mod:`~bikd_mm.core.ce_masked_kl_triton_n`. An error where
              neither applies.
            - ``'auto'``: ``'triton'`` for CUDA tensors it takes, else
              ``'torch'``.

            Defaults to ``'torch'``.
        mutual (bool): Every member teaches every other on every valid
            element (Deep Mutual Learning): the terms are the KL of every
            direction, ``'masked'`` normalises like ``'all'``, and
            ``teacher`` is still ``select``'s (for the record only).
            Defaults to False.

    Returns:
        tuple: ``ce`` ``[N, *E]`` (differentiable), ``terms`` ``[N, N]``
        (differentiable, zero diagonal), ``teacher`` ``E`` (``-1`` where
        nobody teaches) and ``preds``, per member its first arg-max class
        ``E`` or None where ``predict`` is False.

    Raises:
        TypeError: If ``labels`` is not an integer tensor.
        ValueError: If shapes mismatch, ``temperature <= 0``,
            ``normalize`` is unknown, ``select`` returns another shape or
            ``kernel='triton'`` cannot compute the call (the message says
            why).
    """
    members = check_members(logits, 'logits')
    class_dim = class_dim_index(members[0].dim(), class_dim, 'logits')
    elem_shape = element_shape(members[0].shape, class_dim)
    check_index_tensor(labels, elem_shape, 'labels')
    check_kl_options(normalize, temperature)
    if chunk_elements < 1:
        raise ValueError(f'chunk_elements must be >= 1, got {chunk_elements}')
    if isinstance(predict, bool):
        predict = [predict] * len(members)
    if len(predict) != len(members):
        raise ValueError(
            f'predict has {len(predict)} entries for {len(members)} members'
        )
    if kernel not in KERNELS:
        raise ValueError(f'kernel must be one of {KERNELS}, got {kernel!r}')
    opts = dict(
        select=select,
        per_element=per_element,
        predict=list(predict),
        ignore_index=ignore_index,
        class_dim=class_dim,
        temperature=float(temperature),
        detach_teacher=detach_teacher,
        chunk_elements=chunk_elements,
        mutual=bool(mutual),
    )
    path = implementation(kernel, members, opts)
    if path == 'torch':
        ce, sums, teacher, *preds = _CEAndMaskedKL.apply(
            labels.long(), opts, *members
        )
    else:
        if path == 'triton_pair':
            from .ce_masked_kl_triton import pair_ce_and_masked_kl as run
        else:
            from .ce_masked_kl_triton_n import ce_and_masked_kl_n as run
        ce, sums, teacher, *preds = run(members, labels.long(), opts)
        preds = [p if want else None for p, want in zip(preds, predict)]
    valid = None if ignore_index is None else labels != ignore_index
    taught = teacher >= 0
    if mutual:
        taught = torch.ones_like(teacher, dtype=torch.bool)
        if valid is not None:
            taught = valid
    terms = scale_terms(sums, temperature, normalize, valid, taught)
    return ce, terms, teacher, preds


def implementation(kernel: str, members: list, opts: dict) -> str:
    """Which implementation ``kernel`` means for this call: ``'torch'``,
    ``'triton_pair'`` or ``'triton_n'``.

    Raises:
        ValueError: If ``kernel='triton'`` and no Triton kernel takes the
            call (the message says why).
    """
    if kernel == 'torch' or (kernel == 'auto' and not members[0].is_cuda):
        return 'torch'
    from . import ce_masked_kl_triton as pair
    from . import ce_masked_kl_triton_n as multi

    if not opts['mutual']:
        reason = pair.unsupported_reason(
            members, opts['class_dim'], opts['per_element'], opts['select']
        )
        if reason is None:
            return 'triton_pair'
    reason = multi.unsupported_reason(members, opts['class_dim'])
    if reason is None:
        return 'triton_n'
    if kernel == 'triton':
        raise ValueError(f"kernel='triton' cannot run this call: {reason}")
    return 'torch'
