"""The shared training step's non-finite loss check."""

import pytest
import torch
from mmengine.logging import MessageHub

from bikd_mm.engine.optimizers import NonFiniteLossError, check_finite_losses


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
