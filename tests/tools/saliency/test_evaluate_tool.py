"""tools/saliency/evaluate.py on the synthetic dataset."""

import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import scipy.io

from ...conftest import REPO, load_tool

TOOLS = osp.join(REPO, 'tools', 'saliency')


def _load(name):
    return load_tool(f'tools/saliency/{name}.py', f'saliency_{name}')


evaluate_tool = _load('evaluate')
make_synthetic = _load('make_synthetic').make_synthetic


def run_evaluate(*args):
    cmd = [sys.executable, osp.join(TOOLS, 'evaluate.py'), *args]
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, env.get('PYTHONPATH')) if p
    )
    return subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    """Two val videos and predictions that copy their ground truth."""
    tmp = tmp_path_factory.mktemp('evaluate')
    root = make_synthetic(
        str(tmp / 'syn'),
        num_train=0,
        num_val=2,
        num_frames=4,
        height=24,
        width=32,
    )
    # Nobody looked at one frame: its fixation-based scores are NaN.
    fixation = osp.join(root, 'annotation', '0601', 'fixation')
    empty = np.zeros((24, 32), dtype=np.uint8)
    cv2.imwrite(osp.join(fixation, '0002.png'), empty)
    scipy.io.savemat(osp.join(fixation, 'maps', '0002.mat'), dict(I=empty))
    pred = tmp / 'pred'
    for video in ('0601', '0602'):
        shutil.copytree(
            osp.join(root, 'annotation', video, 'maps'), pred / video
        )
    return root, str(pred), tmp


def test_ground_truth_as_prediction(synthetic):
    root, pred, tmp = synthetic
    out = str(tmp / 'results.json')
    result = run_evaluate(pred, root, '--split', 'val', '--out', out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'CC' in result.stdout and 'sAUC' in result.stdout
    # The progress bars go to stderr.
    assert 'Evaluating' in result.stderr
    with open(out) as f:
        results = json.load(f)
    assert results['num_frames'] == 8 and results['num_videos'] == 2
    scores = results['metrics']
    assert scores['CC'] == pytest.approx(1.0, abs=1e-6)
    assert scores['SIM'] == pytest.approx(1.0, abs=1e-6)
    assert scores['KLD'] == pytest.approx(0.0, abs=1e-6)
    assert results['nan_frames'] == dict(
        CC=0, KLD=0, SIM=0, NSS=1, AUC_J=1, sAUC=1
    )
    assert scores['NSS'] > 1.0
    assert 0.5 < scores['AUC_J'] <= 1.0
    assert 0.5 < scores['sAUC'] <= 1.0
    assert set(results['per_video']) == {'0601', '0602'}
    assert results['per_video']['0601']['num_frames'] == 4
    assert results['video_metrics']['CC'] == pytest.approx(1.0, abs=1e-6)


def test_missing_prediction_names_the_file(synthetic, tmp_path):
    root, pred, _ = synthetic
    partial = tmp_path / 'pred'
    shutil.copytree(pred, partial)
    os.remove(partial / '0602' / '0003.png')
    dataset = evaluate_tool.build_dataset('DHF1KDataset', root, 'val', {})
    with pytest.raises(FileNotFoundError, match=r'0602.0003\.png'):
        evaluate_tool.evaluate(str(partial), dataset, progress=False)


def test_unlabelled_split_is_an_error(tmp_path):
    root = make_synthetic(
        str(tmp_path / 'syn'),
        num_train=1,
        num_val=0,
        num_test=1,
        num_frames=2,
        height=8,
        width=8,
    )
    dataset = evaluate_tool.build_dataset(
        'DHF1KDataset', root, 'test', dict(frame_dir='frames')
    )
    with pytest.raises(ValueError, match='no ground-truth maps'):
        evaluate_tool.evaluate(str(tmp_path), dataset, progress=False)
    with pytest.raises(ValueError, match='Unknown dataset'):
        evaluate_tool.build_dataset('NoSuchDataset', root, 'val', {})
