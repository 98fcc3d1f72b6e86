"""The shared training step: non-finite losses, gradient accumulation and
per-member gradient norms."""

import pytest
import torch
from mmengine.logging import MessageHub

from bikd_mm.engine.optimizers import (
    BiKDOptimWrapperConstructor,
    NonFiniteLossError,
    check_finite_losses,
)
from bikd_mm.engine.optimizers.member_step import update_members


def test_non_finite_loss_names_member_and_iteration():
    hub = MessageHub.get_instance('member_step_test')
    hub.update_info('iter', 41)
    log_vars = {
        'loss': torch.tensor(float('nan')),
        'r50.decode.loss_ce': torch.tensor(0.5),
        'swin.decode.loss_ce': torch.tensor(float('inf')),
        'swin.teach_share': torch.tensor(float('nan')),  # not a loss
    }
    with pytest.raises(NonFiniteLossError) as err:
        check_finite_losses(log_vars, ['r50', 'swin'])
    message = str(err.value)
    assert "['swin']" in message
    assert 'iteration 42' in message
    assert 'swin.decode.loss_ce=inf' in message
    assert 'r50.decode' not in message


def test_finite_losses_pass():
    check_finite_losses(
        {'loss': torch.tensor(1.0), 'kd.loss_a_to_b': torch.tensor(0.1)},
        ['a', 'b'],
    )


class _Pair(torch.nn.Module):
    """Two one-parameter members, the layout the constructor expects."""

    def __init__(self):
        super().__init__()
        self.members = torch.nn.ModuleDict(
            dict(
                a=torch.nn.Linear(1, 1, bias=False),
                b=torch.nn.Linear(1, 1, bias=False),
            )
        )
        with torch.no_grad():
            self.members['a'].weight.fill_(1.0)
            self.members['b'].weight.fill_(2.0)

    def loss(self, x: float):
        a, b = self.members['a'].weight, self.members['b'].weight
        return (x * a).sum() + (x * x * b).sum()


def _wrappers(pair, **options):
    cfg = {
        name: dict(
            optimizer=dict(type='SGD', lr=1.0),
            **options.get(name, options.get('all', {})),
        )
        for name in ('a', 'b')
    }
    return BiKDOptimWrapperConstructor(cfg)(pair)


def test_gradient_accumulation_steps_every_k_calls_with_mean_gradient():
    pair = _Pair()
    wrappers = _wrappers(pair, all=dict(accumulative_counts=2))
    wrappers.initialize_count_status(pair, 0, 4)
    xs = [1.0, 3.0, 2.0, 5.0]
    weights = []
    for x in xs:
        update_members(pair.loss(x), wrappers, ['a', 'b'])
        weights.append([pair.members[n].weight.item() for n in ('a', 'b')])
    # d/da = x, d/db = x^2; SGD lr 1 on the mean of two calls.
    assert weights[0] == [1.0, 2.0]
    assert weights[1] == pytest.approx([1.0 - 2.0, 2.0 - 5.0])
    assert weights[2] == weights[1]
    assert weights[3] == pytest.approx([-1.0 - 3.5, -3.0 - 14.5])


def test_members_must_accumulate_alike():
    with pytest.raises(ValueError, match=r'a=2, b=1'):
        _wrappers(_Pair(), a=dict(accumulative_counts=2))


def test_clipped_gradient_norms_are_logged_per_member():
    pair = _Pair()
    wrappers = _wrappers(pair, all=dict(clip_grad=dict(max_norm=100.0)))
    update_members(pair.loss(3.0), wrappers, ['a', 'b'])
    hub = MessageHub.get_current_instance()
    assert hub.get_scalar('train/a.grad_norm').current() == 3.0
    assert hub.get_scalar('train/b.grad_norm').current() == 9.0
