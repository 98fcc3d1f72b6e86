"""Per-direction sums of the masked KL with a recomputing backward.

:func:`kl_direction_sums` returns, for log-probabilities of ``N`` members
and a teacher index per element, the ``[N, N]`` matrix whose entry
``[t, s]`` is the sum over the elements taught by ``t`` of
``KL(p_t || p_s)``. It walks the elements in chunks of at most
``chunk_elements`` values per member and keeps nothing of class size for
the backward pass except the inputs themselves (which the log-softmax that
produced them keeps anyway); the backward recomputes ``p_t`` chunk by
chunk. So the term costs a few chunk-sized temporaries instead of several
full-size copies of the logits.

Gradients, per element taught by ``t`` and for a direction weight ``g_ts``
(the incoming gradient of entry ``[t, s]``), with ``lp`` the
log-probabilities treated as free variables::

    d/d lp_s[c] = -g_ts * p_t[c]
    d/d lp_t[c] = sum_s g_ts * p_t[c] * (lp_t[c] - lp_s[c] + 1)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

DEFAULT_CHUNK_ELEMENTS = 2**24


def chunk_slices(
    shape: torch.Size, class_dim: int, max_elements: int
) -> list[tuple]:
    """Index tuples that split a tensor along its non-class dimensions.

    Every chunk keeps the whole class dimension and has at most
    ``max_elements`` values unless one class vector alone is larger.

    Args:
        shape (torch.Size): Shape of the tensor.
        class_dim (int): Its class dimension (non-negative).
        max_elements (int): Largest chunk size in values.

    Returns:
        list[tuple]: One tuple of slices per chunk, in memory order.
    """
    chunks = [[slice(None)] * len(shape)]
    numel = math.prod(shape)
    for dim in range(len(shape)):
        if dim == class_dim or numel <= max_elements or shape[dim] == 0:
            continue
        per_index = numel // shape[dim]
        step = max(1, max_elements // max(per_index, 1))
        chunks = [
            chunk[:dim]
            + [slice(i, min(i + step, shape[dim]))]
            + chunk[dim + 1 :]
            for chunk in chunks
            for i in range(0, shape[dim], step)
        ]
        numel = per_index * min(step, shape[dim])
    return [tuple(chunk) for chunk in chunks]


def _pick_pair(lp1: Tensor, d: Tensor, teach0: Tensor, class_dim: int):
    """``lp_0`` where member 0 teaches, else ``lp_1``, from ``d = lp_0 -
    lp_1`` as ``lp_1 + [teach0] * d`` (one multiply-add: a broadcast
    ``where`` over the class dimension is about twice as slow on CPU)."""
    return torch.addcmul(lp1, teach0.unsqueeze(class_dim).to(d.dtype), d)


def _pick(values: list, masks: list, class_dim: int) -> Tensor:
    """Per element, the value of the member whose mask is set there
    (the last member's where none is)."""
    out = values[-1]
    for value, mask in zip(values[-2::-1], masks[-2::-1]):
        out = torch.where(mask.unsqueeze(class_dim), value, out)
    return out


def chunk_direction_sums(
    chunk: list, t_idx: Tensor, sums: Tensor, class_dim: int
) -> None:
    """Add one chunk's ``KL(p_t || p_s)`` sums to ``sums`` (``[N, N]``).

    Args:
        chunk (list[Tensor]): The chunk of every member's log-probabilities.
        t_idx (Tensor): Teacher per element of the chunk (outside ``[0,
            N)``: none).
        sums (Tensor): ``[N, N]`` float64 accumulator, updated in place.
        class_dim (int): Class dimension of the chunk.
    """
    num = len(chunk)
    teaches = [t_idx == t for t in range(num)]
    if num == 2:
        # Both directions read off one map: lp_t - lp_s = +-d.
        d = chunk[0] - chunk[1]
        p_t = _pick_pair(chunk[1], d, teaches[0], class_dim).exp_()
        kl = p_t.mul_(d).sum(class_dim)
        sums[0, 1] += torch.where(teaches[0], kl, 0).sum(dtype=torch.float64)
        sums[1, 0] -= torch.where(teaches[1], kl, 0).sum(dtype=torch.float64)
        return
    lp_t = _pick(chunk, teaches, class_dim)
    p_t = lp_t.exp()
    for k in range(1, num):
        students = [teaches[(m - k) % num] for m in range(num)]
        lp_s = _pick(chunk, students, class_dim)
        kl = (p_t * (lp_t - lp_s)).sum(class_dim)
        for t in range(num):
            sums[t, (t + k) % num] += torch.where(teaches[t], kl, 0).sum(
                dtype=torch.float64
            )


def chunk_log_prob_grads(
    chunk: list,
    t_idx: Tensor,
    weights: Tensor,
    outs: list,
    class_dim: int,
    detach_teacher: bool = False,
) -> None:
    """One chunk's gradient of the weighted direction sums with respect to
    every member's log-probabilities (see the module docstring).

    Args:
        chunk (list[Tensor]): The chunk of every member's log-probabilities.
        t_idx (Tensor): Teacher per element of the chunk.
        weights (Tensor): ``[N * N]`` incoming gradient of the ``[N, N]``
            sums, flattened.
        outs (list[Tensor | None]): Per member a chunk-shaped tensor that
            is overwritten with its gradient, or None for no gradient.
        class_dim (int): Class dimension of the chunk.
        detach_teacher (bool): No gradient through the teacher's side.
    """
    num = len(chunk)
    if num == 2:
        _pair_log_prob_grads(
            chunk, t_idx, weights, outs, class_dim, detach_teacher
        )
        return
    for out in outs:
        if out is not None:
            out.zero_()
    taught = (t_idx >= 0) & (t_idx < num)
    safe_t = torch.where(taught, t_idx, 0)
    teaches = [t_idx == t for t in range(num)]
    lp_t = _pick(chunk, teaches, class_dim)
    p_t = lp_t.exp()
    weight_sum = torch.zeros_like(t_idx, dtype=lp_t.dtype)
    weighted_lp_s = torch.zeros_like(lp_t)
    for k in range(1, num):
        students = [teaches[(m - k) % num] for m in range(num)]
        # g_ts of each element's offset-k direction, 0 if untaught.
        w = torch.where(
            taught, weights[safe_t * num + (safe_t + k) % num], 0
        ).unsqueeze(class_dim)
        for m, out in enumerate(outs):
            if out is not None:
                out -= torch.where(
                    students[m].unsqueeze(class_dim), w * p_t, 0
                )
        if not detach_teacher:
            weight_sum = weight_sum + w.squeeze(class_dim)
            weighted_lp_s += w * _pick(chunk, students, class_dim)
    if detach_teacher:
        return
    g_t = p_t * (weight_sum.unsqueeze(class_dim) * (lp_t + 1) - weighted_lp_s)
    for m, out in enumerate(outs):
        if out is not None:
            out += torch.where(teaches[m].unsqueeze(class_dim), g_t, 0)


def _pair_log_prob_grads(
    chunk, t_idx, weights, outs, class_dim, detach_teacher
) -> None:
    """:func:`chunk_log_prob_grads` for two members, with ``d = lp_0 -
    lp_1``::

        q = g_ts * p_t
        grad_0 = q * (d + 1) where 0 teaches, -q where 1 teaches
        grad_1 = q * (1 - d) where 1 teaches, -q where 0 teaches

    each computed in its output with in-place operations, so the only
    chunk-sized temporary is ``q``.
    """
    lp0, lp1 = chunk
    out0, out1 = outs
    teach0 = (t_idx == 0).unsqueeze(class_dim)
    teach1 = (t_idx == 1).unsqueeze(class_dim)
    # Element weight g_ts of its direction; 0 where nobody teaches.
    w = torch.where(
        t_idx == 0, weights[1], torch.where(t_idx == 1, weights[2], 0)
    ).unsqueeze(class_dim)
    if detach_teacher:
        q = torch.where(teach0, lp0, lp1).exp_().mul_(w)
        for out, student in ((out0, teach1), (out1, teach0)):
            if out is not None:
                torch.mul(q, student, out=out).neg_()
        return
    # d in out0 (or out1). grad_0 = q + q * x_0 with x_0 = d where 0
    # teaches, else -2; grad_1 = q - q * x_1 with x_1 = d where 1 teaches,
    # else 2; each x_m is written into out_m and combined in place.
    d = out0 if out0 is not None else out1
    torch.sub(lp0, lp1, out=d)
    q = _pick_pair(lp1, d, t_idx == 0, class_dim).exp_().mul_(w)
    if out1 is not None:
        # new_full fills on the device; new_tensor would copy from the
        # host and wait for the GPU.
        torch.where(teach1, d, d.new_full((), 2.0), out=out1)
        torch.addcmul(q, q, out1, value=-1, out=out1)
    if out0 is not None:
        out0.masked_fill_(~teach0, -2)
        torch.addcmul(q, q, out0, out=out0)


class _KLDirectionSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, teacher, class_dim, chunk_elements, detach_teacher, *lps):
        num = len(lps)
        ctx.class_dim = class_dim
        ctx.detach_teacher = detach_teacher
        ctx.chunks = chunk_slices(lps[0].shape, class_dim, chunk_elements)
        ctx.save_for_backward(teacher, *lps)
        sums = torch.zeros(
            num, num, dtype=torch.float64, device=teacher.device
        )
        for index in ctx.chunks:
            chunk_direction_sums(
                [lp[index] for lp in lps],
                teacher[element_index(index, class_dim)],
                sums,
                class_dim,
            )
        return sums.to(lps[0].dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_sums):
        teacher, *lps = ctx.saved_tensors
        class_dim = ctx.class_dim
        needs = ctx.needs_input_grad[4:]
        if not any(needs):
            return (None,) * (4 + len(lps))
        grads = [
            torch.empty_like(lp) if n else None for lp, n in zip(lps, needs)
        ]
        weights = grad_sums.to(lps[0].dtype).flatten()
        for index in ctx.chunks:
            chunk_log_prob_grads(
                [lp[index] for lp in lps],
                teacher[element_index(index, class_dim)],
                weights,
                [None if g is None else g[index] for g in grads],
                class_dim,
                ctx.detach_teacher,
            )
        return (None, None, None, None, *grads)


def element_index(index: tuple, class_dim: int) -> tuple:
    """The chunk's index into an element-shaped tensor."""
    return index[:class_dim] + index[class_dim + 1 :]


def kl_direction_sums(
    lps: list[Tensor],
    teacher: Tensor,
    class_dim: int,
    detach_teacher: bool = False,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """``[N, N]`` sums of ``KL(p_t || p_s)`` over the elements ``t`` teaches.

    Args:
        lps (list[Tensor]): ``N`` log-probability tensors of one shape.
        teacher (Tensor): Integer teacher per element (element shape), any
            value outside ``[0, N)`` for none.
        class_dim (int): Non-negative class dimension of ``lps``.
        detach_teacher (bool): No gradient through the teacher's side.
        chunk_elements (int): Largest number of values per member that one
            chunk of the computation touches.

    Returns:
        Tensor: ``[N, N]`` in the dtype of ``lps``, zero diagonal.
    """
    if chunk_elements < 1:
        raise ValueError(f'chunk_elements must be >= 1, got {chunk_elements}')
    return _KLDirectionSums.apply(
        teacher.long(), class_dim, chunk_elements, detach_teacher, *lps
    )
