"""Member checkpoints as users bring them load in weights-only mode, with
no opt-out: those that stock mmseg / mmpretrain ``tools/train.py`` write on
this stack (their message hub pickles ``getattr(HistoryBuffer, 'min')``)
and files shaped like the mmseg 0.x model zoo's. A ``getattr`` on anything
else is still refused, as is planted code."""

import os
import os.path as osp
import pickle
import subprocess
import sys
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.utils import get_installed_path
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS

import bikd_mm  # noqa: F401
from bikd_mm.models.member import build_member, parse_members
from bikd_mm.utils.checkpoint import (
    UNSAFE_ENV,
    UnsafeCheckpointError,
    load_checkpoint_file,
)

from ..conftest import REPO

SEG_MODEL = osp.join(REPO, 'configs/_base_/models/upernet_r18-tiny.py')
CLS_MODEL = osp.join(REPO, 'configs/_base_/models/resnet-tiny_cls.py')
SEG_CLASSES = tuple(f'c{i}' for i in range(11))

# A stock runtime, a one-step schedule, no validation: what a user's own
# config for training one member alone looks like, without bikd_mm.
STOCK_TRAIN = """
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9)
)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    logger=dict(type='LoggerHook', interval=1),
)
log_level = 'WARNING'
"""


@pytest.fixture
def no_opt_in(monkeypatch):
    monkeypatch.setenv(UNSAFE_ENV, '0')


def stock_train(tool_package: str, config: str, work_dir) -> str:
    """Run ``<package>/.mim/tools/train.py`` (stock, no bikd_mm) once."""
    tool = osp.join(get_installed_path(tool_package), '.mim/tools/train.py')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='')
    result = subprocess.run(
        [sys.executable, tool, config, '--work-dir', str(work_dir)],
        cwd=str(work_dir.parent),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    path = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(path)
    return path


def seg_config(tmp_path, data_root: str) -> str:
    path = tmp_path / 'upernet_r18_mydata.py'
    path.write_text(
        f"_base_ = [{SEG_MODEL!r}, 'mmseg::_base_/default_runtime.py']\n"
        + STOCK_TRAIN
        + f"""
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='BaseSegDataset',
        data_root={data_root!r},
        metainfo=dict(classes={SEG_CLASSES!r}),
        img_suffix='.png',
        seg_map_suffix='.png',
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'
        ),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ],
    ),
)
"""
    )
    return str(path)


def image_folder(root) -> str:
    """A ``CustomDataset`` folder: two classes of small images."""
    rng = np.random.default_rng(0)
    for label in ('cat', 'dog'):
        os.makedirs(root / label)
        for i in range(4):
            image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            cv2.imwrite(str(root / label / f'{i}.png'), image)
    return str(root)


def cls_config(tmp_path) -> str:
    path = tmp_path / 'resnet_tiny_mydata.py'
    data = image_folder(tmp_path / 'images')
    path.write_text(
        f"_base_ = [{CLS_MODEL!r}, 'mmpretrain::_base_/default_runtime.py']\n"
        + STOCK_TRAIN
        + f"""
model = dict(head=dict(num_classes=2))
data_preprocessor = dict(num_classes=2, mean=[127.5] * 3, std=[58.0] * 3)
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='CustomDataset',
        data_root={data!r},
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')],
    ),
)
"""
    )
    return str(path)


def pair_member(config: str, checkpoint: str) -> list:
    """The members of a pair config naming the user's config and weights."""
    return parse_members(
        [
            dict(name='mine', config=config, checkpoint=checkpoint),
            dict(name='other', config=config),
        ]
    )


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_stock_train_checkpoint_loads_as_a_member(
    task, tmp_path, seg_data_root, no_opt_in
):
    if task == 'seg':
        config = seg_config(tmp_path, seg_data_root)
        path = stock_train('mmsegmentation', config, tmp_path / 'work')
        registry = SEG_MODELS
    else:
        config = cls_config(tmp_path)
        path = stock_train('mmpretrain', config, tmp_path / 'work')
        registry = CLS_MODELS
    with open(path, 'rb') as f:
        raw = f.read()
    # What makes these files special: the message hub's getattr calls.
    assert b'getattr' in raw and b'HistoryBuffer' in raw

    checkpoint = load_checkpoint_file(path, owner='test')
    hub = checkpoint['message_hub']['log_scalars']
    assert isinstance(hub['train/loss'], HistoryBuffer)
    assert hub['train/loss'].current() == pytest.approx(
        hub['train/loss'].data[0][-1]
    )
    spec = pair_member(config, path)[0]
    member = build_member(spec, registry)
    for key, value in member.state_dict().items():
        torch.testing.assert_close(
            value, checkpoint['state_dict'][key], rtol=0, atol=0
        )


class Call:
    """Pickles as ``getattr(obj, name)``, as the message hub's methods."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


@pytest.mark.parametrize(
    'obj, name',
    [
        (HistoryBuffer, 'update'),  # not a statistics method
        (HistoryBuffer, '__init_subclass__'),
        (OrderedDict, 'fromkeys'),  # another allowed class
        (torch.Tensor, 'new_empty'),
    ],
)
def test_other_getattr_calls_are_refused(obj, name, tmp_path, no_opt_in):
    path = tmp_path / 'member.pth'
    torch.save(
        dict(state_dict={'w': torch.ones(1)}, hub=Call(obj, name)), path
    )
    assert b'getattr' in pickle.dumps(Call(obj, name), protocol=2)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        load_checkpoint_file(str(path), owner='test')


def test_mmseg_0x_zoo_shaped_file_loads(tmp_path, no_opt_in):
    """A file as the mmseg 0.x zoo ships them (legacy serialisation, meta
    with CLASSES, PALETTE, the config text, mmcv_version and time, and the
    SGD state) builds a member; the stock 1.x ``init_model`` reads its
    classes."""
    from mmseg.apis import init_model

    model_cfg = Config.fromfile(SEG_MODEL).model
    spec = parse_members(
        [dict(name='a', model=model_cfg), dict(name='b', model=model_cfg)]
    )[0]
    torch.manual_seed(0)
    weights = build_member(spec, SEG_MODELS).state_dict()
    path = tmp_path / 'upernet_r18_512x512_160k_ade20k_20220101.pth'
    torch.save(
        dict(
            meta=dict(
                CLASSES=SEG_CLASSES,
                PALETTE=[[i, 2 * i, 3 * i] for i in range(11)],
                config=Config.fromfile(SEG_MODEL).pretty_text,
                mmcv_version='1.7.1',
                time='Mon Jan 10 12:00:00 2022',
                env_info='sys.platform: linux',
                seed=0,
                exp_name='upernet_r18.py',
                epoch=0,
                iter=160000,
            ),
            state_dict=OrderedDict(weights),
            optimizer=dict(
                state={0: dict(momentum_buffer=torch.zeros(3))},
                param_groups=[
                    dict(lr=1e-4, momentum=0.9, weight_decay=5e-4, params=[0])
                ],
            ),
        ),
        path,
        _use_new_zipfile_serialization=False,
    )
    spec.checkpoint = str(path)
    member = build_member(spec, SEG_MODELS)
    for key, value in member.state_dict().items():
        torch.testing.assert_close(value, weights[key], rtol=0, atol=0)
    stock = init_model(Config(dict(model=model_cfg)), str(path), 'cpu')
    assert stock.dataset_meta['classes'] == SEG_CLASSES
