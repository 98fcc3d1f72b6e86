"""Triton kernels of :func:`ce_and_masked_kl_terms` for a pair of members.

For two members whose teacher is chosen per element from that element's
cross-entropy (the lowest teaches, or one fixed member teaches), one
forward kernel reads each member's logits once and writes, per element,
both cross-entropies, the teacher, both top-1 classes and the KL; one
backward kernel reads the logits once more and writes both gradients. No
log-probability, mask or gradient of class size exists besides the logits
and their gradients, and no step waits for the host (but the first of
each shape on a GPU, which autotunes the tiles).

Layout: logits ``[B, C, *S]`` (class dimension 1), contiguous. Each
program takes ``BLOCK_S`` consecutive positions of one image and all ``C``
classes (padded to a power of two), so each class row is a contiguous
load. With ``TRITON_INTERPRET=1`` in the environment the kernels run in
Triton's interpreter, on CPU tensors too: slow, for checking them against
the PyTorch path (the test suite does so).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .selection import LowestScoreRule

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - Triton ships with CUDA builds
    triton = None


def _interpreting() -> bool:
    """Whether ``triton.jit`` gives interpreted kernels in this process."""
    try:
        return bool(triton.knobs.runtime.interpret)
    except AttributeError:  # Triton before knobs
        value = os.environ.get('TRITON_INTERPRET', '0')
        return value.lower() in ('1', 'true', 'on', 'yes')


#: Whether the kernels run in Triton's interpreter (CPU tensors): set
#: ``TRITON_INTERPRET=1`` before Triton is imported (``torch`` imports it
#: early in most processes).
INTERPRET = triton is not None and _interpreting()

#: Largest (power-of-two padded) class count the kernels hold in one tile.
MAX_CLASSES = 1024
#: Values per member one program holds (positions x padded classes) in
#: the interpreter.
TILE_VALUES = 4096
#: Largest values per member and thread of the tiles the GPU autotuning
#: tries: above them the kernels spill registers on sm_90 (ptxas -v, 150
#: classes, float32).
MAX_VALUES_PER_THREAD = {'forward': 32, 'backward': 16}
#: Kernel codes of the teacher rule: :func:`select_teachers`'s tie rules
#: for the lowest cross-entropy, and one fixed member.
RULE_CODES = {'first': 0, 'last': 1, 'none': 2, 'fixed': 3}


def unsupported_reason(
    logits: list, class_dim: int, per_element: bool, rule
) -> str | None:
    """Why the pair kernels cannot compute this call (None if they can).

    Args:
        logits (list[Tensor]): The members' logits.
        class_dim (int): Their (non-negative) class dimension.
        per_element (bool): Whether the teacher is decided per element.
        rule: The ``select`` argument; the kernels implement
            :class:`~bikd_mm.core.selection.LowestScoreRule` only.

    Returns:
        str | None: The reason, or None.
    """
    if len(logits) != 2:
        return f'it takes two members, got {len(logits)}'
    if not per_element or not isinstance(rule, LowestScoreRule):
        return (
            'it decides the teacher per element by the lowest '
            'cross-entropy or a fixed member (LowestScoreRule) only'
        )
    return tensor_reason(logits, class_dim)


def tensor_reason(logits: list, class_dim: int) -> str | None:
    """Why no Triton kernel of bikd_mm takes these logits (None if they
    can): Triton, layout, dtype, class count and device."""
    if triton is None:
        return 'Triton is not installed'
    if class_dim != 1 or logits[0].dim() < 2:
        return f'it takes class dimension 1, got {class_dim}'
    dtypes = {z.dtype for z in logits}
    if logits[0].dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f'it takes float32/16 and bfloat16, got {logits[0].dtype}'
    if len(dtypes) > 1:
        return 'all members must have one dtype'
    if triton.next_power_of_2(logits[0].shape[1]) > MAX_CLASSES:
        return (
            f'{logits[0].shape[1]} classes do not fit one tile '
            f'(at most {MAX_CLASSES})'
        )
    devices = {z.device for z in logits}
    if len(devices) > 1:
        names = sorted(map(str, devices))
        return f'all members must be on one device, got {names}'
    device = logits[0].device.type
    if device not in ('cuda', 'cpu'):
        return f'no Triton kernels on {device}'
    if device == 'cpu' and not INTERPRET:
        return (
            "CPU tensors need Triton's interpreter: start the process with "
            'TRITON_INTERPRET=1'
        )
    return None


if triton is not None:

    @triton.jit
    def _log_softmax(x):
        top = tl.max(x, 1)
        shifted = x - top[:, None]
        return shifted - tl.log(tl.sum(tl.exp(shifted), 1))[:, None]

    @triton.jit
    def _tile(
        z0,
        z1,
        labels,
        num_classes,
        spatial,
        ignore_index,
        C_PAD: tl.constexpr,
        BLOCK_S: tl.constexpr,
        HAS_IGNORE: tl.constexpr,
    ):
        # This program's positions of one image: element indices, value
        # offsets and masks, labels, and both members' float32 logits
        # (padded classes -inf, positions past the end zeros).
        # One grid axis (the others hold at most 65535 programs): the
        # blocks of image 0, then of image 1, ...
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
        x0 = tl.load(z0 + offs, mask=mask, other=0.0).to(tl.float32)
        x1 = tl.load(z1 + offs, mask=mask, other=0.0).to(tl.float32)
        x0 = tl.where(is_class, x0, -float('inf'))
        x1 = tl.where(is_class, x1, -float('inf'))
        return elem, offs, in_range, is_class, mask, valid, onehot, x0, x1

    @triton.jit
    def _pair_forward(
        z0,
        z1,
        labels,
        ce,
        teacher,
        pred0,
        pred1,
        kl,
        num_classes,
        spatial,
        num_elements,
        ignore_index,
        inv_temp,
        fixed,
        C_PAD: tl.constexpr,
        BLOCK_S: tl.constexpr,
        HAS_IGNORE: tl.constexpr,
        RULE: tl.constexpr,
        ONE_TEMP: tl.constexpr,
    ):
        elem, offs, in_range, is_class, mask, valid, onehot, x0, x1 = _tile(
            z0,
            z1,
            labels,
            num_classes,
            spatial,
            ignore_index,
            C_PAD,
            BLOCK_S,
            HAS_IGNORE,
        )
        lp0 = _log_softmax(x0)
        lp1 = _log_softmax(x1)
        ce0 = tl.where(valid, -tl.sum(tl.where(onehot, lp0, 0.0), 1), 0.0)
        ce1 = tl.where(valid, -tl.sum(tl.where(onehot, lp1, 0.0), 1), 0.0)
        tl.store(ce + elem, ce0, mask=in_range)
        tl.store(ce + num_elements + elem, ce1, mask=in_range)
        # As torch.max, the first NaN is the top-1 class of a row with one.
        top0 = tl.argmax(tl.where(x0 != x0, float('inf'), x0), 1)
        top1 = tl.argmax(tl.where(x1 != x1, float('inf'), x1), 1)
        tl.store(pred0 + elem, top0, mask=in_range)
        tl.store(pred1 + elem, top1, mask=in_range)

        if RULE == 3:  # one fixed member teaches
            t = tl.zeros_like(elem) + fixed
        else:
            # The lowest cross-entropy teaches; NaN never does. RULE 0, 1,
            # 2: ties go to member 0, member 1, nobody.
            nan0 = ce0 != ce0
            nan1 = ce1 != ce1
            r0 = tl.where(nan0, -float('inf'), -ce0)
            r1 = tl.where(nan1, -float('inf'), -ce1)
            best = tl.maximum(r0, r1)
            best0 = (r0 == best) & ~nan0
            best1 = (r1 == best) & ~nan1
            if RULE == 0:
                t = tl.where(best0, 0, tl.where(best1, 1, -1))
            elif RULE == 1:
                t = tl.where(best1, 1, tl.where(best0, 0, -1))
            else:
                t = tl.where(best0 ^ best1, tl.where(best0, 0, 1), -1)
            t = t.to(tl.int64)
        t = tl.where(valid, t, -1)
        tl.store(teacher + elem, t, mask=in_range)

        if not ONE_TEMP:
            lp0 = _log_softmax(x0 * inv_temp)
            lp1 = _log_softmax(x1 * inv_temp)
        d = tl.where(is_class, lp0, 0.0) - tl.where(is_class, lp1, 0.0)
        # KL(p_t || p_s) = sum p_0 d where 0 teaches, -sum p_1 d where 1.
        p_t = tl.exp(tl.where((t == 0)[:, None], lp0, lp1))
        kl_t = tl.sum(p_t * d, 1)
        kl_t = tl.where(t == 0, kl_t, tl.where(t == 1, -kl_t, 0.0))
        tl.store(kl + elem, kl_t, mask=in_range)

    @triton.jit
    def _pair_backward(
        z0,
        z1,
        labels,
        teacher,
        grad_ce,
        weights,
        g0,
        g1,
        num_classes,
        spatial,
        num_elements,
        ignore_index,
        inv_temp,
        C_PAD: tl.constexpr,
        BLOCK_S: tl.constexpr,
        HAS_IGNORE: tl.constexpr,
        ONE_TEMP: tl.constexpr,
        DETACH: tl.constexpr,
        NEED0: tl.constexpr,
        NEED1: tl.constexpr,
    ):
        elem, offs, in_range, is_class, mask, valid, onehot, x0, x1 = _tile(
            z0,
            z1,
            labels,
            num_classes,
            spatial,
            ignore_index,
            C_PAD,
            BLOCK_S,
            HAS_IGNORE,
        )
        t = tl.load(teacher + elem, mask=in_range, other=-1)
        gce0 = tl.load(grad_ce + elem, mask=valid, other=0.0)
        gce1 = tl.load(grad_ce + num_elements + elem, mask=valid, other=0.0)
        # Incoming gradients of the KL sums [0, 1] and [1, 0].
        w01 = tl.load(weights + 1).to(tl.float32)
        w10 = tl.load(weights + 2).to(tl.float32)
        lp0 = _log_softmax(x0)
        lp1 = _log_softmax(x1)
        p0 = tl.exp(lp0)
        p1 = tl.exp(lp1)
        if ONE_TEMP:
            lt0 = lp0
            lt1 = lp1
            pt0 = p0
            pt1 = p1
        else:
            lt0 = _log_softmax(x0 * inv_temp)
            lt1 = _log_softmax(x1 * inv_temp)
            pt0 = tl.exp(lt0)
            pt1 = tl.exp(lt1)
        teach0 = (t == 0)[:, None]
        teach1 = (t == 1)[:, None]
        w = tl.where(t == 0, w01, tl.where(t == 1, w10, 0.0))
        q = w[:, None] * tl.where(teach0, pt0, pt1)
        d = tl.where(is_class, lt0, 0.0) - tl.where(is_class, lt1, 0.0)
        # Gradient of the weighted KL sums with respect to the
        # temperature-T log-probabilities (see kl_sums).
        if DETACH:
            gl0 = tl.where(teach1, -q, 0.0)
            gl1 = tl.where(teach0, -q, 0.0)
        else:
            gl0 = tl.where(teach0, q * (d + 1.0), -q)
            gl1 = tl.where(teach1, q * (1.0 - d), -q)
        # Through the softmax Jacobians: KL at T, cross-entropy at 1.
        hot = onehot.to(tl.float32)
        if NEED0:
            g = (gl0 - pt0 * tl.sum(gl0, 1)[:, None]) * inv_temp
            g += gce0.to(tl.float32)[:, None] * (p0 - hot)
            tl.store(g0 + offs, g.to(g0.dtype.element_ty), mask=mask)
        if NEED1:
            g = (gl1 - pt1 * tl.sum(gl1, 1)[:, None]) * inv_temp
            g += gce1.to(tl.float32)[:, None] * (p1 - hot)
            tl.store(g1 + offs, g.to(g1.dtype.element_ty), mask=mask)


def _configs(which: str, c_pad: int) -> list:
    """Tiles the GPU autotuning tries for ``c_pad`` padded classes: 1/4 to
    all of the register budget per thread, at least 8 positions per class
    row where that fits."""
    most = MAX_VALUES_PER_THREAD[which]

    def fitting(blocks):
        return [
            triton.Config({'BLOCK_S': block}, num_warps=warps)
            for block in blocks
            for warps in (4, 8)
            if most // 4 <= block * c_pad // (32 * warps) <= most
        ]

    return (
        fitting((8, 16, 32, 64, 128))
        or fitting((1, 2, 4))
        or [triton.Config({'BLOCK_S': 128}, num_warps=4)]
    )


#: Autotuning keys per kernel: the shape and the branches that change the
#: work per value.
TUNING_KEYS = {
    'forward': ['num_classes', 'spatial', 'ONE_TEMP'],
    'backward': ['num_classes', 'spatial', 'ONE_TEMP', 'NEED0', 'NEED1'],
}


@functools.cache
def _kernel(which: str, c_pad: int):
    """The forward or backward kernel: autotuned over tiles on the GPU,
    one tile in the interpreter (which would run every candidate)."""
    kernel = _pair_forward if which == 'forward' else _pair_backward
    if INTERPRET:
        return kernel
    return triton.autotune(
        configs=_configs(which, c_pad), key=TUNING_KEYS[which]
    )(kernel)


def _launch(which: str, logits: Tensor, *args, **constants) -> None:
    """Run a kernel over ``[B, C, *S]`` logits on their device."""
    num_images, num_classes, *rest = logits.shape
    spatial = math.prod(rest)
    if num_images * spatial == 0:
        return
    c_pad = triton.next_power_of_2(num_classes)
    if INTERPRET:
        block = max(1, TILE_VALUES // c_pad)
        constants['BLOCK_S'] = min(block, triton.next_power_of_2(spatial))

    def grid(meta):
        return (triton.cdiv(spatial, meta['BLOCK_S']) * num_images,)

    # Triton launches on the current device, autograd's backward thread
    # sets it, the forward caller may not have.
    on_device = (
        torch.cuda.device(logits.device)
        if logits.is_cuda
        else contextlib.nullcontext()
    )
    with on_device:
        _kernel(which, c_pad)[grid](
            *args,
            num_classes,
            spatial,
            spatial * num_images,
            *constants.pop('runtime'),
            C_PAD=c_pad,
            **constants,
        )


class _PairCEAndMaskedKL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, labels, opts, z0, z1):
        z0, z1, labels = z0.contiguous(), z1.contiguous(), labels.contiguous()
        rule, ignore = opts['select'], opts['ignore_index']
        dtype = torch.promote_types(z0.dtype, torch.float32)
        ce = z0.new_empty((2, *labels.shape), dtype=dtype)
        teacher = torch.empty_like(labels, dtype=torch.long)
        preds = [torch.empty_like(teacher) for _ in range(2)]
        kl = torch.empty_like(labels, dtype=torch.float32)
        fixed = rule.fixed is not None
        _launch(
            'forward',
            z0,
            z0,
            z1,
            labels,
            ce,
            teacher,
            *preds,
            kl,
            runtime=(
                0 if ignore is None else ignore,
                1.0 / opts['temperature'],
                # Like the PyTorch path: no member index, no teacher.
                rule.fixed if fixed and rule.fixed < 2 else -1,
            ),
            HAS_IGNORE=ignore is not None,
            RULE=RULE_CODES['fixed' if fixed else rule.resolved_tie(2)],
            ONE_TEMP=opts['temperature'] == 1.0,
        )
        sums = torch.zeros(2, 2, dtype=torch.float64, device=z0.device)
        sums[0, 1] = torch.where(teacher == 0, kl, 0).sum(dtype=sums.dtype)
        sums[1, 0] = torch.where(teacher == 1, kl, 0).sum(dtype=sums.dtype)
        ctx.opts = opts
        ctx.save_for_backward(labels, teacher, z0, z1)
        ctx.mark_non_differentiable(teacher, *preds)
        return ce, sums.to(dtype), teacher, *preds

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_ce, grad_sums, *_grad_teacher_preds):
        labels, teacher, z0, z1 = ctx.saved_tensors
        need0, need1 = ctx.needs_input_grad[2:]
        if not (need0 or need1):
            return None, None, None, None
        opts = ctx.opts
        ignore = opts['ignore_index']
        g0 = torch.empty_like(z0) if need0 else None
        g1 = torch.empty_like(z1) if need1 else None
        _launch(
            'backward',
            z0,
            z0,
            z1,
            labels,
            teacher,
            grad_ce.contiguous(),
            grad_sums.flatten().contiguous(),
            z0 if g0 is None else g0,
            z1 if g1 is None else g1,
            runtime=(
                0 if ignore is None else ignore,
                1.0 / opts['temperature'],
            ),
            HAS_IGNORE=ignore is not None,
            ONE_TEMP=opts['temperature'] == 1.0,
            DETACH=opts['detach_teacher'],
            NEED0=need0,
            NEED1=need1,
        )
        return None, None, g0, g1


def pair_ce_and_masked_kl(
    logits: list[Tensor], labels: Tensor, opts: dict
) -> tuple:
    """The Triton path of :func:`ce_and_masked_kl_terms` (checked inputs).

    Args:
        logits (list[Tensor]): Two members' logits ``[B, C, *S]``.
        labels (Tensor): int64 labels ``[B, *S]``.
        opts (dict): ``select`` (a :class:`LowestScoreRule`),
            ``ignore_index``, ``temperature`` and ``detach_teacher``.

    Returns:
        tuple: ``ce`` ``[2, B, *S]``, the ``[2, 2]`` KL sums, the teachers
        and the two members' top-1 classes.
    """
    return _PairCEAndMaskedKL.apply(labels, opts, *logits)
