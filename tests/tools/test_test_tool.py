"""tools/test.py on a pair, as a user runs it: the members before Bi-KD
(no checkpoint: each member's own), mmseg's ``--out`` (a prediction folder
per member) and ``--show-dir``, ``--metrics`` JSON, per-class tables named
by member, and ``--tta`` where a model supports it."""

import glob
import json
import os.path as osp
import runpy
import sys

import cv2
import pytest
import torch

import bikd_mm  # noqa: F401
from bikd_mm.utils.checkpoint import load_checkpoint_file

from ..conftest import REPO
from ..engine.test_pair_runner import pair_cfg


def run_test_tool(monkeypatch, *args) -> None:
    monkeypatch.setattr(sys, 'argv', ['test.py', *args])
    runpy.run_path(osp.join(REPO, 'tools/test.py'), run_name='__main__')


@pytest.fixture
def pair_config(tmp_path, seg_data_root) -> str:
    cfg = pair_cfg(tmp_path, seg_data_root)
    cfg.custom_hooks = []
    path = tmp_path / 'my_pair.py'
    cfg.dump(str(path))
    return str(path)


def members_as_pair_checkpoint(tmp_path) -> str:
    """The members' own checkpoints as one pair checkpoint."""
    state = {
        f'members.{name}.{key}': value
        for name in ('cnn', 'swin')
        for key, value in load_checkpoint_file(str(tmp_path / f'{name}.pth'))[
            'state_dict'
        ].items()
    }
    path = tmp_path / 'start.pth'
    torch.save(dict(state_dict=state), path)
    return str(path)


def test_members_before_bikd_are_scored_with_the_pairs_data(
    tmp_path, pair_config, monkeypatch, capsys
):
    before = tmp_path / 'before.json'
    run_test_tool(
        monkeypatch,
        pair_config,
        '--metrics',
        str(before),
        '--work-dir',
        str(tmp_path / 'a'),
        '--cfg-options',
        'log_level=INFO',
    )
    log = capsys.readouterr().out
    assert 'its own starting checkpoint (before Bi-KD)' in log
    # One per-class table per member, each named.
    assert log.count('[cnn] per class results:') == 1
    assert log.count('[swin] per class results:') == 1
    assert log.count('per class results:') == 2
    loaded = tmp_path / 'loaded.json'
    run_test_tool(
        monkeypatch,
        pair_config,
        members_as_pair_checkpoint(tmp_path),
        '--metrics',
        str(loaded),
        '--work-dir',
        str(tmp_path / 'b'),
    )
    want = json.loads(loaded.read_text())
    assert {'cnn/mIoU', 'swin/mIoU'} <= set(want)
    assert json.loads(before.read_text()) == want


def test_out_keeps_each_members_predictions_and_show_dir_paints_them(
    tmp_path, pair_config, seg_data_root, monkeypatch
):
    out, show = tmp_path / 'pred', tmp_path / 'show'
    run_test_tool(
        monkeypatch,
        pair_config,
        '--out',
        str(out),
        '--show-dir',
        str(show),
        '--work-dir',
        str(tmp_path / 'w'),
    )
    images = sorted(glob.glob(osp.join(seg_data_root, 'img_dir/val/*.png')))
    stems = sorted(osp.basename(p) for p in images)
    for name in ('cnn', 'swin'):
        assert (
            sorted(
                osp.basename(p) for p in glob.glob(str(out / name / '*.png'))
            )
            == stems
        )
        pred = cv2.imread(str(out / name / stems[0]), cv2.IMREAD_UNCHANGED)
        assert pred.shape == (64, 64) and pred.max() < 11
    # image | ground truth | cnn | swin
    painted = cv2.imread(str(show / stems[0]))
    assert painted.shape == (64, 4 * 64, 3)
    assert (show / 'legend.txt').read_text().strip() == (
        'panels: image | ground truth | cnn | swin'
    )


def test_tta_needs_a_model_that_supports_it(
    tmp_path, pair_config, monkeypatch
):
    with pytest.raises(SystemExit, match='--tta tests one model'):
        run_test_tool(monkeypatch, pair_config, '--tta')
    member = osp.join(
        REPO, 'configs/bikd/demo/members/upernet_r18-tiny_digits.py'
    )
    with pytest.raises(SystemExit, match='has no tta_pipeline'):
        run_test_tool(monkeypatch, member, str(tmp_path / 'cnn.pth'), '--tta')
