"""The Mask2Former pair configs (stock mmseg configs, zoo checkpoints)
load, expand and build; the Mask2Former pair trains one step with random
weights, no download."""

import os.path as osp

import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.models.segmentors.mask2former_adapter import Mask2FormerAdapter
from bikd_mm.models.segmentors.member_adapters import EncoderDecoderAdapter
from bikd_mm.utils.config import load_config

from .seg_fixtures import REPO, fake_batch

SMALL = {
    # Random weights: no checkpoint, no ImageNet initialisation download.
    'model.pretrained': None,
    'model.backbone.init_cfg': None,
    # 64x64 inputs and fewer sampled points keep the step affordable on a
    # CPU (the stock 12544 points per mask take seconds each).
    'model.data_preprocessor.size': (64, 64),
    'model.decode_head.train_cfg.num_points': 256,
}
ZOO = 'https://download.openmmlab.com/mmsegmentation/v0.5/'


def small_pair(path: str):
    cfg = load_config(osp.join(REPO, path))
    for member in cfg.model.members:
        assert member['checkpoint'].startswith(ZOO)
        member['checkpoint'] = None
        member['cfg_options'] = dict(SMALL)
        if 'upernet_' in member['config']:
            member['cfg_options'].pop('model.decode_head.train_cfg.num_points')
    expand_pair_config(cfg)
    return cfg, revert_sync_batchnorm(MODELS.build(cfg.model))


def backbone_lrs(wrapper) -> set:
    return {
        group['lr']
        for group in wrapper.optimizer.param_groups
        if group['lr'] != wrapper.optimizer.defaults['lr']
    }


def test_mask2former_pair_config_builds_and_trains_one_step():
    cfg, pair = small_pair('configs/bikd/seg_pair_m2f_r50_swin-t.py')
    assert [m['name'] for m in cfg.model.members] == ['r50', 'swin']
    assert cfg.model.granularity == 'image'
    assert cfg.model.selection_loss == 'task_loss'
    assert cfg.train_dataloader.batch_size == 4
    assert [s.type for s in cfg.param_scheduler.swin] == ['LinearLR', 'PolyLR']
    assert all(
        isinstance(a, Mask2FormerAdapter) for a in pair.adapters.values()
    )
    assert pair.num_classes == 150
    wrappers = build_optim_wrapper(pair, cfg.optim_wrapper)
    for name in ('r50', 'swin'):
        optimizer = wrappers[name].optimizer
        assert type(optimizer).__name__ == 'AdamW'
        assert optimizer.defaults['lr'] == 1e-6
        assert optimizer.defaults['weight_decay'] == 1e-5
        assert backbone_lrs(wrappers[name]) == {1e-7}
    before = [p.detach().clone() for p in pair.parameters()]
    # Labels from 12 of the 150 classes: 12 masks to match per image.
    log_vars = pair.train_step(
        fake_batch(batch=2, size=64, num_classes=12), wrappers
    )
    assert torch.isfinite(log_vars['loss'])
    assert {
        'r50.decode.loss_cls',
        'swin.decode.d8.loss_dice',
        'kd.loss_r50_to_swin',
        'kd.loss_swin_to_r50',
    } <= set(log_vars)
    changed = sum(
        not torch.equal(a, b) for a, b in zip(before, pair.parameters())
    )
    assert changed > len(before) // 2


def test_mixed_family_config_builds():
    cfg, pair = small_pair('configs/bikd/seg_pair_m2f_upernet.py')
    assert isinstance(pair.adapters['m2f'], Mask2FormerAdapter)
    assert isinstance(pair.adapters['upernet'], EncoderDecoderAdapter)
    assert cfg.model.granularity == 'pixel'
    assert cfg.val_evaluator.members == ['m2f', 'upernet']
    assert cfg.default_hooks.checkpoint.save_best == [
        'm2f/mIoU',
        'upernet/mIoU',
    ]
    wrappers = build_optim_wrapper(pair, cfg.optim_wrapper)
    assert backbone_lrs(wrappers['m2f']) == {1e-7}
    assert backbone_lrs(wrappers['upernet']) == set()
