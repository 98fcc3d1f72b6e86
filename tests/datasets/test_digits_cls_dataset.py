import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmpretrain.registry import DATASETS

from bikd_mm.datasets import DigitsClsDataset

CONFIG = osp.join(
    osp.dirname(__file__),
    '..',
    '..',
    'configs',
    '_base_',
    'datasets',
    'digits_cls.py',
)
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def _check_sample(sample):
    assert tuple(sample['inputs'].shape) == (3, 32, 32)
    label = int(sample['data_samples'].gt_label)
    assert 0 <= label < 10


def test_build_from_config_dict(cls_root):
    dataset = DATASETS.build(
        dict(
            type='DigitsClsDataset',
            data_root=cls_root,
            split='val',
            pipeline=PIPELINE,
        )
    )
    assert isinstance(dataset, DigitsClsDataset)
    assert len(dataset) == 397
    assert dataset.metainfo['classes'] == tuple(str(d) for d in range(10))
    sample = dataset[0]
    _check_sample(sample)
    # Class folders are named after the digit they hold.
    info = dataset.get_data_info(0)
    assert osp.basename(osp.dirname(info['img_path'])) == str(info['gt_label'])


def test_base_config_builds(cls_root):
    cfg = Config.fromfile(CONFIG)
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1,))
    assert not any(
        t['type'] == 'RandomFlip'
        for t in cfg.train_dataloader.dataset.pipeline
    )
    for loader, count in (
        (cfg.train_dataloader, 1400),
        (cfg.val_dataloader, 397),
    ):
        dataset = DATASETS.build(dict(loader.dataset, data_root=cls_root))
        assert len(dataset) == count
        _check_sample(dataset[len(dataset) - 1])


def test_missing_root_is_generated(tmp_path):
    root = tmp_path / 'digits_cls'
    dataset = DigitsClsDataset(
        data_root=str(root), split='val', generate_cfg=dict(image_size=16)
    )
    assert len(dataset) == 397
    assert (root / 'meta.json').is_file()


def test_none_root_uses_cache(isolated_cache, cls_root):
    # A link stands in for a previous generation into the cache.
    (isolated_cache / 'digits_cls').symlink_to(cls_root)
    dataset = DigitsClsDataset(split='val', pipeline=PIPELINE)
    assert dataset.data_root == str(isolated_cache / 'digits_cls')
    assert len(dataset) == 397
    _check_sample(dataset[0])


def test_unknown_split():
    with pytest.raises(ValueError, match='split'):
        DigitsClsDataset(data_root='unused', split='test')


def test_incomplete_root_names_the_folder(tmp_path):
    root = tmp_path / 'digits_cls'
    image = np.zeros((32, 32), np.uint8)
    for split in ('train', 'val'):
        for digit in range(10):
            folder = root / split / str(digit)
            folder.mkdir(parents=True)
            if not (split == 'val' and digit == 4):
                cv2.imwrite(str(folder / '0000.png'), image)
    assert len(DigitsClsDataset(data_root=str(root), split='train')) == 10
    with pytest.raises(FileNotFoundError, match=r"val/4' is missing"):
        DigitsClsDataset(data_root=str(root), split='val')
