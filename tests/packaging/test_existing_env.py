"""``pip install -e .`` into an environment that already satisfies the
ranges installs bikd_mm and nothing else: no torch, mmcv or mmengine swap.
"""

import os.path as osp
import subprocess

import pytest

from .envs import (
    clean_env,
    copy_source,
    dry_run,
    make_venv,
    planned,
    pretend_installed,
)

# A user's environment: other releases than the lock's, inside the ranges.
USER_VERSIONS = {
    'torch': '2.5.1',
    'mmcv': '2.0.1',
    'mmengine': '0.10.4',
    'mmsegmentation': '1.2.1',
}


@pytest.mark.parametrize('extra', ['', '[mmdet]'])
def test_editable_install_changes_no_installed_package(tmp_path, extra):
    python = make_venv(str(tmp_path / 'venv'))
    src = copy_source(str(tmp_path / 'src'))
    report = dry_run(python, str(tmp_path), '-e', src + extra)
    plan = planned(report)
    assert [name for name, _ in plan] == ['bikd_mm'], plan
    (item,) = report['install']
    assert item['requested'] and item['is_direct']
    assert item['download_info']['dir_info'].get('editable') is True
    # The plan was resolved against the ranges, not the lock.
    requires = item['metadata']['requires_dist']
    assert any(r.startswith('torch>=') for r in requires), requires
    if extra:
        assert any(r.startswith('mmdet') for r in requires), requires


def test_unmet_range_fails_instead_of_replacing(tmp_path):
    """The check above can fail: a requirement the environment does not
    meet is not resolved from the environment (pip would have to fetch and
    replace it), and with no index the plan fails."""
    python = make_venv(str(tmp_path / 'venv'))
    done = subprocess.run(
        [
            python,
            '-m',
            'pip',
            'install',
            '--dry-run',
            '--no-index',
            'mmcv>=2.2.0',
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert 'mmcv' in done.stderr


def test_other_versions_within_the_ranges_are_kept(tmp_path):
    """In an environment with other releases than the lock's (torch 2.5.1,
    mmcv 2.0.1, ...), the plan is still bikd_mm alone, while installing the
    lock's pins would replace them."""
    python = make_venv(str(tmp_path / 'venv'))
    pretend_installed(python, USER_VERSIONS)
    src = copy_source(str(tmp_path / 'src'))
    plan = planned(dry_run(python, str(tmp_path), '-e', src))
    assert [name for name, _ in plan] == ['bikd_mm'], plan
    # The lock would need torch 2.14.1 in place of the user's 2.5.1: with
    # no index to fetch it from, pip refuses.
    done = subprocess.run(
        [
            python,
            '-m',
            'pip',
            'install',
            '--dry-run',
            '--no-index',
            '-r',
            osp.join(src, 'requirements', 'torch.txt'),
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert 'torch==2.14.1' in done.stderr
