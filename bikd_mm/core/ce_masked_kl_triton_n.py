"""Triton kernels of :func:`ce_and_masked_kl_terms` for 2 to 4 members.

Where :mod:`.ce_masked_kl_triton` fuses the common pair case (two
members, teacher per element by the lowest cross-entropy), these kernels
take any of the teacher choices the wrappers offer:

- a :class:`~bikd_mm.core.selection.LowestScoreRule` decided per element
  inside the kernel (lowest CE with each tie rule, or one fixed member):
  one forward launch;
- a teacher map from any ``select`` function of the cross-entropies (per
  image, by BCE + Dice, by a Mask2Former member's task loss): a first
  launch writes every member's CE and top-1 class, ``select`` runs on the
  ``[N, *E]`` CE in PyTorch, a second launch reads the teacher map and
  computes the KL;
- every member teaching every valid element (``mutual``, Deep Mutual
  Learning).

Each program takes ``BLOCK_S`` consecutive positions of one image with
all classes of every member (logits ``[B, C, *S]``, class dimension 1,
contiguous; the members are a tuple of pointers). The forward writes the
per-element CE, top-1 and teacher and, per program, the ``[N, N]`` partial
KL sums, which one float64 reduction adds up (deterministic, no atomics).
The backward reads the logits once more and writes each member's logit
gradient (CE and KL through one softmax Jacobian), for the members that
need one. As in the pair kernels, nothing waits for the host but a
``select`` function that does.

With ``N`` members' tiles held at once, the GPU autotuning tries tiles of
``1 / N`` of the pair kernels' register budget per member, times two.
"""

from __future__ import annotations

import contextlib
import functools
import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import ce_masked_kl_triton as pair
from .ce_masked_kl import MAX_TRITON_MEMBERS
from .selection import LowestScoreRule

triton = pair.triton
if triton is not None:
    import triton.language as tl

#: Most members the kernels take (their tiles are held at once).
MAX_MEMBERS = MAX_TRITON_MEMBERS
#: Kernel codes of how the teacher is chosen: :class:`LowestScoreRule`'s
#: tie rules and fixed member, a given map, or every member (mutual).
MODE_CODES = {
    'first': 0,
    'last': 1,
    'none': 2,
    'fixed': 3,
    'given': 4,
    'all': 5,
}


def unsupported_reason(logits: list, class_dim: int) -> str | None:
    """Why these kernels cannot compute this call (None if they can).

    Args:
        logits (list[Tensor]): The members' logits.
        class_dim (int): Their (non-negative) class dimension.

    Returns:
        str | None: The reason, or None.
    """
    if not 2 <= len(logits) <= MAX_MEMBERS:
        return f'they take 2 to {MAX_MEMBERS} members, got {len(logits)}'
    return pair.tensor_reason(logits, class_dim)


