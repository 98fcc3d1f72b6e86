"""Mixed precision in the shared training step, on CPU: one GradScaler for
all members (scale shared and updated, every member's gradients unscaled
once) and a pair trained in bfloat16 autocast against float32.

mmengine's ``AmpOptimWrapper`` refuses to be built without a GPU and
takes ``torch.cuda.amp.GradScaler``; here it is built with the device
check answered yes and given ``torch.amp.GradScaler('cpu')``, which runs
the same scaling, unscaling and inf checks on CPU tensors. Its autocast
context is mmengine's, on the CPU device in bfloat16. fp16 autocast and
the CUDA scaler are checked on a GPU (``benchmarks/amp_correctness.py``).
"""

import copy

import pytest
import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.optimizers.member_step import (
    run_train_step,
    update_members,
)
from tests.models.segmentors.seg_fixtures import fake_batch, member

INIT_SCALE = 2.0**10


def cpu_amp_wrapper(
    monkeypatch, params, lr=0.1, accumulative_counts=1, **scaler
):
    """A bfloat16 AmpOptimWrapper over SGD on CPU with a CPU GradScaler."""
    monkeypatch.setattr(
        amp_optimizer_wrapper, 'is_cuda_available', lambda: True
    )
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.SGD(params, lr=lr),
        dtype='bfloat16',
        accumulative_counts=accumulative_counts,
    )
    scaler.setdefault('init_scale', INIT_SCALE)
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', **scaler)
    return wrapper


class _Pair(torch.nn.Module):
    """Two members of one weight each: loss = x * a + y * b**2."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor([1.0]))
        self.b = torch.nn.Parameter(torch.tensor([2.0]))

    def loss(self, x, y):
        return (x * self.a).sum() + (y * self.b**2).sum()


def wrappers_for(monkeypatch, pair, **scaler):
    return OptimWrapperDict(
        a=cpu_amp_wrapper(monkeypatch, [pair.a], **scaler),
        b=cpu_amp_wrapper(monkeypatch, [pair.b], **scaler),
    )


def test_one_scaler_scales_unscales_each_member_once_and_grows(monkeypatch):
    """The first member's scaler scales the one backward pass; every
    member's optimizer steps with its true gradient (unscaled exactly
    once: twice would divide by the scale again, never would multiply the
    step by it); the shared scale grows after a clean step and the other
    member's own scaler is never used."""
    pair = _Pair()
    wrappers = wrappers_for(monkeypatch, pair, growth_interval=1)
    lead, other = wrappers['a'].loss_scaler, wrappers['b'].loss_scaler
    unscaled = []
    for name in ('a', 'b'):
        real = wrappers[name].optimizer.step

        def step(*args, real=real, name=name, **kwargs):
            unscaled.append((name, wrappers[name].optimizer))
            return real(*args, **kwargs)

        wrappers[name].optimizer.step = step
    update_members(pair.loss(3.0, 0.5), wrappers, ['a', 'b'])
    # d/da = 3, d/db = 2 * 0.5 * b = 2; SGD with lr 0.1.
    torch.testing.assert_close(pair.a.detach(), torch.tensor([1.0 - 0.3]))
    torch.testing.assert_close(pair.b.detach(), torch.tensor([2.0 - 0.2]))
    assert [n for n, _ in unscaled] == ['a', 'b']
    assert lead.get_scale() == 2 * INIT_SCALE
    assert other.get_scale() == INIT_SCALE
    # Gradients were zeroed after the step, and a second step repeats it.
    assert pair.a.grad is None or (pair.a.grad == 0).all()
    update_members(pair.loss(3.0, 0.5), wrappers, ['a', 'b'])
    torch.testing.assert_close(pair.a.detach(), torch.tensor([0.4]))
    assert lead.get_scale() == 4 * INIT_SCALE


