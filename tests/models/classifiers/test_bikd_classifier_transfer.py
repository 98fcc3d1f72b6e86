"""BiKDClassifier's transfer options: mutual learning and a fixed teacher,
against direct computations."""

import torch

from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor

from .cls_fixtures import fake_batch
from .test_bikd_classifier import build_pair, pair_losses


def sample_kl(zt, zs):
    return (zt.softmax(1) * (zt.log_softmax(1) - zs.log_softmax(1))).sum(1)


def test_selection_all_distils_both_ways_on_every_sample():
    torch.manual_seed(0)
    pair = build_pair(selection='all', detach_teacher=True)
    losses, logits = pair_losses(pair, fake_batch(batch=16))
    zc, zv = logits['cnn'], logits['vit']
    torch.testing.assert_close(
        losses['kd.loss_cnn_to_vit'], sample_kl(zc, zv).mean()
    )
    torch.testing.assert_close(
        losses['kd.loss_vit_to_cnn'], sample_kl(zv, zc).mean()
    )
    assert losses['cnn.teach_share'] == 1 and losses['vit.teach_share'] == 1
    # DML: each direction trains its student only.
    grad_cnn, grad_vit = torch.autograd.grad(
        losses['kd.loss_vit_to_cnn'], [zc, zv], allow_unused=True
    )
    assert grad_vit is None or torch.count_nonzero(grad_vit) == 0
    torch.testing.assert_close(
        grad_cnn, (zc.softmax(1) - zv.detach().softmax(1)) / 16
    )


def test_fixed_teacher_teaches_every_sample_and_stays_frozen():
    torch.manual_seed(1)
    pair = build_pair(fixed_teacher='vit')
    losses, logits = pair_losses(pair, fake_batch(batch=16, seed=1))
    torch.testing.assert_close(
        losses['kd.loss_vit_to_cnn'],
        sample_kl(logits['vit'], logits['cnn']).mean(),
    )
    assert losses['kd.loss_vit_to_cnn'] > 0
    assert losses['kd.loss_cnn_to_vit'] == 0
    assert losses['vit.teach_share'] == 1 and losses['cnn.teach_share'] == 0

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
