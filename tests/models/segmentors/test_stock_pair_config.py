"""The headline config (UPerNet-R50 + UPerNet-Swin-T from stock mmseg
configs) builds and trains 2 iterations with random weights, no download."""

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.engine.runner.pair_config import member_lr_curves
from tests.conftest import REPO

from .seg_fixtures import fake_batch

SMALL = {
    # Random weights: no checkpoint, no ImageNet initialisation download.
    'model.pretrained': None,
    'model.backbone.init_cfg': None,
    # 64x64 inputs keep the step affordable on a CPU.
    'model.data_preprocessor.size': (64, 64),
}


def test_stock_pair_builds_and_trains_two_iterations():
    cfg = Config.fromfile(osp.join(REPO, 'configs/bikd/seg_pair_r50_swin.py'))
    assert [m['name'] for m in cfg.model.members] == ['r50', 'swin']
    for member in cfg.model.members:
        assert member['checkpoint'].startswith('https://download.openmmlab')
        member['checkpoint'] = None
        member['cfg_options'] = SMALL
    expand_pair_config(cfg)
    pair = revert_sync_batchnorm(MODELS.build(cfg.model))
    assert pair.num_classes == 150
    wrappers = build_optim_wrapper(pair, cfg.optim_wrapper)
    # The pair config sets AdamW lr 1e-6 for both members.
    for name in ('r50', 'swin'):
        group = wrappers[name].optimizer.param_groups[0]
        assert type(wrappers[name].optimizer).__name__ == 'AdamW'
        assert group['lr'] == 1e-6
    before = [p.detach().clone() for p in pair.parameters()]
    for step in range(2):
        log_vars = pair.train_step(
            fake_batch(batch=2, size=64, num_classes=150, seed=step), wrappers
        )
        assert torch.isfinite(log_vars['loss'])
        assert {
            'r50.decode.loss_ce',
            'swin.aux.loss_ce',
            'kd.loss_r50_to_swin',
            'kd.loss_swin_to_r50',
        } <= set(log_vars)
    changed = sum(
        not torch.equal(a, b) for a, b in zip(before, pair.parameters())
    )
    assert changed > len(before) // 2


def test_members_keep_their_own_optimizers_without_override():
    cfg = Config.fromfile(osp.join(REPO, 'configs/bikd/seg_pair_r50_swin.py'))
    cfg.pop('optim_wrapper')
    cfg.pop('optim_wrapper_override')
    cfg.pop('param_scheduler')
    for member in cfg.model.members:
        member['checkpoint'] = None
        member['cfg_options'] = SMALL
    expand_pair_config(cfg)
    assert cfg.optim_wrapper.r50.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.swin.optimizer.type == 'AdamW'
    assert (
        cfg.optim_wrapper.swin.paramwise_cfg.custom_keys.norm.decay_mult == 0.0
    )
    # Swin's warm-up + poly from its own config.
    assert [s.type for s in cfg.param_scheduler.swin] == ['LinearLR', 'PolyLR']


def test_pair_configs_fine_tune_with_each_members_groups():
    """What the UPerNet pairs train: AdamW at 1e-6 / 1e-5 for every
    member, Swin's no-decay groups kept, poly decay from 1e-6 to 0 over
    80k iterations with no warm-up (not the schedule base's PolyLR, whose
    eta_min of 1e-4 is above the rate)."""
    for name, members in (
        ('seg_pair_r50_swin.py', ['r50', 'swin']),
        ('seg_triple_r50_r101_swin.py', ['r50', 'r101', 'swin']),
        ('seg_pair_r50_r101.py', ['r50', 'r101']),
    ):
        cfg = expand_pair_config(
            Config.fromfile(osp.join(REPO, 'configs/bikd', name))
        )
        for member in members:
            wrapper = cfg.optim_wrapper[member]
            assert wrapper.optimizer.type == 'AdamW'
            assert wrapper.optimizer.lr == 1e-6
            assert wrapper.optimizer.weight_decay == 1e-5
            if member == 'swin':
                keys = wrapper.paramwise_cfg.custom_keys
                assert keys.relative_position_bias_table.decay_mult == 0.0
                assert keys.absolute_pos_embed.decay_mult == 0.0
                assert keys.norm.decay_mult == 0.0
                assert wrapper.optimizer.betas == (0.9, 0.999)
            else:
                assert 'momentum' not in wrapper.optimizer
        curves = member_lr_curves(cfg)
        assert list(curves) == members
        for curve in curves.values():
            assert (curve.unit, curve.length, curve.warmup) == (
                'iter',
                80000,
                0,
            )
            assert curve.rate_at(0) == 1e-6 and curve.final == 0.0
            assert curve.peak == 1e-6
            assert curve.rate_at(40000) == pytest.approx(
                1e-6 * (1 - 40000 / 79999) ** 0.9
            )


def test_triple_and_within_backbone_configs_expand():
    for name, members in (
        ('seg_triple_r50_r101_swin.py', ['r50', 'r101', 'swin']),
        ('seg_pair_r50_r101.py', ['r50', 'r101']),
    ):
        cfg = Config.fromfile(osp.join(REPO, 'configs/bikd', name))
        assert [m['name'] for m in cfg.model.members] == members
        expand_pair_config(cfg)
        assert set(cfg.optim_wrapper) == {'constructor', *members}
        assert cfg.val_evaluator.members == members
        assert cfg.default_hooks.checkpoint.save_best == [
            f'{m}/mIoU' for m in members
        ]
