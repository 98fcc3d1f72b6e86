"""BiKDSegmentor's transfer options: mutual learning and a fixed teacher,
against direct computations."""

import pytest
import torch
import torch.nn.functional as F

from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor

from .seg_fixtures import fake_batch
from .test_bikd_segmentor import at_labels, build_pair, pair_losses


def pixel_kl(zt, zs):
    return (zt.softmax(1) * (zt.log_softmax(1) - zs.log_softmax(1))).sum(1)


@pytest.mark.parametrize('detach', [False, True])
def test_selection_all_distils_both_ways_on_every_pixel(detach):
    torch.manual_seed(0)
    pair = build_pair(
        kd_resolution='labels', selection='all', detach_teacher=detach
    )
    losses, logits, labels = pair_losses(pair)
    valid = labels != 255
    assert not valid.all()
    zc, zs = logits['cnn'], logits['swin']
    uc, us = at_labels(zc, labels), at_labels(zs, labels)
    want = {
        'kd.loss_cnn_to_swin': (pixel_kl(uc, us) * valid).sum() / valid.sum(),
        'kd.loss_swin_to_cnn': (pixel_kl(us, uc) * valid).sum() / valid.sum(),
    }
    for key, value in want.items():
        torch.testing.assert_close(losses[key], value)
    assert losses['cnn.teach_share'] == 1 and losses['swin.teach_share'] == 1
    # With the teacher detached, KL(p_cnn || p_swin) only trains swin.
    grad_cnn, grad_swin = torch.autograd.grad(
        losses['kd.loss_cnn_to_swin'], [zc, zs], allow_unused=True
    )
    assert (grad_cnn is None or torch.count_nonzero(grad_cnn) == 0) == detach
    assert torch.count_nonzero(grad_swin) > 0


@pytest.mark.parametrize('granularity', ['pixel', 'image'])
def test_fixed_teacher_teaches_every_pixel_one_way(granularity):
    torch.manual_seed(1)
    pair = build_pair(
        kd_resolution='labels', granularity=granularity, fixed_teacher='swin'
    )
    losses, logits, labels = pair_losses(pair, fake_batch(seed=1))
    valid = labels != 255
    up = {n: at_labels(z, labels) for n, z in logits.items()}
    want = (pixel_kl(up['swin'], up['cnn']) * valid).sum() / valid.sum()
    torch.testing.assert_close(losses['kd.loss_swin_to_cnn'], want)
    assert losses['kd.loss_cnn_to_swin'] == 0
    assert losses['swin.teach_share'] == 1 and losses['cnn.teach_share'] == 0
    # Far from its own best choice: the per-pixel CE still favours cnn on
    # part of the pixels, which does not matter with a fixed teacher.
    safe = labels.masked_fill(~valid, 0)
    ce = [F.cross_entropy(z, safe, reduction='none') for z in up.values()]
    assert ((ce[0] < ce[1]) & valid).any()


def test_fixed_teacher_is_frozen_and_the_student_trains():
    pair = build_pair(fixed_teacher='cnn')
    adamw = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))
    wrappers = BiKDOptimWrapperConstructor(dict(cnn=adamw, swin=adamw))(pair)
    pair.train()
    assert not pair.members['cnn'].training
    assert pair.members['swin'].training
    before = {
        n: {k: v.clone() for k, v in m.state_dict().items()}
        for n, m in pair.members.items()
    }
    log_vars = pair.train_step(fake_batch(), wrappers)
    assert log_vars['kd.loss_cnn_to_swin'] > 0
    after = {n: m.state_dict() for n, m in pair.members.items()}
    # Parameters and batch-norm statistics of the teacher stay as loaded.
    for key, value in before['cnn'].items():
        torch.testing.assert_close(after['cnn'][key], value, msg=key)
    params = dict(pair.members['swin'].named_parameters())
    changed = [
        k for k, p in params.items() if not torch.equal(before['swin'][k], p)
    ]
    assert len(changed) > 0.9 * len(params)


@pytest.mark.parametrize(
    'kwargs, match',
    [
        (dict(selection='some'), 'selection must be one of'),
        (dict(fixed_teacher='r50'), "fixed_teacher 'r50' is not a member"),
        (
            dict(fixed_teacher='cnn', selection='all'),
            'cannot be combined',
        ),
    ],
)
def test_bad_transfer_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_pair(**kwargs)
