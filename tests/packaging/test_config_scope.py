"""``bikd_mm::`` configs resolve in this (editable) install, as in mmseg.

The wheel install is checked in test_wheel.py.
"""

import os.path as osp

import mmengine.utils
import pytest
from mmengine.config import Config

import bikd_mm
from bikd_mm.utils.config import load_config

from ..conftest import REPO


def test_scoped_pair_config_loads():
    cfg = load_config('bikd_mm::bikd/seg_pair_r50_swin.py')
    assert cfg.model.type == 'BiKDSegmentor'
    assert [m['name'] for m in cfg.model.members] == ['r50', 'swin']


def test_scoped_path_is_the_package_copy_of_configs():
    package = osp.dirname(bikd_mm.__file__)
    path = osp.join(package, '.mim', 'configs', 'bikd', 'seg_pair_r50_swin.py')
    assert osp.isfile(path)
    with (
        open(path) as a,
        open(osp.join(REPO, 'configs', 'bikd', 'seg_pair_r50_swin.py')) as b,
    ):
        assert a.read() == b.read()


def test_user_config_inherits_bikd_mm_bases(tmp_path):
    data = tmp_path / 'my_data.py'
    data.write_text("_base_ = ['bikd_mm::_base_/datasets/digits_seg.py']\n")
    cfg = Config.fromfile(str(data))
    assert cfg.train_dataloader.dataset.type == 'DigitsSegDataset'

    pair = tmp_path / 'my_pair.py'
    pair.write_text(
        "_base_ = ['bikd_mm::bikd/demo/seg_pair_digits.py']\n"
        'train_cfg = dict(max_iters=7)\n'
    )
    cfg = Config.fromfile(str(pair))
    assert cfg.model.type == 'BiKDSegmentor'
    assert cfg.train_cfg.max_iters == 7
    # The members' configs come from the package through {{fileDirname}}.
    for member in cfg.model.members:
        assert osp.isfile(member['config']), member['config']
        assert '.mim' in member['config']


def test_unknown_bikd_mm_config_names_the_path():
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        load_config('bikd_mm::bikd/no_such.py')


def test_other_packages_resolve_as_before():
    original = mmengine.utils.get_installed_path.__wrapped__
    for package in ('mmsegmentation', 'mmpretrain', 'mmengine'):
        assert mmengine.utils.get_installed_path(package) == original(package)
    cfg = load_config('mmseg::_base_/default_runtime.py')
    assert cfg.default_scope == 'mmseg'
