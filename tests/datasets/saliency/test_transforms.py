"""Loading, resizing, flipping and packing of saliency clips."""

import os.path as osp

import numpy as np
import pytest
import scipy.io
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement

from bikd_mm.datasets.saliency import (
    DHF1KDataset,
    DIEMDataset,
    LoadSaliencyClip,
    NormalizeClip,
    PackSaliencyInputs,
    RandomFlipClip,
    ResizeClip,
    read_fixation_map,
    rescale_fixations,
)
from bikd_mm.registry import DATASETS, TRANSFORMS

from .layouts import H, W, fixation_array, frame_image, saliency_image


def load(dataset, idx=0, **kwargs):
    return LoadSaliencyClip(**kwargs)(dataset.get_data_info(idx))


def test_load_clip_and_target(make_dhf1k):
    root = make_dhf1k({1: 4})
    results = load(DHF1KDataset(root, clip_len=3), idx=1)
    assert results['imgs'].shape == (3, H, W, 3)
    assert results['imgs'].dtype == np.uint8
    # Frames 1..3 of the video, converted to RGB.
    expected = np.stack([frame_image(1, i)[..., ::-1] for i in (1, 2, 3)])
    assert np.array_equal(results['imgs'], expected)
    assert results['ori_shape'] == results['gt_shape'] == (H, W)
    sal = results['gt_saliency']
    assert sal.dtype == np.float32 and sal.shape == (H, W)
    assert np.allclose(sal, saliency_image(3) / 255.0)
    assert np.array_equal(results['gt_fixation'], fixation_array(3))
    bgr = load(DHF1KDataset(root, clip_len=3), channel_order='bgr')
    assert np.array_equal(bgr['imgs'][0], frame_image(1, 0))


def test_load_mat_fixations_match_png(make_dhf1k):
    root = make_dhf1k({1: 3})
    png = load(DHF1KDataset(root, clip_len=2), idx=1)
    mat = load(DHF1KDataset(root, clip_len=2, fixation_format='mat'), idx=1)
    assert np.array_equal(png['gt_fixation'], mat['gt_fixation'])


def test_load_diem(make_diem):
    root = make_diem({'v': 3})
    results = load(DIEMDataset(root, clip_len=2))
    assert results['imgs'].shape == (2, H, W, 3)
    assert np.array_equal(results['gt_fixation'], fixation_array(1))


def test_load_unlabelled_sample(make_dhf1k):
    root = make_dhf1k({1: 3}, test_videos={701: 3})
    results = load(
        DHF1KDataset(root, split='test', frame_dir='frames', clip_len=2)
    )
    assert 'gt_saliency' not in results and 'gt_fixation' not in results
    sample = PackSaliencyInputs()(results)['data_samples']
    assert 'gt_saliency' not in sample and 'gt_fixation' not in sample
    assert sample.video == '0701'


def test_empty_fixation_map_keeps_sample(make_dhf1k):
    root = make_dhf1k({1: 3}, options={1: dict(empty_fixation=(2,))})
    ds = DHF1KDataset(root, clip_len=3)
    assert len(ds) == 1
    results = load(ds)
    assert results['gt_fixation'].sum() == 0
    assert results['gt_saliency'].max() > 0


def test_unreadable_frame_names_the_file(make_dhf1k):
    root = make_dhf1k({1: 3})
    bad = osp.join(root, 'annotation', '0001', 'images', '0002.png')
    with open(bad, 'wb') as f:
        f.write(b'not a png')
    ds = DHF1KDataset(root, clip_len=3)
    with pytest.raises(OSError, match='0001.images.0002.png'):
        load(ds)


def test_unreadable_maps_name_the_file(tmp_path):
    with pytest.raises(OSError, match='missing.png'):
        LoadSaliencyClip()(dict(frame_paths=[str(tmp_path / 'missing.png')]))
    path = str(tmp_path / 'fix.mat')
    scipy.io.savemat(path, dict(other=np.zeros((2, 2))))
    with pytest.raises(KeyError, match=r"'I' not found in .*fix.mat"):
        read_fixation_map(path, 'I')


