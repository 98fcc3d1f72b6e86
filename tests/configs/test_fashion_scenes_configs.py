"""The Fashion scenes configs build and train: each member alone with the
stock runner, and the pair with BiKDRunner, on a few scenes generated
from synthetic Fashion-MNIST files."""

import dataclasses
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.datasets.fashion_scenes import SCENE_CLASSES
from bikd_mm.models.member import build_member, member_list, parse_members

from ..conftest import REPO
from ..datasets.fashion_mnist_files import write_fashion_mnist

FASHION = osp.join(REPO, 'configs/bikd/fashion')
MEMBERS = sorted(
    glob.glob(osp.join(FASHION, 'members', '*_fashion-scenes.py'))
)
PAIR = osp.join(FASHION, 'seg_pair_fashion_scenes.py')
TINY = dict(num_train=8, num_test=4)


@pytest.fixture
def fashion_root(tmp_path):
    root = tmp_path / 'fashion-mnist'
    root.mkdir()
    return write_fashion_mnist(str(root))


def short(cfg: Config, fashion_root: str, work_dir) -> Config:
    """One training iteration, then validation on the 4 test scenes."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.update(fashion_root=fashion_root, generate_cfg=TINY)
        cfg[key].batch_size = 2
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.param_scheduler = [
        dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1)
    ]
    cfg.default_hooks.checkpoint.update(interval=1, save_best=None)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    return cfg


def test_two_members_a_cnn_and_a_transformer():
    kinds = {
        Config.fromfile(p).model.backbone.type: osp.basename(p)
        for p in MEMBERS
    }
    assert set(kinds) == {'ResNetV1c', 'MixVisionTransformer'}
    for path in MEMBERS:
        cfg = Config.fromfile(path)
        assert cfg.model.decode_head.num_classes == len(SCENE_CLASSES)
        assert cfg.model.data_preprocessor.size == (96, 96)
        assert cfg.train_dataloader.dataset.type == 'FashionScenesDataset'
        assert cfg.val_dataloader.dataset.split == 'test'
        assert 'generate_cfg' not in cfg.val_dataloader.dataset


@pytest.mark.parametrize('path', MEMBERS, ids=osp.basename)
def test_member_trains_alone(path, fashion_root, tmp_path):
    cfg = short(Config.fromfile(path), fashion_root, tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    assert torch.isfinite(torch.tensor(hub.get_scalar('train/loss').current()))
    assert 0.0 <= hub.get_scalar('val/mIoU').current() <= 100.0
    assert osp.isfile(tmp_path / 'work' / 'iter_1.pth')


def test_pair_trains_one_iteration(fashion_root, tmp_path):
    cfg = short(Config.fromfile(PAIR), fashion_root, tmp_path / 'work')
    members = []
    for seed, spec in enumerate(parse_members(cfg.model.members)):
        torch.manual_seed(seed)
        model = build_member(
            dataclasses.replace(spec, checkpoint=None), MODELS
        )
        model.init_weights()
        path = str(tmp_path / f'{spec.name}.pth')
        torch.save(dict(state_dict=model.state_dict()), path)
        members.append(dict(cfg.model.members[seed], checkpoint=path))
    assert [m['name'] for m in members] == ['cnn', 'mit']
    cfg.model.members = members
    cfg.custom_hooks = [dict(type='TeacherMapVisualizationHook', interval=1)]
    runner = RUNNERS.build(cfg)
    runner.train()
    hub = runner.message_hub
    for name in ('cnn', 'mit'):
        assert 0.0 <= hub.get_scalar(f'val/{name}/mIoU').current() <= 100.0
        assert f'train/{name}.teach_share' in hub.log_scalars
    assert osp.isfile(tmp_path / 'work' / 'iter_1.pth')
    assert glob.glob(str(tmp_path / 'work' / 'vis_teacher' / '*.png'))


def lr_curve(cfg: Config, steps: int) -> list:
    """The rate of every iteration under the config's optimizer and
    schedulers, stepped as mmengine's IterBasedTrainLoop steps them."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS

    optim = build_optim_wrapper(torch.nn.Linear(1, 1), cfg.optim_wrapper)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=optim))
        for s in cfg.param_scheduler
    ]
    rates = []
    for _ in range(steps):
        rates.append(optim.get_lr()['lr'][0])
        for scheduler in schedulers:
            scheduler.step()
    return rates


@pytest.mark.parametrize('path', MEMBERS, ids=osp.basename)
def test_member_schedule_warm_up_then_poly_to_the_end(path):
    cfg = Config.fromfile(path)
    assert cfg.train_cfg.max_iters == 8000
    # 10 validations: the plateau is read over the last 20% of the curve.
    assert cfg.train_cfg.val_interval == 800
    assert cfg.default_hooks.checkpoint.save_best == 'mIoU'
    base = cfg.optim_wrapper.optimizer.lr
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    rates = lr_curve(cfg, 8000)
    assert rates[0] == pytest.approx(base * 0.01)
    assert rates[200] == pytest.approx(base, rel=1e-3)
    after = rates[200:]
    assert all(a >= b for a, b in zip(after, after[1:]))
    assert rates[-1] < base * 0.01


def test_pair_fine_tunes_at_a_tenth_with_poly_decay():
    cfg = Config.fromfile(PAIR)
    assert cfg.train_cfg.max_iters == 2000
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=2e-4, weight_decay=1e-5
    )
    members = {
        m['name']: Config.fromfile(m['config']).optim_wrapper.optimizer.lr
        for m in member_list(cfg.model.members)
    }
    assert members == dict(cnn=2e-3, mit=1e-3)
    rates = lr_curve(cfg, 2000)
    # No warm-up: the first iteration runs at the full rate.
    assert rates[0] == pytest.approx(2e-4)
    assert rates[1000] == pytest.approx(2e-4 * 0.5**0.9, rel=1e-2)
    assert all(a >= b for a, b in zip(rates, rates[1:]))
