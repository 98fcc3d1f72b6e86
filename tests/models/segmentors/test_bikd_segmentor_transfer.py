"""BiKDSegmentor's transfer options: mutual learning and a fixed teacher,
against direct computations."""

import pytest
import torch
import torch.nn.functional as F

from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor

from .seg_fixtures import fake_batch
from .test_bikd_segmentor import build_pair


def pixel_kl(zt, zs):
    return (zt.softmax(1) * (zt.log_softmax(1) - zs.log_softmax(1))).sum(1)


def logits_and_labels(seed=0):
    torch.manual_seed(seed)
    logits = {
        n: torch.randn(2, 11, 16, 16, requires_grad=True)
        for n in ('cnn', 'swin')
    }
    labels = torch.randint(0, 11, (2, 16, 16))
    labels[0, :4] = 255
    return logits, labels


@pytest.mark.parametrize('detach', [False, True])
def test_selection_all_distils_both_ways_on_every_pixel(detach):
    pair = build_pair(
        kd_resolution='labels', selection='all', detach_teacher=detach
    )
    logits, labels = logits_and_labels()
    out = pair._kd_losses(logits, labels)
    valid = labels != 255
    zc, zs = logits['cnn'], logits['swin']
    want = {
        'kd.loss_cnn_to_swin': (pixel_kl(zc, zs) * valid).sum() / valid.sum(),
        'kd.loss_swin_to_cnn': (pixel_kl(zs, zc) * valid).sum() / valid.sum(),
    }
    for key, value in want.items():
        torch.testing.assert_close(out[key], value)
    assert out['cnn.teach_share'] == 1 and out['swin.teach_share'] == 1
    # With the teacher detached, KL(p_cnn || p_swin) only trains swin.
    grad_cnn, grad_swin = torch.autograd.grad(
        out['kd.loss_cnn_to_swin'], [zc, zs]
    )
    assert (torch.count_nonzero(grad_cnn) == 0) == detach
    assert torch.count_nonzero(grad_swin) > 0


@pytest.mark.parametrize('granularity', ['pixel', 'image'])
def test_fixed_teacher_teaches_every_pixel_one_way(granularity):
    pair = build_pair(
        kd_resolution='labels', granularity=granularity, fixed_teacher='swin'
    )
    logits, labels = logits_and_labels(1)
    out = pair._kd_losses(logits, labels)
    valid = labels != 255
    want = (
        pixel_kl(logits['swin'], logits['cnn']) * valid
    ).sum() / valid.sum()
    torch.testing.assert_close(out['kd.loss_swin_to_cnn'], want)
    assert out['kd.loss_cnn_to_swin'] == 0
    assert out['swin.teach_share'] == 1 and out['cnn.teach_share'] == 0
    # Far from its own best choice: the per-pixel CE still favours cnn on
    # part of the pixels, which does not matter with a fixed teacher.
    safe = labels.masked_fill(~valid, 0)
    ce = [F.cross_entropy(z, safe, reduction='none') for z in logits.values()]
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
