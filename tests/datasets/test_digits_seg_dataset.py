import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from bikd_mm.datasets import DigitsSegDataset

CONFIG = osp.join(
    osp.dirname(__file__),
    '..',
    '..',
    'configs',
    '_base_',
    'datasets',
    'digits_seg.py',
)
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _check_sample(sample):
    assert tuple(sample['inputs'].shape) == (3, 64, 64)
    label = sample['data_samples'].gt_sem_seg.data
    assert tuple(label.shape) == (1, 64, 64)
    assert set(np.unique(label.numpy()).tolist()) <= set(range(11)) | {255}


def test_build_from_config_dict(seg_root):
    dataset = DATASETS.build(
        dict(
            type='DigitsSegDataset',
            _scope_='mmseg',
            data_root=seg_root,
            data_prefix=dict(
                img_path='img_dir/val', seg_map_path='ann_dir/val'
            ),
            pipeline=PIPELINE,
        )
    )
    assert isinstance(dataset, DigitsSegDataset)
    assert len(dataset) == 8
    assert dataset.metainfo['classes'][0] == 'background'
    assert len(dataset.metainfo['classes']) == 11
    assert len(dataset.metainfo['palette']) == 11
    _check_sample(dataset[0])


def test_base_config_builds(seg_root):
    cfg = Config.fromfile(CONFIG)
    assert cfg.val_evaluator == dict(type='IoUMetric', iou_metrics=['mIoU'])
    assert cfg.train_dataloader.batch_size == 8
    for loader, count in ((cfg.train_dataloader, 16), (cfg.val_dataloader, 8)):
        dataset_cfg = dict(loader.dataset, data_root=seg_root, _scope_='mmseg')
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == count
        _check_sample(dataset[0])


def test_missing_root_is_generated(tmp_path, seg_root):
    root = tmp_path / 'data' / 'digits_seg'
    dataset = DigitsSegDataset(
        data_root=str(root),
        generate_cfg=dict(num_train=16, num_val=8),
    )
    assert len(dataset) == 16
    assert (root / 'meta.json').is_file()
    with open(root / 'img_dir' / 'train' / '00003.png', 'rb') as f:
        generated = f.read()
    with open(osp.join(seg_root, 'img_dir/train/00003.png'), 'rb') as f:
        assert generated == f.read()


def test_none_root_uses_cache(isolated_cache):
    dataset = DigitsSegDataset(generate_cfg=dict(num_train=3, num_val=2))
    assert dataset.data_root.startswith(str(isolated_cache / 'digits_seg'))
    assert len(dataset) == 3


def test_no_auto_generate(tmp_path):
    root = tmp_path / 'digits_seg'
    with pytest.raises(FileNotFoundError, match='auto_generate'):
        DigitsSegDataset(data_root=str(root), auto_generate=False)
    assert not root.exists()


def test_incomplete_root_names_the_folder(tmp_path, seg_root):
    root = tmp_path / 'digits_seg'
    shutil.copytree(seg_root, root)
    shutil.rmtree(root / 'ann_dir' / 'val')
    # The train split is intact and still loads.
    assert len(DigitsSegDataset(data_root=str(root))) == 16
    with pytest.raises(FileNotFoundError, match=r"ann_dir/val' is missing"):
        DigitsSegDataset(
            data_root=str(root),
            data_prefix=dict(
                img_path='img_dir/val', seg_map_path='ann_dir/val'
            ),
        )


def test_missing_annotation_is_reported(tmp_path, seg_root):
    root = tmp_path / 'digits_seg'
    shutil.copytree(seg_root, root)
    (root / 'ann_dir' / 'train' / '00002.png').unlink()
    with pytest.raises(FileNotFoundError, match='00002.png'):
        DigitsSegDataset(data_root=str(root))