def test_resize_clip_and_maps(make_dhf1k):
    root = make_dhf1k({1: 3})
    results = load(DHF1KDataset(root, clip_len=3))
    fixations = results['gt_fixation'].sum()
    out = ResizeClip(size=(6, 20))(results)
    assert out['imgs'].shape == (3, 6, 20, 3)
    assert out['img_shape'] == out['gt_shape'] == (6, 20)
    assert out['ori_shape'] == (H, W)
    assert out['gt_saliency'].shape == (6, 20)
    assert 0 <= out['gt_saliency'].min() <= out['gt_saliency'].max() <= 1
    # Fixations are moved, not interpolated away.
    assert out['gt_fixation'].sum() == fixations
    kept = ResizeClip(size=(6, 20), resize_gt=False)(
        load(DHF1KDataset(root, clip_len=3))
    )
    assert kept['imgs'].shape[1:3] == (6, 20)
    assert kept['gt_saliency'].shape == kept['gt_shape'] == (H, W)


def test_rescale_fixations():
    fix = np.zeros((4, 4), dtype=np.float32)
    fix[0, 0] = fix[3, 3] = fix[0, 1] = 1
    small = rescale_fixations(fix, (2, 2))
    assert np.array_equal(small, [[1, 0], [0, 1]])
    # Upsampled, each fixation lands in one of the cells covering it.
    big = rescale_fixations(fix, (8, 8))
    assert big.sum() == 3 and big[1, 1] == big[7, 7] == big[1, 3] == 1


def test_flip_whole_clip_with_maps(make_dhf1k):
    root = make_dhf1k({1: 3})
    ds = DHF1KDataset(root, clip_len=3)
    ref = load(ds)
    out = RandomFlipClip(prob=1.0)(load(ds))
    assert out['flip'] is True
    assert np.array_equal(out['imgs'], ref['imgs'][:, :, ::-1])
    assert np.array_equal(out['gt_saliency'], ref['gt_saliency'][:, ::-1])
    assert np.array_equal(out['gt_fixation'], ref['gt_fixation'][:, ::-1])
    # One decision for all frames: the green left half moved right in all.
    assert (out['imgs'][:, :, -1, 1] == 200).all()
    assert RandomFlipClip(prob=0.0)(load(ds))['flip'] is False
    flips = {
        RandomFlipClip()(dict(imgs=ref['imgs']))['flip'] for _ in range(40)
    }
    assert flips == {True, False}


def test_normalize_and_pack(make_dhf1k):
    root = make_dhf1k({1: 3})
    ds = DHF1KDataset(root, clip_len=3)
    packed = PackSaliencyInputs()(load(ds))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (3, 3, H, W) and inputs.dtype == torch.uint8
    assert isinstance(sample, BaseDataElement)
    assert set(sample.keys()) == {'gt_saliency', 'gt_fixation'}
    assert sample.gt_saliency.shape == (H, W)
    assert sample.gt_saliency.dtype == torch.float32
    assert sample.get('gt_fixation').dtype == torch.float32
    assert sample.video == '0001' and sample.frame == 2
    assert sample.frame_name == '0003'
    assert sample.metainfo['ori_shape'] == (H, W)
    norm = NormalizeClip(mean=[128.0] * 3, std=[64.0] * 3)(load(ds))
    packed = PackSaliencyInputs()(norm)
    assert packed['inputs'].dtype == torch.float32
    expected = (frame_image(1, 0)[..., ::-1].astype(np.float32) - 128) / 64
    assert torch.allclose(
        packed['inputs'][0].permute(1, 2, 0), torch.from_numpy(expected.copy())
    )


def test_pipeline_from_config(make_dhf1k):
    root = make_dhf1k({1: 4})
    pipeline = [
        dict(type='LoadSaliencyClip'),
        dict(type='ResizeClip', size=(16, 24)),
        dict(type='RandomFlipClip', prob=0.5),
        dict(type='PackSaliencyInputs'),
    ]
    with DefaultScope.overwrite_default_scope('bikd_mm'):
        ds = DATASETS.build(
            dict(
                type='DHF1KDataset',
                data_root=root,
                clip_len=2,
                pipeline=pipeline,
            )
        )
        item = ds[2]
        # mmengine's default collate keeps one data sample per clip.
        batch = pseudo_collate([ds[0], ds[1]])
    assert item['inputs'].shape == (2, 3, 16, 24)
    assert item['data_samples'].gt_saliency.shape == (16, 24)
    assert item['data_samples'].frame == 3
    assert [s.frame for s in batch['data_samples']] == [1, 2]
    assert [x.shape for x in batch['inputs']] == [(2, 3, 16, 24)] * 2
    assert isinstance(TRANSFORMS.build(dict(type='ResizeClip')), ResizeClip)
    with pytest.raises(ValueError):
        ResizeClip(size=(0, 4))
    with pytest.raises(ValueError):
        NormalizeClip(mean=[0, 0, 0], std=[1, 0, 1])
    assert 'size=(16, 24)' in repr(ds.pipeline)
