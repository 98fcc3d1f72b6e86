"""``pip install -e .`` into an environment that already satisfies the
ranges installs bikd_mm and nothing else: no torch, mmcv or mmengine swap.
"""

import subprocess

import pytest

from .envs import clean_env, copy_source, dry_run, make_venv, planned


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
