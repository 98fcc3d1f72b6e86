"""The wheel: built from a copy of the source tree, installed into a fresh
environment on top of the existing one, and used from a folder that is not
the source tree, through the installed entry points and the package's own
configs."""

import glob
import json
import os.path as osp
import tarfile
import zipfile
from email.parser import Parser

import pytest

from bikd_mm.utils.checkpoint import load_checkpoint_file

from ..conftest import REPO
from .envs import copy_source, dry_run, freeze, make_venv, planned, run

PAIR = 'bikd_mm::bikd/demo/seg_pair_digits.py'


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp('wheel')
    src = copy_source(str(tmp / 'src'))
    builder = make_venv(str(tmp / 'build-venv'))
    run(
        [
            builder,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-index',
            '--no-build-isolation',
            '-w',
            tmp / 'dist',
            src,
        ],
        tmp,
    )
    (path,) = glob.glob(str(tmp / 'dist' / 'bikd_mm-*.whl'))
    return path


@pytest.fixture(scope='module')
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh venv on the existing environment, with the wheel installed
    (after a dry run has shown that it installs nothing else)."""
    tmp = tmp_path_factory.mktemp('installed')
    python = make_venv(str(tmp / 'venv'))
    report = dry_run(python, str(tmp), wheel)
    before = freeze(python, str(tmp))
    run(
        [python, '-m', 'pip', 'install', '--no-index', '--no-deps', wheel], tmp
    )
    after = freeze(python, str(tmp))
    return dict(
        python=python,
        bin=osp.dirname(python),
        report=report,
        before=before,
        after=after,
        tmp=tmp,
    )


def wheel_files(wheel: str) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_wheel_holds_every_config_and_no_repo_folders(wheel):
    files = wheel_files(wheel)
    sources = glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True
    )
    assert len(sources) >= 30
    for source in sources:
        rel = osp.relpath(source, osp.join(REPO, 'configs'))
        name = f'bikd_mm/.mim/configs/{rel}'
        assert name in files, name
        with open(source, 'rb') as f:
            assert files[name] == f.read(), name
    tops = {name.split('/', 1)[0] for name in files}
    assert all(t == 'bikd_mm' or t.endswith('.dist-info') for t in tops), tops
    assert 'bikd_mm/tools/train.py' in files


def test_sdist_builds_the_same_wheel(wheel, tmp_path):
    """The source distribution holds what setup.py reads (requirements,
    README, the configs through the package's .mim folder)."""
    src = copy_source(str(tmp_path / 'src'))
    python = make_venv(str(tmp_path / 'venv'))
    run([python, 'setup.py', '-q', 'sdist', '-d', tmp_path / 'sdist'], src)
    (sdist,) = glob.glob(str(tmp_path / 'sdist' / 'bikd_mm-*.tar.gz'))
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path / 'unpacked', filter='data')
    (unpacked,) = glob.glob(str(tmp_path / 'unpacked' / 'bikd_mm-*'))
    run(
        [
            python,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-index',
            '--no-build-isolation',
            '-w',
            tmp_path / 'dist',
            unpacked,
        ],
        tmp_path,
    )
    (rebuilt,) = glob.glob(str(tmp_path / 'dist' / 'bikd_mm-*.whl'))
    assert sorted(wheel_files(rebuilt)) == sorted(wheel_files(wheel))


def test_wheel_metadata_states_ranges(wheel):
    files = wheel_files(wheel)
    (meta,) = [n for n in files if n.endswith('.dist-info/METADATA')]
    msg = Parser().parsestr(files[meta].decode())
    assert msg['Requires-Python'] == '>=3.10'
    requires = msg.get_all('Requires-Dist')
    plain = [r for r in requires if 'extra ==' not in r]
    assert not [r for r in plain if '==' in r], plain
    assert any(r.startswith('mmcv') and '<2.2.0' in r for r in plain), plain
    extras = msg.get_all('Provides-Extra')
    assert {'mmdet', 'mask2former'} <= set(extras)
    (points,) = [n for n in files if n.endswith('entry_points.txt')]
    text = files[points].decode()
    for line in (
        'bikd-train = bikd_mm.tools.train:main',
        'bikd-test = bikd_mm.tools.test:main',
        'bikd-export = bikd_mm.tools.export_member:main',
    ):
        assert line in text


def test_wheel_install_changes_no_installed_package(installed):
    assert [n for n, _ in planned(installed['report'])] == ['bikd_mm']
    assert any(line.startswith('torch==') for line in installed['before'])
    added = sorted(set(installed['after']) - set(installed['before']))
    removed = sorted(set(installed['before']) - set(installed['after']))
    assert removed == []
    names = [line.split('==')[0].split(' @ ')[0] for line in added]
    assert names == ['bikd_mm'], added


def test_installed_package_is_used_outside_the_source_tree(installed):
    user = installed['tmp'] / 'my_pair.py'
    user.write_text("_base_ = ['bikd_mm::bikd/seg_pair_r50_swin.py']\n")
    code = (
        'import json, sys\n'
        'import bikd_mm\n'
        'from mmengine.config import Config\n'
        'from bikd_mm.utils.config import load_config\n'
        'pair = load_config("bikd_mm::bikd/seg_pair_r50_swin.py")\n'
        'user = Config.fromfile("my_pair.py")\n'
        'print(json.dumps(dict(file=bikd_mm.__file__, path=sys.path, '
        'pair=[m["name"] for m in pair.model.members], '
        'user=[m["name"] for m in user.model.members])))\n'
    )
    out = run([installed['python'], '-c', code], installed['tmp']).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert not result['file'].startswith(REPO)
    assert result['file'].startswith(str(installed['tmp'] / 'venv'))
    assert not [p for p in result['path'] if p.startswith(REPO)]
    assert result['pair'] == result['user'] == ['r50', 'swin']


def test_installed_tools_train_and_export_the_demo_pair(
    installed, seg_data_root
):
    """``bikd-train``: two iterations of the digits demo pair from the
    package's config, with random-init members (the demo writes their
    checkpoints first); then a member exported."""
    tmp = installed['tmp']
    work = tmp / 'work'
    options = [
        'model.members.0.checkpoint=None',
        'model.members.1.checkpoint=None',
        'train_cfg.max_iters=2',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
        'train_dataloader.batch_size=2',
        f'train_dataloader.dataset.data_root={seg_data_root}',
        f'val_dataloader.dataset.data_root={seg_data_root}',
        f'test_dataloader.dataset.data_root={seg_data_root}',
    ]
    bin_dir = installed['bin']
    run(
        [
            osp.join(bin_dir, 'bikd-train'),
            PAIR,
            '--work-dir',
            work,
            '--cfg-options',
            *options,
        ],
        tmp,
    )
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    out = tmp / 'cnn.pth'
    # The module form of a tool (python -m), as torch.distributed.run and
    # mim start them.
    run(
        [
            installed['python'],
            '-m',
            'bikd_mm.tools.export_member',
            ckpt,
            '--member',
            'cnn',
            '--out',
            out,
        ],
        tmp,
    )
    exported = load_checkpoint_file(str(out))
    pair = load_checkpoint_file(str(ckpt))
    prefix = 'members.cnn.'
    want = {
        k[len(prefix) :] for k in pair['state_dict'] if k.startswith(prefix)
    }
    assert want and set(exported['state_dict']) == want
    for tool in ('bikd-train', 'bikd-test', 'bikd-export'):
        assert osp.isfile(osp.join(bin_dir, tool)), tool
