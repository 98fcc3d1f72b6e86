"""tools/train.py and tools/test.py on a stock mmseg config, in a
subprocess, as a user runs them."""

import json
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO

STOCK = 'mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py'
TINY = [
    'model.pretrained=None',
    'model.data_preprocessor.size=(64,64)',
    'model.decode_head.num_classes=11',
    'model.auxiliary_head.num_classes=11',
    'model.decode_head.channels=16',
    'model.auxiliary_head.channels=16',
    'train_cfg.max_iters=2',
    'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2',
    'default_hooks.logger.interval=1',
    'train_dataloader.batch_size=2',
]


def user_config(tmp_path, data_root: str) -> str:
    """A user's config: a stock mmseg config on the digits data."""
    loader = (
        'dict(batch_size=2, num_workers=0, persistent_workers=False, '
        "dataset=dict(_delete_=True, type='DigitsSegDataset', "
        "data_root={root!r}, data_prefix=dict(img_path='img_dir/{split}', "
        "seg_map_path='ann_dir/{split}'), pipeline=["
        "dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), "
        "dict(type='PackSegInputs')]))"
    )
    path = tmp_path / 'fcn_digits.py'
    path.write_text(
        f'_base_ = [{STOCK!r}]\n'
        'train_dataloader = '
        + loader.format(root=data_root, split='train')
        + '\n'
        'val_dataloader = ' + loader.format(root=data_root, split='val') + '\n'
        'test_dataloader = val_dataloader\n'
    )
    return str(path)


def run_tool(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope='module')
def trained(tmp_path_factory, seg_data_root):
    tmp = tmp_path_factory.mktemp('train_tool')
    cfg = user_config(tmp, seg_data_root)
    work = tmp / 'work'
    result = run_tool(
        'tools/train.py', cfg, '--work-dir', str(work), '--cfg-options', *TINY
    )
    return cfg, work, result


def test_train_tool_runs_a_stock_config(trained):
    cfg, work, result = trained
    assert result.returncode == 0, result.stderr[-3000:]
    assert osp.isfile(work / 'iter_2.pth')
    assert 'mIoU' in result.stdout + result.stderr


def test_test_tool_evaluates_the_checkpoint(trained, tmp_path):
    cfg, work, _ = trained
    out = tmp_path / 'metrics.json'
    result = run_tool(
        'tools/test.py',
        cfg,
        str(work / 'iter_2.pth'),
        '--work-dir',
        str(tmp_path),
        '--metrics',
        str(out),
        '--cfg-options',
        *TINY,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(out.read_text())
    assert 0 <= metrics['mIoU'] <= 100


def test_misspelt_override_is_refused(trained):
    cfg, work, _ = trained
    result = run_tool(
        'tools/train.py',
        cfg,
        '--work-dir',
        str(work),
        '--cfg-options',
        'train_cfgg.max_iters=1',
    )
    assert result.returncode != 0
    assert "'train_cfgg' is not in the config" in result.stderr