if triton is not None:

    @triton.jit
    def _positions(
        labels,
        num_classes,
        spatial,
        ignore_index,
        C_PAD: tl.constexpr,
        BLOCK_S: tl.constexpr,
        HAS_IGNORE: tl.constexpr,
    ):
        # This program's positions of one image (one grid axis: the blocks
        # of image 0, then of image 1, ...), their value offsets, masks
        # and labels.
        blocks = tl.cdiv(spatial, BLOCK_S)
        program = tl.program_id(0)
        image = (program // blocks).to(tl.int64)
        pos = (program % blocks) * BLOCK_S + tl.arange(0, BLOCK_S)
        in_range = pos < spatial
        cls = tl.arange(0, C_PAD)
        is_class = (cls < num_classes)[None, :]
        elem = image * spatial + pos
        offs = (
            image * num_classes * spatial
            + cls[None, :].to(tl.int64) * spatial
            + pos[:, None]
        )
        mask = in_range[:, None] & is_class
        y = tl.load(labels + elem, mask=in_range, other=0).to(tl.int64)
        valid = in_range
        if HAS_IGNORE:
            valid = valid & (y != ignore_index)
        onehot = cls[None, :] == tl.where(valid, y, 0)[:, None]
        return elem, offs, in_range, is_class, mask, valid, onehot

    @triton.jit
    def _load_members(zs, offs, mask, is_class, N: tl.constexpr):
        # Every member's float32 logits; padded classes -inf.
        xs = ()
        for m in tl.static_range(N):
            x = tl.load(zs[m] + offs, mask=mask, other=0.0).to(tl.float32)
            xs = xs + (tl.where(is_class, x, -float('inf')),)
        return xs

    @triton.jit
    def _log_softmax_all(xs, scale, N: tl.constexpr):
        out = ()
        for m in tl.static_range(N):
            out = out + (pair._log_softmax(xs[m] * scale),)
        return out

    @triton.jit
    def _pick(values, t, N: tl.constexpr):
        # Per position the value of member t (of the last where t is none).
        out = values[N - 1]
        for m in tl.static_range(N - 1):
            out = tl.where((t == m)[:, None], values[m], out)
        return out

    @triton.jit
    def _lowest(ces, MODE: tl.constexpr, N: tl.constexpr):
        # The lowest cross-entropy teaches, NaN never; ties go to the
        # first (MODE 0), the last (1) or nobody (2) of the tied best.
        best = tl.where(ces[0] != ces[0], -float('inf'), -ces[0])
        for m in tl.static_range(1, N):
            r = tl.where(ces[m] != ces[m], -float('inf'), -ces[m])
            best = tl.maximum(best, r)
        first = tl.zeros(best.shape, tl.int64) + N
        last = tl.zeros(best.shape, tl.int64) - 1
        count = tl.zeros(best.shape, tl.int32)
        for m in tl.static_range(N):
            r = tl.where(ces[m] != ces[m], -float('inf'), -ces[m])
            is_best = (r == best) & (ces[m] == ces[m])
            first = tl.where(is_best & (first == N), m, first)
            last = tl.where(is_best, m, last)
            count += is_best.to(tl.int32)
        if MODE == 0:
            t = tl.where(count > 0, first, -1)
        elif MODE == 1:
            t = last
        else:
            t = tl.where(count == 1, first, -1)
        return t

    @triton.jit
    def _forward(
        zs,
        labels,
        teacher,
        ce,
        preds,
        partial,
        num_classes,
        spatial,
        num_elements,
        ignore_index,
        inv_temp,
        fixed,
        N: tl.constexpr,
        C_PAD: tl.constexpr,
        BLOCK_S: tl.constexpr,
        HAS_IGNORE: tl.constexpr,
        MODE: tl.constexpr,
        ONE_TEMP: tl.constexpr,
        DO_CE: tl.constexpr,
        DO_KL: tl.constexpr,
    ):
        elem, offs, in_range, is_class, mask, valid, onehot = _positions(
            labels,
            num_classes,
            spatial,
            ignore_index,
            C_PAD,
            BLOCK_S,
            HAS_IGNORE,
        )
        xs = _load_members(zs, offs, mask, is_class, N)
        lps = _log_softmax_all(xs, 1.0, N)
        ces = ()
        if DO_CE:
            for m in tl.static_range(N):
                ce_m = -tl.sum(tl.where(onehot, lps[m], 0.0), 1)
                ce_m = tl.where(valid, ce_m, 0.0)
                tl.store(ce + m * num_elements + elem, ce_m, mask=in_range)
                # As torch.max, the first NaN is the top-1 class of a row
                # with one.
                x = xs[m]
                top = tl.argmax(tl.where(x != x, float('inf'), x), 1)
                tl.store(preds + m * num_elements + elem, top, mask=in_range)
                ces = ces + (ce_m,)
        if MODE < 3:
            t = tl.where(valid, _lowest(ces, MODE, N), -1)
            tl.store(teacher + elem, t, mask=in_range)
        elif MODE == 3:
            t = tl.where(valid, tl.zeros_like(elem) + fixed, -1)
            tl.store(teacher + elem, t, mask=in_range)
        elif MODE == 4:
            t = tl.load(teacher + elem, mask=in_range, other=-1)
            t = tl.where(valid & (t >= 0) & (t < N), t, -1)
        else:
            t = tl.where(valid, 0, -1)
        if DO_KL:
            if ONE_TEMP:
                lts = lps
            else:
                lts = _log_softmax_all(xs, inv_temp, N)
            # Log-probabilities with padded classes 0 for differences.
            lzs = ()
            for m in tl.static_range(N):
                lzs = lzs + (tl.where(is_class, lts[m], 0.0),)
            base = partial + tl.program_id(0).to(tl.int64) * (N * N)
            if MODE == 5:
                for a in tl.static_range(N):
                    p_a = tl.exp(lts[a])
                    for s in tl.static_range(N):
                        if s != a:
                            kl = tl.sum(p_a * (lzs[a] - lzs[s]), 1)
                            kl = tl.where(valid, kl, 0.0)
                            tl.store(base + a * N + s, tl.sum(kl, 0))
            else:
                p_t = tl.exp(_pick(lts, t, N))
                lz_t = _pick(lzs, t, N)
                for s in tl.static_range(N):
                    kl = tl.sum(p_t * (lz_t - lzs[s]), 1)
                    for a in tl.static_range(N):
                        if a != s:
                            part = tl.sum(tl.where(t == a, kl, 0.0), 0)
                            tl.store(base + a * N + s, part)

    @triton.jit
    def _backward(
        zs,
        labels,
        teacher,
        grad_ce,
        weights,
        gs,
        num_classes,
        spatial,
        num_elements,
        ignore_index,
        inv_temp,
        N: tl.constexpr,
        C_PAD: tl.constexpr,
        BLOCK_S: tl.constexpr,
        HAS_IGNORE: tl.constexpr,
        ALL: tl.constexpr,
        ONE_TEMP: tl.constexpr,
        DETACH: tl.constexpr,
        NEED: tl.constexpr,
    ):
        elem, offs, in_range, is_class, mask, valid, onehot = _positions(
            labels,
            num_classes,
            spatial,
            ignore_index,
            C_PAD,
            BLOCK_S,
            HAS_IGNORE,
        )
        xs = _load_members(zs, offs, mask, is_class, N)
        lps = _log_softmax_all(xs, 1.0, N)
        if ONE_TEMP:
            lts = lps
        else:
            lts = _log_softmax_all(xs, inv_temp, N)
        pts = ()
        lzs = ()
        for m in tl.static_range(N):
            pts = pts + (tl.exp(lts[m]),)
            lzs = lzs + (tl.where(is_class, lts[m], 0.0),)
        if ALL:
            t = tl.where(valid, 0, -1)
        else:
            t = tl.load(teacher + elem, mask=in_range, other=-1)
            t = tl.where(valid & (t >= 0) & (t < N), t, -1)
        safe_t = tl.where(t >= 0, t, 0)
        p_t = _pick(pts, t, N)
        hot = onehot.to(tl.float32)
        for m in tl.static_range(N):
            if (NEED >> m) & 1:
                # Gradient of the weighted KL sums with respect to member
                # m's temperature-T log-probabilities (see kl_sums): as a
                # student -g_tm p_t, as a teacher sum_s g_ms p_m (lp_m -
                # lp_s + 1).
                if ALL:
                    gl = tl.zeros_like(pts[m])
                    for a in tl.static_range(N):
                        if a != m:
                            w = tl.load(weights + a * N + m).to(tl.float32)
                            gl -= w * pts[a]
                else:
                    w = tl.load(weights + safe_t * N + m, mask=in_range)
                    w = tl.where((t >= 0) & (t != m), w.to(tl.float32), 0.0)
                    gl = -w[:, None] * p_t
                if not DETACH:
                    w_sum = 0.0
                    acc = tl.zeros_like(pts[m])
                    for s in tl.static_range(N):
                        if s != m:
                            w = tl.load(weights + m * N + s).to(tl.float32)
                            w_sum += w
                            acc += w * lzs[s]
                    own = pts[m] * (w_sum * (lzs[m] + 1.0) - acc)
                    if ALL:
                        gl += own
                    else:
                        gl = tl.where((t == m)[:, None], own, gl)
                gl = tl.where(valid[:, None], gl, 0.0)
                gce = tl.load(
                    grad_ce + m * num_elements + elem, mask=valid, other=0.0
                ).to(tl.float32)
                # Through the softmax Jacobians: KL at T, CE at 1.
                g = (gl - pts[m] * tl.sum(gl, 1)[:, None]) * inv_temp
                g += gce[:, None] * (tl.exp(lps[m]) - hot)
                out = gs[m]
                tl.store(out + offs, g.to(out.dtype.element_ty), mask=mask)


def _configs(which: str, c_pad: int, num: int) -> list:
    """Tiles the GPU autotuning tries for ``num`` members: those of the
    pair kernels for ``c_pad * num / 2`` classes (the same values per
    thread in all)."""
    return pair._configs(which, max(1, c_pad * num // 2))


#: Autotuning keys per kernel: the shape and the branches that change the
#: work per value.
TUNING_KEYS = {
    'forward': [
        'num_classes',
        'spatial',
        'MODE',
        'ONE_TEMP',
        'DO_CE',
        'DO_KL',
    ],
    'backward': [
        'num_classes',
        'spatial',
        'ALL',
        'ONE_TEMP',
        'DETACH',
        'NEED',
    ],
}


@functools.cache
def _kernel(which: str, c_pad: int, num: int):
    """The forward or backward kernel: autotuned over tiles on the GPU,
    one tile in the interpreter."""
    kernel = _forward if which == 'forward' else _backward
    if pair.INTERPRET:
        return kernel
    return triton.autotune(
        configs=_configs(which, c_pad, num), key=TUNING_KEYS[which]
    )(kernel)


def _launch(which: str, logits: tuple, *args, **constants) -> None:
    """Run a kernel over ``N`` members' ``[B, C, *S]`` logits on their
    device: with the given ``BLOCK_S``, else autotuned on the GPU (one
    tile in the interpreter)."""
    num_images, num_classes, *rest = logits[0].shape
    spatial = math.prod(rest)
    if num_images * spatial == 0:
        return
    num = len(logits)
    c_pad = triton.next_power_of_2(num_classes)
    fixed_tile = 'BLOCK_S' in constants
    if pair.INTERPRET and not fixed_tile:
        block = max(1, pair.TILE_VALUES // c_pad)
        constants['BLOCK_S'] = min(block, triton.next_power_of_2(spatial))
    if fixed_tile or pair.INTERPRET:
        kernel = _forward if which == 'forward' else _backward
    else:
        kernel = _kernel(which, c_pad, num)

    def grid(meta):
        return (triton.cdiv(spatial, meta['BLOCK_S']) * num_images,)

    # Triton launches on the current device, autograd's backward thread
    # sets it, the forward caller may not have.
    on_device = (
        torch.cuda.device(logits[0].device)
        if logits[0].is_cuda
        else contextlib.nullcontext()
    )
    with on_device:
        kernel[grid](
            logits,
            *args,
            num_classes,
            spatial,
            spatial * num_images,
            *constants.pop('runtime'),
            N=num,
            C_PAD=c_pad,
            **constants,
        )


def partial_block(logits: tuple) -> int:
    """Positions per program of the forward launches: a fixed tile (the
    partial sums buffer is sized from it), the largest power of two
    within the forward register budget of 4 warps (at most 128)."""
    num_images, num_classes, *rest = logits[0].shape
    c_pad = triton.next_power_of_2(num_classes)
    if pair.INTERPRET:
        block = max(1, pair.TILE_VALUES // c_pad)
        return min(block, triton.next_power_of_2(max(math.prod(rest), 1)))
    # Per member and thread, the pair kernels' values for two members.
    values = 128 * pair.MAX_VALUES_PER_THREAD['forward'] * 2 // len(logits)
    block = max(1, min(128, values // c_pad))
    return 1 << (block.bit_length() - 1)


class _CEAndMaskedKLN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, labels, opts, *logits):
        zs = tuple(z.contiguous() for z in logits)
        labels = labels.contiguous()
        num = len(zs)
        rule, ignore = opts['select'], opts['ignore_index']
        mutual = opts['mutual']
        dtype = torch.promote_types(zs[0].dtype, torch.float32)
        ce = zs[0].new_empty((num, *labels.shape), dtype=dtype)
        preds = zs[0].new_empty((num, *labels.shape), dtype=torch.long)
        teacher = torch.full_like(labels, -1, dtype=torch.long)
        in_kernel = opts['per_element'] and isinstance(rule, LowestScoreRule)
        if in_kernel and rule.fixed is not None:
            mode = 'fixed'
        elif in_kernel:
            mode = rule.resolved_tie(num)
        else:
            mode = 'all'  # no teacher in the CE launch
        runtime = (
            0 if ignore is None else ignore,
            1.0 / opts['temperature'],
            # Like the PyTorch path: no member index, no teacher.
            rule.fixed
            if in_kernel and rule.fixed is not None and rule.fixed < num
            else -1,
        )
        common = dict(
            HAS_IGNORE=ignore is not None,
            ONE_TEMP=opts['temperature'] == 1.0,
        )
        block = partial_block(zs)
        one_launch = in_kernel and not mutual
        programs = _programs(zs, block)
        partial = torch.zeros(
            (max(programs, 1), num * num),
            dtype=torch.float32,
            device=zs[0].device,
        )
        _launch(
            'forward',
            zs,
            labels,
            teacher,
            ce,
            preds,
            partial,
            runtime=runtime,
            MODE=MODE_CODES[mode],
            DO_CE=True,
            DO_KL=one_launch,
            BLOCK_S=block,
            **common,
        )
        if not one_launch:
            if not in_kernel:
                teacher = _checked_teachers(
                    opts['select'], ce, labels, ignore, num
                )
            _launch(
                'forward',
                zs,
                labels,
                teacher,
                ce,
                preds,
                partial,
                runtime=runtime,
                MODE=MODE_CODES['all' if mutual else 'given'],
                DO_CE=False,
                DO_KL=True,
                BLOCK_S=block,
                **common,
            )
        sums = partial.sum(0, dtype=torch.float64).view(num, num)
        ctx.opts = opts
        ctx.save_for_backward(labels, teacher, *zs)
        preds = list(preds.unbind(0))
        ctx.mark_non_differentiable(teacher, *preds)
        return ce, sums.to(dtype), teacher, *preds

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_ce, grad_sums, *_grad_teacher_preds):
        labels, teacher, *zs = ctx.saved_tensors
        needs = ctx.needs_input_grad[2:]
        if not any(needs):
            return (None, None, *([None] * len(zs)))
        opts = ctx.opts
        ignore = opts['ignore_index']
        grads = [torch.empty_like(z) if n else None for z, n in zip(zs, needs)]
        _launch(
            'backward',
            tuple(zs),
            labels,
            teacher,
            grad_ce.contiguous(),
            grad_sums.flatten().to(torch.float32).contiguous(),
            tuple(z if g is None else g for z, g in zip(zs, grads)),
            runtime=(
                0 if ignore is None else ignore,
                1.0 / opts['temperature'],
            ),
            HAS_IGNORE=ignore is not None,
            ALL=opts['mutual'],
            ONE_TEMP=opts['temperature'] == 1.0,
            DETACH=opts['detach_teacher'],
            NEED=sum(1 << m for m, n in enumerate(needs) if n),
        )
        return (None, None, *grads)


def _programs(zs: tuple, block: int) -> int:
    num_images, _, *rest = zs[0].shape
    return triton.cdiv(math.prod(rest), block) * num_images


def _checked_teachers(select, ce, labels, ignore, num) -> Tensor:
    """``select`` on the CE (0 on ignored elements): the teacher per
    element, -1 where it names no member or the label is ignored."""
    with torch.no_grad():
        chosen = select(ce).long()
    if chosen.shape != labels.shape:
        raise ValueError(
            f'select returned teachers of shape {tuple(chosen.shape)}, '
            f'expected {tuple(labels.shape)}'
        )
    taught = (chosen >= 0) & (chosen < num)
    if ignore is not None:
        taught &= labels != ignore
    return torch.where(taught, chosen, -1).contiguous()


def ce_and_masked_kl_n(logits: list[Tensor], labels: Tensor, opts: dict):
    """The N-member Triton path of :func:`ce_and_masked_kl_terms` (checked
    inputs).

    Args:
        logits (list[Tensor]): 2 to 4 members' logits ``[B, C, *S]``.
        labels (Tensor): int64 labels ``[B, *S]``.
        opts (dict): ``select``, ``per_element``, ``mutual``,
            ``ignore_index``, ``temperature`` and ``detach_teacher``.

    Returns:
        tuple: ``ce`` ``[N, B, *S]``, the ``[N, N]`` KL sums, the teachers
        and every member's top-1 classes.
    """
    return _CEAndMaskedKLN.apply(labels, opts, *logits)
