"""BiKDClassifier's transfer options: mutual learning and a fixed teacher,
against direct computations."""

import torch

from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor

from .cls_fixtures import fake_batch
from .test_bikd_classifier import build_pair


def sample_kl(zt, zs):
    return (zt.softmax(1) * (zt.log_softmax(1) - zs.log_softmax(1))).sum(1)


def test_selection_all_distils_both_ways_on_every_sample():
    pair = build_pair(selection='all', detach_teacher=True)
    torch.manual_seed(0)
    logits = {
        n: torch.randn(16, 10, requires_grad=True) for n in ('cnn', 'vit')
    }
    target = torch.randint(0, 10, (16,))
    out = pair._kd_losses(logits, target)
    zc, zv = logits['cnn'], logits['vit']
    torch.testing.assert_close(
        out['kd.loss_cnn_to_vit'], sample_kl(zc, zv).mean()
    )
    torch.testing.assert_close(
        out['kd.loss_vit_to_cnn'], sample_kl(zv, zc).mean()
    )
    assert out['cnn.teach_share'] == 1 and out['vit.teach_share'] == 1
    # DML: each direction trains its student only.
    grad_cnn, grad_vit = torch.autograd.grad(
        out['kd.loss_vit_to_cnn'], [zc, zv], allow_unused=True
    )
    assert grad_vit is None or torch.count_nonzero(grad_vit) == 0
    torch.testing.assert_close(
        grad_cnn, (zc.softmax(1) - zv.detach().softmax(1)) / 16
    )


def test_fixed_teacher_teaches_every_sample_and_stays_frozen():
    pair = build_pair(fixed_teacher='vit')
    torch.manual_seed(1)
    logits = {n: torch.randn(16, 10) for n in ('cnn', 'vit')}
    target = torch.randint(0, 10, (16,))
    out = pair._kd_losses(logits, target)
    torch.testing.assert_close(
        out['kd.loss_vit_to_cnn'],
        sample_kl(logits['vit'], logits['cnn']).mean(),
    )
    assert out['kd.loss_cnn_to_vit'] == 0
    assert out['vit.teach_share'] == 1 and out['cnn.teach_share'] == 0

    adamw = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))
    wrappers = BiKDOptimWrapperConstructor(dict(cnn=adamw, vit=adamw))(pair)
    pair.train()
    assert not pair.members['vit'].training
    before = {
        n: {k: v.clone() for k, v in m.state_dict().items()}
        for n, m in pair.members.items()
    }
    pair.train_step(fake_batch(batch=8), wrappers)
    for key, value in before['vit'].items():
        torch.testing.assert_close(
            pair.members['vit'].state_dict()[key], value, msg=key
        )
    after = pair.members['cnn'].state_dict()
    assert any(
        not torch.equal(after[k], v)
        for k, v in before['cnn'].items()
        if v.is_floating_point()
    )
