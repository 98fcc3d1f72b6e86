"""Pairs with Mask2Former members through the Runner on the digits data:
train, evaluate every member, export a member that stock mmseg loads."""

import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS

import bikd_mm  # noqa: F401
from bikd_mm.utils.checkpoint import load_checkpoint_file
from bikd_mm.utils.export import export_member
from tests.models.segmentors.seg_fixtures import (
    MEMBER_CONFIGS,
    REPO,
    fake_batch,
)

from .test_pair_runner import PAIR, write_member_checkpoints


def m2f_pair_cfg(tmp_path, data_root, kinds: dict, **options) -> Config:
    cfg = Config.fromfile(PAIR)
    cfg.model.members = [
        dict(name=name, config=osp.join(REPO, MEMBER_CONFIGS[kind]))
        for name, kind in kinds.items()
    ]
    cfg.model.update(options)
    write_member_checkpoints(cfg, str(tmp_path))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].batch_size = 4
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 2
    cfg.param_scheduler[0].end = 2
    # One checkpoint, for the export; saving one (with the config as
    # formatted text) costs more than a training step of these members.
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.checkpoint.save_best = None
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    cfg.custom_hooks = [
        dict(type='TeacherMapVisualizationHook', interval=1, max_samples=1)
    ]
    return cfg


def train_and_check(cfg: Config):
    """Train two iterations; every member changes and is evaluated."""
    runner = RUNNERS.build(cfg)
    runner.train()
    hub = runner.message_hub
    first, second = (m['name'] for m in cfg.model.members)
    assert {
        f'train/{first}.decode.d0.loss_dice',
        f'train/kd.loss_{first}_to_{second}',
        f'train/kd.loss_{second}_to_{first}',
    } <= set(hub.log_scalars)
    for spec in cfg.model.members:
        name = spec['name']
        assert 0.0 <= hub.get_scalar(f'val/{name}/mIoU').current() <= 100
        assert f'train/{name}.teach_share' in hub.log_scalars
        start = load_checkpoint_file(str(spec['checkpoint']))
        now = runner.model.members[name].state_dict()
        changed = [
            k
            for k, v in start['state_dict'].items()
            if v.is_floating_point() and not torch.equal(v, now[k])
        ]
        assert len(changed) > len(start['state_dict']) // 2, name
    # image | ground truth | each member | teacher map
    assert osp.isfile(osp.join(cfg.work_dir, 'vis_teacher', 'iter_2_0.png'))
    return runner


def test_mask2former_pair_selects_by_image_task_loss(tmp_path, seg_data_root):
    cfg = m2f_pair_cfg(
        tmp_path,
        seg_data_root,
        dict(a='m2f', b='m2f'),
        granularity='image',
        selection_loss='task_loss',
    )
    train_and_check(cfg)


def test_mixed_pair_trains_and_exports_a_stock_member(tmp_path, seg_data_root):
    """Mask2Former + UPerNet, per-pixel selection; the exported
    Mask2Former member loads in stock mmseg with identical outputs."""
    from mmseg.apis import init_model

    cfg = m2f_pair_cfg(
        tmp_path,
        seg_data_root,
        dict(m2f='m2f', cnn='cnn'),
        granularity='pixel',
        kd_resolution='labels',
    )
    runner = train_and_check(cfg)
    ckpt = osp.join(cfg.work_dir, 'iter_2.pth')
    out = tmp_path / 'exported_m2f.pth'
    export_member(ckpt, 'm2f', str(out))
    stock = init_model(
        Config.fromfile(osp.join(REPO, MEMBER_CONFIGS['m2f'])),
        str(out),
        device='cpu',
    )
    pair = runner.model
    pair.eval()
    data = pair.data_preprocessor(fake_batch(batch=2), False)
    inputs, samples = pair._member_batch(
        'm2f', data['inputs'], data['data_samples'], False
    )
    with torch.no_grad():
        want = pair.members['m2f'].predict(inputs, samples)
        got = stock.predict(inputs, samples)
    for g, w in zip(got, want):
        torch.testing.assert_close(
            g.seg_logits.data, w.seg_logits.data, rtol=0, atol=0
        )
        assert torch.equal(g.pred_sem_seg.data, w.pred_sem_seg.data)
    # The trained weights, not the starting checkpoint's.
    start = load_checkpoint_file(str(cfg.model.members[0]['checkpoint']))
    assert not torch.equal(
        start['state_dict']['decode_head.cls_embed.weight'],
        stock.decode_head.cls_embed.weight,
    )
