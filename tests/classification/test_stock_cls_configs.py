"""The ImageNet pair and triple configs (stock mmpretrain configs and zoo
checkpoints) expand as intended and train a step with random weights, no
download."""

import os.path as osp

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

import bikd_mm.engine  # noqa: F401
import bikd_mm.models.classifiers  # noqa: F401
from bikd_mm.engine.runner import expand_pair_config

from .cls_fixtures import REPO, fake_batch

PAIR = osp.join(REPO, 'configs/bikd/cls_pair_vit-b_vit-t.py')
TRIPLE = osp.join(REPO, 'configs/bikd/cls_triple_vit-b_r50_convnext-t.py')


def load(path: str) -> Config:
    cfg = Config.fromfile(path)
    for member in cfg.model.members:
        assert member['checkpoint'].startswith(
            'https://download.openmmlab.com/mmclassification/v0/'
        )
    return expand_pair_config(cfg)


def test_pair_config_reference_settings():
    cfg = load(PAIR)
    names = [m['name'] for m in cfg.model.members]
    assert names == ['vit_b', 'vit_t']
    assert 'data_preprocessor' not in cfg  # each member normalises itself
    for name in names:
        assert cfg.optim_wrapper[name].optimizer == dict(
            type='Adam', lr=1e-6, weight_decay=1e-5
        )
        assert cfg.param_scheduler[name][0].type == 'ConstantLR'
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.train_cfg.max_epochs == 20
    assert cfg.val_evaluator.type == 'MemberMetric'
    assert cfg.val_evaluator.metric.type == 'Accuracy'
    assert cfg.default_hooks.checkpoint.save_best == [
        'vit_b/accuracy/top1',
        'vit_t/accuracy/top1',
    ]


def test_triple_config_builds_and_trains_a_step():
    cfg = load(TRIPLE)
    for member in cfg.model.members:
        member['checkpoint'] = None
    pair = MODELS.build(cfg.model)
    assert pair.member_names == ['vit_b', 'r50', 'convnext_t']
    assert pair.num_classes == 1000
    # The ViT's Mixup/CutMix for all; ResNet-50 keeps its normalisation.
    assert [type(a).__name__ for a in pair.batch_augments.augments] == [
        'Mixup',
        'CutMix',
    ]
    r50 = pair.members['r50'].data_preprocessor
    assert r50.batch_augments is None
    torch.testing.assert_close(
        r50.mean.flatten(), torch.tensor([123.675, 116.28, 103.53])
    )
    wrappers = build_optim_wrapper(pair, cfg.optim_wrapper)
    # 32x32 images keep the step affordable on a CPU.
    log_vars = pair.train_step(
        fake_batch(batch=2, size=32, num_classes=1000), wrappers
    )
    assert torch.isfinite(log_vars['loss'])
    for t in pair.member_names:
        assert f'{t}.loss' in log_vars
        for s in pair.member_names:
            if s != t:
                assert f'kd.loss_{t}_to_{s}' in log_vars
