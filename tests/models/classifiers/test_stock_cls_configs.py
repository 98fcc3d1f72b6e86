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
from bikd_mm.engine.runner.pair_config import member_lr_curves

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
        # The stock-recipe variant keeps each member's parameter groups.
        assert cfg.optim_wrapper[name].paramwise_cfg.norm_decay_mult == 0.0
    assert cfg.optim_wrapper.vit_t.clip_grad == dict(max_norm=5.0)
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


REFERENCE = osp.join(REPO, 'configs/bikd/cls_pair_vit-b_vit-t_reference.py')


def test_reference_recipe_config():
    """The reference's recipe: plain cross-entropy on hard labels, crop +
    flip + colour jitter 0.4, no mixing, 256 / 224 evaluation, Adam 1e-6
    at a constant rate for 20 epochs of batch 128."""
    cfg = load(REFERENCE)
    names = [m['name'] for m in cfg.model.members]
    assert names == ['vit_b', 'vit_t']
    for name in names:
        assert cfg.optim_wrapper[name].optimizer == dict(
            type='Adam', lr=1e-6, weight_decay=1e-5
        )
        assert 'paramwise_cfg' not in cfg.optim_wrapper[name]
    curves = member_lr_curves(cfg)
    for curve in curves.values():
        assert (curve.unit, curve.length, curve.warmup) == ('epoch', 20, 0)
        assert set(curve.groups[0].rates) == {1e-6}
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.train_dataloader.drop_last is True
    train = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in train] == [
        'LoadImageFromFile',
        'RandomResizedCrop',
        'RandomFlip',
        'ColorJitter',
        'PackInputs',
    ]
    assert train[1].scale == 224
    assert train[1].crop_ratio_range == (0.08, 1.0)
    assert train[1].interpolation == 'bilinear'
    assert (train[3].brightness, train[3].contrast, train[3].saturation) == (
        0.4,
        0.4,
        0.4,
    )
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        test = loader.dataset.pipeline
        assert [t.type for t in test] == [
            'LoadImageFromFile',
            'ResizeEdge',
            'CenterCrop',
            'PackInputs',
        ]
        assert (test[1].scale, test[1].edge) == (256, 'short')
        assert test[2].crop_size == 224

    for member in cfg.model.members:
        member['checkpoint'] = None
    pair = MODELS.build(cfg.model)
    assert pair.batch_augments is None
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 1000, generator=gen)
    labels = torch.randint(0, 1000, (4,), generator=gen)
    for name in names:
        head = pair.members[name].head
        # The stock configs' label smoothing and mixing are gone.
        assert type(head.loss_module).__name__ == 'CrossEntropyLoss'
        assert pair.members[name].data_preprocessor.batch_augments is None
        torch.testing.assert_close(
            head.loss_module(scores, labels),
            torch.nn.functional.cross_entropy(scores, labels),
        )
    # The stock-recipe variant keeps them.
    stock = MODELS.build(
        dict(
            load(PAIR).model,
            members=[
                dict(m, checkpoint=None) for m in load(PAIR).model.members
            ],
        )
    )
    assert type(stock.members['vit_t'].head.loss_module).__name__ == (
        'LabelSmoothLoss'
    )
    assert [type(a).__name__ for a in stock.batch_augments.augments] == [
        'Mixup',
        'CutMix',
    ]
