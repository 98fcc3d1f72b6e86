"""The synthetic DHF1K-layout dataset of tools/saliency/make_synthetic.py."""

import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from bikd_mm.datasets.saliency import (
    DHF1KDataset,
    LoadSaliencyClip,
    read_fixation_map,
)

from ...conftest import REPO, load_tool

SCRIPT = osp.join(REPO, 'tools', 'saliency', 'make_synthetic.py')

SMALL = dict(num_train=2, num_val=1, num_frames=5, height=16, width=24)


make_synthetic = load_tool('tools/saliency/make_synthetic.py').make_synthetic


def tree(root):
    """Relative path -> bytes of every file below ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def test_deterministic_by_seed(tmp_path):
    a = tree(make_synthetic(str(tmp_path / 'a'), seed=3, **SMALL))
    b = tree(make_synthetic(str(tmp_path / 'b'), seed=3, **SMALL))
    c = tree(make_synthetic(str(tmp_path / 'c'), seed=4, **SMALL))
    assert a == b
    assert a.keys() == c.keys()
    assert (
        a['annotation/0001/images/0001.png']
        != c['annotation/0001/images/0001.png']
    )
    # 3 videos x 5 frames x (frame, map, png and mat fixations) + meta.
    assert len(a) == 3 * 5 * 4 + 1
    meta = json.loads(a['meta.json'])
    assert meta['seed'] == 3 and meta['layout'] == 'DHF1K'


def test_loads_with_dhf1k_dataset(tmp_path):
    root = make_synthetic(str(tmp_path / 'syn'), num_test=1, **SMALL)
    train = DHF1KDataset(root, split='train', clip_len=3)
    assert train.num_videos == 2 and len(train) == 2 * 3
    val = DHF1KDataset(root, split='val', clip_len=3, fixation_format='mat')
    results = LoadSaliencyClip()(val.get_data_info(0))
    assert results['imgs'].shape == (3, 16, 24, 3)
    sal, fix = results['gt_saliency'], results['gt_fixation']
    assert sal.max() == pytest.approx(1.0)
    assert 1 <= fix.sum() <= 15
    # Maps are blurred fixations: the map is high where people looked.
    assert sal[fix > 0].mean() > 2 * sal.mean()
    # The .mat and .png fixations agree.
    png = DHF1KDataset(root, split='val', clip_len=3)
    png_fix = read_fixation_map(png.get_data_info(0)['fixation_path'])
    assert np.array_equal(png_fix, fix)
    test = DHF1KDataset(root, split='test', clip_len=3, frame_dir='frames')
    assert len(test) == 5 and test.get_data_info(0)['map_path'] is None


def test_atomic_write_and_overwrite(tmp_path):
    out = str(tmp_path / 'syn')
    make_synthetic(out, seed=0, **SMALL)
    with pytest.raises(FileExistsError, match='overwrite'):
        make_synthetic(out, seed=1, **SMALL)
    make_synthetic(out, seed=1, overwrite=True, **SMALL)
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f)['seed'] == 1
    # No temporary folder is left next to the output.
    assert os.listdir(tmp_path) == ['syn']
    with pytest.raises(ValueError):
        make_synthetic(str(tmp_path / 'bad'), num_val=101)
    assert os.listdir(tmp_path) == ['syn']


def test_command_line(tmp_path):
    out = str(tmp_path / 'cli')
    subprocess.run(
        [
            sys.executable,
            SCRIPT,
            out,
            '--num-train=1',
            '--num-val=0',
            '--num-frames=2',
            '--height=8',
            '--width=8',
            '--seed=7',
        ],
        check=True,
        capture_output=True,
    )
    expected = make_synthetic(
        str(tmp_path / 'api'),
        num_train=1,
        num_val=0,
        num_frames=2,
        height=8,
        width=8,
        seed=7,
    )
    assert tree(out) == tree(expected)


def test_other_fixations_for_shuffled_auc(tmp_path):
    from mmengine.structures import BaseDataElement

    from bikd_mm.datasets.saliency import PackSaliencyInputs
    from bikd_mm.evaluation.saliency import SaliencyMetric

    root = make_synthetic(str(tmp_path / 'syn'), **SMALL)
    train = DHF1KDataset(root, split='train', clip_len=3, other_fixations=4)
    info = train.get_data_info(0)
    assert len(info['other_fixations']) == 4
    own_video = osp.dirname(osp.dirname(info['fixation_path']))
    for path, _ in info['other_fixations']:
        assert osp.dirname(osp.dirname(path)) != own_video
    # The same sample always draws the same negatives.
    assert train.get_data_info(0)['other_fixations'] == info['other_fixations']
    results = LoadSaliencyClip()(info)
    union = np.zeros_like(results['gt_fixation'])
    for path, key in info['other_fixations']:
        union = np.maximum(union, read_fixation_map(path, key))
    assert np.array_equal(results['other_fixation'], union)
    packed = PackSaliencyInputs()(results)['data_samples']
    assert isinstance(packed, BaseDataElement)
    sample = packed.to_dict()
    sample['pred_saliency'] = sample['gt_saliency']
    metric = SaliencyMetric()
    metric.process({}, [sample])
    scores = metric.compute_metrics(metric.results)
    assert 0.5 < scores['sAUC'] <= 1.0
    plain = DHF1KDataset(root, split='train', clip_len=3)
    assert 'other_fixations' not in plain.get_data_info(0)
