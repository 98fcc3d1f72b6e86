"""ClassWeightedCrossEntropyLoss against a direct formula, and the demo
member and pair that use it."""

import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.runner import expand_pair_config
from tests.models.segmentors.seg_fixtures import REPO, fake_batch, member_model

WEIGHTS = [0.1, 1.0, 2.5]


def direct(logits, labels, class_weight, pixel_weight=None, ignore=255):
    """sum w[y] * -log softmax(x)[y] / sum w[y] over kept pixels, by loop."""
    num, den = 0.0, 0.0
    batch, _, height, width = logits.shape
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                y = int(labels[b, i, j])
                if y == ignore:
                    continue
                w = class_weight[y]
                if pixel_weight is not None:
                    w *= float(pixel_weight[b, i, j])
                x = logits[b, :, i, j].tolist()
                log_z = math.log(sum(math.exp(v) for v in x))
                num += w * (log_z - x[y])
                den += w
    return num / den


def test_matches_direct_formula_and_torch():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 4, 5))
    labels[0, 0] = 255
    labels[1, 2, :3] = 255
    loss = MODELS.build(
        dict(
            type='ClassWeightedCrossEntropyLoss',
            class_weight=WEIGHTS,
            loss_weight=2.0,
        )
    )
    got = loss(logits, labels)
    assert got.item() == pytest.approx(
        2 * direct(logits, labels, WEIGHTS), rel=1e-6
    )
    reference = F.cross_entropy(
        logits,
        labels,
        weight=torch.tensor(WEIGHTS, dtype=torch.float64),
        ignore_index=255,
    )
    assert got.item() == pytest.approx(2 * reference.item(), rel=1e-6)
    pixel = torch.rand(2, 4, 5, dtype=torch.float64)
    assert loss(logits, labels, weight=pixel).item() == pytest.approx(
        2 * direct(logits, labels, WEIGHTS, pixel), rel=1e-6
    )


def test_all_ignored_gives_zero_with_finite_gradient():
    loss = MODELS.build(
        dict(type='ClassWeightedCrossEntropyLoss', class_weight=WEIGHTS)
    )
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    value = loss(logits, torch.full((1, 2, 2), 255))
    value.backward()
    assert value.item() == 0
    assert torch.all(logits.grad == 0)


def test_bad_settings_and_inputs_are_refused():
    build = MODELS.build
    with pytest.raises(ValueError, match='class_weight'):
        build(dict(type='ClassWeightedCrossEntropyLoss', class_weight=[]))
    with pytest.raises(ValueError, match='class_weight'):
        build(dict(type='ClassWeightedCrossEntropyLoss', class_weight=[0, -1]))
    with pytest.raises(ValueError, match='loss_'):
        build(
            dict(
                type='ClassWeightedCrossEntropyLoss',
                class_weight=WEIGHTS,
                loss_name='ce',
            )
        )
    loss = build(
        dict(type='ClassWeightedCrossEntropyLoss', class_weight=WEIGHTS)
    )
    with pytest.raises(ValueError, match=r'\[B, 3, H, W\]'):
        loss(torch.randn(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match='label 7 outside'):
        loss(torch.randn(1, 3, 2, 2), torch.full((1, 2, 2), 7))


MEMBER = 'configs/bikd/demo/members/upernet_swin-tiny-cw_digits.py'
PAIR = 'configs/bikd/demo/seg_pair_digits_cnn_swin-cw.py'


def test_weighted_member_builds_and_trains_on_ignored_labels():
    cfg = Config.fromfile(osp.join(REPO, MEMBER))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    for head in (model.decode_head, model.auxiliary_head):
        assert type(head.loss_decode).__name__ == (
            'ClassWeightedCrossEntropyLoss'
        )
        assert head.loss_decode.class_weight.tolist() == pytest.approx(
            [0.1] + [1.0] * 10
        )
    data = model.data_preprocessor(fake_batch(ignore_fraction=0.2), True)
    losses = model(**data, mode='loss')
    total = losses['decode.loss_ce'] + losses['aux.loss_ce']
    assert torch.isfinite(total)
    total.backward()


def test_pair_replaces_the_second_member_only():
    cfg = Config.fromfile(osp.join(REPO, PAIR))
    base = Config.fromfile(
        osp.join(REPO, 'configs/bikd/demo/seg_pair_digits.py')
    )
    names = [m['name'] for m in cfg.model.members]
    assert names == ['cnn', 'swin_cw']
    assert cfg.model.members[0] == base.model.members[0]
    assert cfg.model.members[1]['config'] == osp.join(REPO, MEMBER)
    assert cfg.default_hooks.checkpoint.save_best == [
        'cnn/mIoU',
        'swin_cw/mIoU',
    ]
    # Same fine-tuning settings as the demo pair.
    assert cfg.optim_wrapper == base.optim_wrapper
    assert cfg.train_cfg.max_iters == base.train_cfg.max_iters
    expand_pair_config(cfg)
    assert set(cfg.param_scheduler) == {'cnn', 'swin_cw'}
    assert cfg.val_evaluator.members == ['cnn', 'swin_cw']


def test_as_member_decode_loss_in_a_pair():
    loss = dict(
        type='ClassWeightedCrossEntropyLoss', class_weight=[0.1] + [1.0] * 10
    )
    members = [
        dict(name='cnn', model=member_model('cnn')),
        dict(
            name='swin',
            model=member_model(
                'swin',
                decode_head=dict(loss_decode=loss),
                auxiliary_head=dict(loss_decode=dict(loss, loss_weight=0.4)),
            ),
        ),
    ]
    pair = MODELS.build(dict(type='BiKDSegmentor', members=members))
    data = pair.data_preprocessor(fake_batch(), True)
    losses = pair(**data, mode='loss')
    assert torch.isfinite(losses['swin.decode.loss_ce'])
    assert torch.isfinite(losses['kd.loss_swin_to_cnn'])
