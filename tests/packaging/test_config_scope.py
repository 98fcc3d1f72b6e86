"""``bikd_mm::`` configs resolve in this (editable) install, as in mmseg.

The wheel install is checked in test_wheel.py.
"""

import importlib.metadata as md
import json
import os.path as osp
import subprocess
import sys

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
    import mmengine.utils.package_utils as package_utils

    # mmengine's own function, not replaced.
    assert mmengine.utils.get_installed_path is (
        package_utils.get_installed_path
    )
    assert not hasattr(mmengine.utils.get_installed_path, '__wrapped__')
    cfg = load_config('mmseg::_base_/default_runtime.py')
    assert cfg.default_scope == 'mmseg'


def test_editable_install_resolves_from_another_folder(tmp_path):
    """With an editable install (``.venv``) and a working folder outside
    the checkout, mmengine's own lookup points beside the metadata in
    site-packages, where no bikd_mm folder is; the scope's lookup gives
    the imported package's folder, and a user config there inherits a
    bikd_mm config."""
    editable = [
        d
        for d in md.distributions()
        if d.metadata['Name'] == 'bikd_mm'
        and json.loads(d.read_text('direct_url.json') or '{}')
        .get('dir_info', {})
        .get('editable')
    ]
    if not editable:
        pytest.skip('bikd_mm is not an editable install in this environment')
    (tmp_path / 'mine.py').write_text(
        "_base_ = ['bikd_mm::bikd/seg_pair_r50_swin.py']\n"
    )
    code = (
        'import json, mmengine.utils as u, bikd_mm\n'
        'from mmengine.config import Config\n'
        'cfg = Config.fromfile("mine.py")\n'
        'print(json.dumps(dict(stock=u.get_installed_path('
        '"bikd_mm"), scoped=u.get_installed_path("bikd_mm.patches"), '
        'members=[m["name"] for m in cfg.model.members])))\n'
    )
    done = subprocess.run(
        [sys.executable, '-c', code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not osp.isdir(osp.join(result['stock'], '.mim'))
    assert result['scoped'] == osp.dirname(osp.abspath(bikd_mm.__file__))
    assert result['members'] == ['r50', 'swin']