def test_unscaling_twice_would_be_refused(monkeypatch):
    """The scaler itself refuses a second unscale of one optimizer in one
    step, so the passing test above rules a double unscale out."""
    pair = _Pair()
    wrappers = wrappers_for(monkeypatch, pair)
    scaler = wrappers['a'].loss_scaler
    scaler.scale(pair.loss(1.0, 1.0)).backward()
    scaler.unscale_(wrappers['a'].optimizer)
    with pytest.raises(RuntimeError, match='unscale_'):
        scaler.unscale_(wrappers['a'].optimizer)


def test_overflow_skips_that_member_and_backs_the_scale_off(monkeypatch):
    """An infinite gradient in one member: that member does not step, the
    other steps with its finite true gradient, and the shared scale is
    halved for the next step."""
    pair = _Pair()
    wrappers = wrappers_for(monkeypatch, pair)
    lead = wrappers['a'].loss_scaler
    update_members(pair.loss(3.0, float('inf')), wrappers, ['a', 'b'])
    torch.testing.assert_close(pair.a.detach(), torch.tensor([0.7]))
    torch.testing.assert_close(pair.b.detach(), torch.tensor([2.0]))
    assert lead.get_scale() == INIT_SCALE / 2


def test_gradient_accumulation_unscales_the_summed_gradient(monkeypatch):
    """With accumulative_counts=2 the scaled gradients of two calls add up
    and are unscaled once, at the step."""
    pair = _Pair()
    wrappers = OptimWrapperDict(
        **{
            name: cpu_amp_wrapper(monkeypatch, [param], accumulative_counts=2)
            for name, param in (('a', pair.a), ('b', pair.b))
        }
    )
    wrappers.initialize_count_status(pair, 0, 4)
    update_members(pair.loss(3.0, 0.5), wrappers, ['a', 'b'])
    torch.testing.assert_close(pair.a.detach(), torch.tensor([1.0]))
    update_members(pair.loss(1.0, 0.5), wrappers, ['a', 'b'])
    # Mean gradient of the two calls: (3 + 1) / 2 for a.
    torch.testing.assert_close(pair.a.detach(), torch.tensor([0.8]))


def build_pair():
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='BiKDSegmentor',
            members=[member('cnn'), member('swin')],
            kd_resolution='labels',
        )
    )


def train(pair, wrappers, steps):
    losses = []
    for i in range(steps):
        data = fake_batch(size=32, seed=i % 3)
        log_vars = run_train_step(pair, pair, copy.deepcopy(data), wrappers)
        losses.append(float(log_vars['loss'].detach()))
    return torch.tensor(losses)


def test_bf16_autocast_pair_follows_the_fp32_loss_curve(monkeypatch):
    """A pair trained 12 steps with each member's AmpOptimWrapper in
    bfloat16 autocast (the members' convolutions and matrix products run
    in bfloat16) follows the float32 loss curve within bfloat16's
    precision, and both go down."""
    steps, lr = 12, 0.1
    fp32 = build_pair()
    amp = build_pair()
    amp.load_state_dict(fp32.state_dict())
    plain = OptimWrapperDict(
        **{
            n: OptimWrapper(torch.optim.SGD(m.parameters(), lr=lr))
            for n, m in fp32.members.items()
        }
    )
    mixed = OptimWrapperDict(
        **{
            n: cpu_amp_wrapper(monkeypatch, m.parameters(), lr=lr)
            for n, m in amp.members.items()
        }
    )
    dtypes = set()
    conv = next(
        m
        for m in amp.members['cnn'].modules()
        if isinstance(m, torch.nn.Conv2d)
    )
    conv.register_forward_hook(lambda mod, i, out: dtypes.add(out.dtype))
    ref = train(fp32, plain, steps)
    got = train(amp, mixed, steps)
    assert dtypes == {torch.bfloat16}
    assert torch.isfinite(got).all()
    # Both curves go down, over the same batches.
    assert ref[-3:].mean() < ref[:3].mean() * 0.95
    assert got[-3:].mean() < got[:3].mean() * 0.95
    torch.testing.assert_close(got, ref, rtol=0.03, atol=0.02)
    # The shared scaler scaled every step and never found an overflow.
    assert mixed['cnn'].loss_scaler.get_scale() == INIT_SCALE
