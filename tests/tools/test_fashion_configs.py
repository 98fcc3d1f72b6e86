"""The Fashion-MNIST configs: what each member trains alone, what the pair
trains, and that both members take 28x28 one-channel images."""

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ..conftest import REPO

MEMBERS = osp.join(REPO, 'configs/bikd/fashion/members')
PAIR = osp.join(REPO, 'configs/bikd/fashion/cls_pair_fashion_mnist.py')


@pytest.mark.parametrize(
    'name, optimizer, lr, iters, warmup',
    [
        ('resnet-cifar-small_fashion', 'SGD', 0.1, 1900, 100),
        ('vit-small_fashion', 'AdamW', 2e-3, 2800, 200),
    ],
)
def test_member_schedules(name, optimizer, lr, iters, warmup):
    cfg = Config.fromfile(osp.join(MEMBERS, f'{name}.py'))
    assert cfg.optim_wrapper.optimizer.type == optimizer
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.train_cfg.max_iters == iters
    # Validation ten times over the run, the last one at its end.
    assert iters % cfg.train_cfg.val_interval == 0
    assert iters // cfg.train_cfg.val_interval == 10
    ramp, cosine = cfg.param_scheduler
    assert (ramp.type, ramp.begin, ramp.end) == ('LinearLR', 0, warmup)
    assert (cosine.type, cosine.begin, cosine.end) == (
        'CosineAnnealingLR',
        warmup,
        iters,
    )
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.train_dataloader.batch_size == 64

    from mmpretrain.registry import MODELS

    import bikd_mm  # noqa: F401

    init_default_scope('mmpretrain')
    model = MODELS.build(
        dict(cfg.model, data_preprocessor=cfg.data_preprocessor)
    )
    logits = model(torch.zeros(2, 1, 28, 28), mode='tensor')
    assert tuple(logits.shape) == (2, 10)


def test_pair_continues_at_one_constant_small_rate():
    cfg = Config.fromfile(PAIR)
    assert cfg.model.type == 'BiKDClassifier'
    assert [m['name'] for m in cfg.model.members] == ['cnn', 'vit']
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=1e-4, weight_decay=1e-4
    )
    (scheduler,) = cfg.param_scheduler
    assert scheduler.type == 'ConstantLR' and scheduler.factor == 1.0
    assert cfg.train_cfg.max_iters == scheduler.end == 300
