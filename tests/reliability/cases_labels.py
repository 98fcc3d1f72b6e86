"""Bad segmentation labels, read from files through the stock pipeline of
the demo pair (``LoadImageFromFile``, ``LoadAnnotations``,
``PackSegInputs``) and fed to a pair of the tiny demo members."""

import logging
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS as SEG_MODELS

from bikd_mm.datasets import DigitsSegDataset
from bikd_mm.engine.runner import BiKDRunner
from tests.models.segmentors.seg_fixtures import member

from ..engine.test_pair_runner import PAIR
from .conftest import Records

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
_PAIRS = {}


def seg_pair():
    """The tiny demo pair (built once; the probes do not train it)."""
    if 'seg' not in _PAIRS:
        torch.manual_seed(0)
        _PAIRS['seg'] = SEG_MODELS.build(
            dict(
                type='BiKDSegmentor',
                members=[member('cnn'), member('swin')],
            )
        )
    return _PAIRS['seg']


def copy_split(tmp_path, seg_data_root) -> str:
    root = str(tmp_path / 'seg')
    shutil.copytree(seg_data_root, root)
    return root


def ann_files(root: str, count: int) -> list[str]:
    """The first ``count`` training annotations, in dataset order."""
    folder = osp.join(root, 'ann_dir', 'train')
    return [osp.join(folder, f) for f in sorted(os.listdir(folder))][:count]


def batch_of(root: str, indices) -> dict:
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DigitsSegDataset(data_root=root, pipeline=PIPELINE)
        return pseudo_collate([dataset[i] for i in indices])


def loss_of(batch: dict) -> dict:
    pair = seg_pair()
    data = pair.data_preprocessor(batch, True)
    return pair(**data, mode='loss')


def rewrite(path: str, transform) -> bytes:
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(path, transform(label))
    with open(path, 'rb') as f:
        return f.read()


def label_maps_of_another_size(tmp_path, seg_data_root):
    """Every label map 32x32 (then 128x128) for 64x64 images."""
    for size in (32, 128):
        root = copy_split(tmp_path / str(size), seg_data_root)
        files = ann_files(root, 4)
        for path in files:
            rewrite(
                path,
                lambda a, s=size: cv2.resize(
                    a, (s, s), interpolation=cv2.INTER_NEAREST
                ),
            )
        with pytest.raises(
            ValueError,
            match=f'annotation {files[0]}: label map of {size}x{size} for '
            f'the image .*{osp.basename(files[0])} of 64x64',
        ):
            loss_of(batch_of(root, range(4)))


def one_label_map_of_another_size(tmp_path, seg_data_root):
    """One map of another size in a batch (stock: ``stack expects each
    tensor to be equal size``)."""
    root = copy_split(tmp_path, seg_data_root)
    files = ann_files(root, 4)
    rewrite(files[2], lambda a: a[:48, :])
    with pytest.raises(
        ValueError, match=f'annotation {files[2]}: label map of 48x64'
    ):
        loss_of(batch_of(root, range(4)))


def rgb_label_png(tmp_path, seg_data_root):
    """A colour (RGB) label PNG (stock: ``only batches of spatial targets
    supported (3D tensors)``)."""
    root = copy_split(tmp_path, seg_data_root)
    files = ann_files(root, 2)
    rewrite(files[1], lambda a: np.stack([a, a, a], axis=-1))
    with pytest.raises(
        ValueError,
        match=f'annotation {files[1]}: .*shape \\(64, 64, 3\\).*RGB',
    ):
        loss_of(batch_of(root, range(2)))


def all_labels_ignored(tmp_path, seg_data_root):
    """A training split whose every label is ``ignore_index``: a warning
    naming the files, counted (1st, 10th, ... batch); training goes on."""
    root = copy_split(tmp_path, seg_data_root)
    files = ann_files(root, 24)
    for path in files:
        rewrite(path, lambda a: np.full_like(a, 255))
    pair = SEG_MODELS.build(
        dict(type='BiKDSegmentor', members=[member('cnn'), member('swin')])
    )
    batch = batch_of(root, range(2))
    with Records(logging.WARNING) as records:
        losses = pair(**pair.data_preprocessor(batch, True), mode='loss')
        # Nine more such batches (their checks only; no forward needed).
        for _ in range(9):
            pair.check_labels(batch['inputs'], batch['data_samples'])
    warned = [m for m in records.messages if 'without a labelled pixel' in m]
    assert len(warned) == 2, warned  # the 1st and the 10th batch
    assert warned[0].startswith('BiKDSegmentor: 1 training batch')
    assert warned[1].startswith('BiKDSegmentor: 10 training batch')
    assert files[0] in warned[0] and 'ignore_index 255' in warned[0]
    # What the warning is about: no task loss and no KD term.
    for prefix in ('cnn.decode.loss', 'swin.decode.loss', 'kd.loss'):
        values = [v for k, v in losses.items() if k.startswith(prefix)]
        assert values and all(float(v) == 0 for v in values), prefix
    # A labelled batch is not counted.
    labelled = batch_of(seg_data_root, range(2))
    pair(**pair.data_preprocessor(labelled, True), mode='loss')
    assert pair.unlabelled_batches.count == 10


def unreadable_sample(tmp_path, seg_data_root):
    """A corrupt annotation PNG and a truncated image (stock: PIL's
    ``cannot identify image file <_io.BytesIO ...>``, OpenCV's
    ``!buf.empty()``): the training dataloader's error names the files."""
    root = copy_split(tmp_path, seg_data_root)
    ann = ann_files(root, 3)
    image = ann[2].replace('ann_dir', 'img_dir')
    with open(ann[0], 'wb') as f:
        f.write(b'not a png')
    with open(image, 'rb') as f:
        head = f.read(100)
    with open(image, 'wb') as f:
        f.write(head)
    loader_cfg = Config.fromfile(PAIR).train_dataloader
    loader_cfg.dataset.data_root = root
    with DefaultScope.overwrite_default_scope('mmseg'):
        # As BiKDRunner builds the training dataloader.
        loader = BiKDRunner.build_dataloader(loader_cfg)
    dataset = loader.dataset
    with pytest.raises(
        OSError,
        match=r'cannot load the sample \{.*'
        + re.escape(ann[0])
        + r'.*\}: UnidentifiedImageError: cannot identify image file',
    ):
        dataset[0]
    with pytest.raises(
        AssertionError,
        match=r'cannot load the sample \{.*'
        + re.escape(image)
        + r'.*\}: AssertionError: failed to load image',
    ):
        dataset[2]
    # Through the dataloader, whichever comes first.
    either = (
        f'cannot load the sample .*({re.escape(ann[0])}|{re.escape(image)})'
    )
    with pytest.raises(Exception, match=either):
        for _ in loader:
            pass
