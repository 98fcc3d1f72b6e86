"""The Mask2Former pair configs (stock mmseg configs, zoo checkpoints)
load, expand and build with the stock Mask2Former training details (data
pipeline, gradient clipping, parameter groups) at the reference rates; the
Mask2Former pair trains one step with random weights, no download."""

import os.path as osp
from collections import Counter

import pytest
import torch
import torch.nn as nn
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.engine.runner.pair_config import member_lr_curves
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


STOCK_M2F = 'mmseg::mask2former/mask2former_{}_8xb2-160k_ade20k-512x512.py'
# Parameters that the stock Mask2Former configs keep free of weight decay
# (besides norm layers): the queries, level embeddings and Swin's position
# tables.
NO_DECAY = (
    'query_embed',
    'query_feat',
    'level_embed',
    'absolute_pos_embed',
    'relative_position_bias_table',
)
NORMS = (nn.GroupNorm, nn.LayerNorm, _BatchNorm)


def backbone_lrs(wrapper) -> set:
    return {
        group['lr']
        for group in wrapper.optimizer.param_groups
        if group['lr'] != wrapper.optimizer.defaults['lr']
    }


def check_mask2former_wrapper(member: nn.Module, wrapper) -> Counter:
    """The wrapper is the stock Mask2Former one at the reference rates.

    Each trainable parameter's learning rate and weight decay are checked
    against the rule of the stock configs, evaluated here from the module
    types and names: lr 1e-6, a tenth of it in the backbone; weight decay
    1e-5, none on norm layers (in the backbone: Swin's, ResNet's are
    frozen), queries, level embeddings and position tables.

    Returns:
        Counter: How many parameters fell in each (part, decay) class.
    """
    optimizer = wrapper.optimizer
    assert type(optimizer).__name__ == 'AdamW'
    assert optimizer.defaults['lr'] == 1e-6
    assert optimizer.defaults['weight_decay'] == 1e-5
    assert optimizer.defaults['eps'] == 1e-8
    assert tuple(optimizer.defaults['betas']) == (0.9, 0.999)
    assert wrapper.clip_grad_kwargs == dict(max_norm=0.01, norm_type=2)
    group_of = {
        id(p): group
        for group in optimizer.param_groups
        for p in group['params']
    }
    seen = Counter()
    for name, param in member.named_parameters():
        if not param.requires_grad:
            assert name.startswith('backbone.'), name
            continue
        owner = member.get_submodule(name.rsplit('.', 1)[0])
        decay = not (
            isinstance(owner, NORMS) or any(k in name for k in NO_DECAY)
        )
        backbone = name.startswith('backbone.')
        group = group_of[id(param)]
        assert group['lr'] == pytest.approx(1e-7 if backbone else 1e-6), name
        assert group['weight_decay'] == (1e-5 if decay else 0.0), name
        seen[('backbone' if backbone else 'head', decay)] += 1
    return seen


def test_mask2former_pair_config_builds_and_trains_one_step():
    cfg, pair = small_pair('configs/bikd/seg_pair_m2f_r50_swin-t.py')
    assert [m['name'] for m in cfg.model.members] == ['r50', 'swin']
    assert cfg.model.granularity == 'image'
    assert cfg.model.selection_loss == 'task_loss'
    assert cfg.train_dataloader.batch_size == 4
    # The reference's schedule: poly decay only, no warm-up.
    assert [s.type for s in cfg.param_scheduler.swin] == ['PolyLR']
    assert all(
        isinstance(a, Mask2FormerAdapter) for a in pair.adapters.values()
    )
    assert pair.num_classes == 150
    wrappers = build_optim_wrapper(pair, cfg.optim_wrapper)
    seen = {
        name: check_mask2former_wrapper(pair.members[name], wrappers[name])
        for name in ('r50', 'swin')
    }
    # Every class is populated (ResNet's norms are frozen, Swin's are not).
    assert seen['r50'][('backbone', False)] == 0
    for name in ('r50', 'swin'):
        assert seen[name][('backbone', True)] > 0
        assert seen[name][('head', True)] > 0
        assert seen[name][('head', False)] > 0
    assert seen['swin'][('backbone', False)] > 0
    assert any(
        'relative_position_bias_table' in n
        for n, _ in pair.members['swin'].named_parameters()
    )
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
    check_mask2former_wrapper(pair.members['m2f'], wrappers['m2f'])
    # UPerNet keeps its own wrapper (no clipping, one group) and trains
    # with the reference AdamW instead of its stock SGD.
    upernet = wrappers['upernet']
    assert not upernet.clip_grad_kwargs
    assert type(upernet.optimizer).__name__ == 'AdamW'
    assert upernet.optimizer.defaults['lr'] == 1e-6
    assert upernet.optimizer.defaults['weight_decay'] == 1e-5
    assert backbone_lrs(upernet) == set()
    assert len(upernet.optimizer.param_groups) == 1


def unscoped(value):
    if isinstance(value, dict):
        return {k: unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return type(value)(unscoped(v) for v in value)
    return value


def test_pair_data_is_the_stock_mask2former_data():
    """Both members' stock configs use one pipeline; the pair inherits it
    (multi-scale resize, 512 x 512 crops, flips, photometric distortion),
    with the reference's batch of 4, 160k iterations, validation every 5k
    and poly decay to 0 without warm-up."""
    stock = [load_config(STOCK_M2F.format(b)) for b in ('r50', 'swin-t')]
    assert stock[0].train_dataloader == stock[1].train_dataloader
    assert stock[0].val_dataloader == stock[1].val_dataloader
    for path in ('seg_pair_m2f_r50_swin-t.py', 'seg_pair_m2f_upernet.py'):
        cfg = load_config(osp.join(REPO, 'configs/bikd', path))
        pipeline = cfg.train_dataloader.dataset.pipeline
        assert pipeline == stock[0].train_dataloader.dataset.pipeline
        assert [t.type for t in pipeline] == [
            'LoadImageFromFile',
            'LoadAnnotations',
            'RandomChoiceResize',
            'RandomCrop',
            'RandomFlip',
            'PhotoMetricDistortion',
            'PackSegInputs',
        ]
        assert pipeline[3].cat_max_ratio == 0.75
        # Inherited through 'mmseg::', the pair's dicts also carry their
        # registry scope.
        assert unscoped(cfg.val_dataloader) == stock[0].val_dataloader
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_cfg.max_iters == 160000
        assert cfg.train_cfg.val_interval == 5000
        assert cfg.default_hooks.checkpoint.interval == 5000
        assert [dict(s) for s in cfg.param_scheduler] == [
            dict(
                type='PolyLR',
                eta_min=0.0,
                power=0.9,
                begin=0,
                end=160000,
                by_epoch=False,
            )
        ]
        curves = member_lr_curves(expand_pair_config(cfg))
        for curve in curves.values():
            # The backbone group at a tenth of the rate, both decaying
            # from their base at the first iteration to 0.
            assert curve.warmup == 0
            assert curve.rate_at(0) == 1e-6 and curve.final == 0.0
            assert curve.rate_at(80000) == pytest.approx(
                1e-6 * (1 - 80000 / 159999) ** 0.9
            )
        assert cfg.model.type == 'BiKDSegmentor'
        assert set(cfg.model) == {
            'type',
            'members',
            'granularity',
            'selection_loss',
            'kd_resolution',
        }
