"""Virtual environments on top of an existing OpenMMLab environment.

The existing environment is the one this suite runs in: the site-packages
folder that holds torch and mmcv (for ``make test``, the cached pinned
stack). A new environment reaches it through a ``.pth`` file, as
``tools/setup_env.sh`` links the project's ``.venv``, so it starts with
every package of that environment and none of bikd_mm. pip runs with no
configuration file and no index, so nothing is downloaded and a
requirement that the environment does not satisfy fails to resolve.
"""

import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import mmcv

from ..conftest import REPO

# What a source tree copy leaves out: environments, caches, build output.
COPY_IGNORE = shutil.ignore_patterns(
    '.git',
    '.venv',
    'work_dirs',
    'data',
    'build',
    'dist',
    '*.egg-info',
    '__pycache__',
    '.pytest_cache',
    '.ruff_cache',
    '.gpu',
)


def existing_site() -> str:
    """The site-packages folder that holds the environment's mmcv."""
    return osp.dirname(osp.dirname(osp.abspath(mmcv.__file__)))


def clean_env(**extra: str) -> dict:
    """The process environment for pip and the tools: no pip config, no
    find-links, nothing of the source tree on ``PYTHONPATH``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith('PIP_') and k not in ('PYTHONPATH', 'VIRTUAL_ENV')
    }
    env['PIP_CONFIG_FILE'] = os.devnull
    env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1'
    env.update(extra)
    return env


def run(cmd: list, cwd: str, timeout: int = 600, **env: str):
    """Run ``cmd``; fail with its output when it exits non-zero."""
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=str(cwd),
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f'{" ".join(map(str, cmd))} exited {done.returncode}\n'
        f'{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
    )
    return done


def make_venv(path: str) -> str:
    """Create a venv at ``path`` on top of :func:`existing_site`.

    Returns:
        str: The venv's python.
    """
    subprocess.run(
        [sys.executable, '-m', 'venv', '--without-pip', path], check=True
    )
    python = osp.join(path, 'bin', 'python')
    site = subprocess.run(
        [
            python,
            '-c',
            'import sysconfig; print(sysconfig.get_path("purelib"))',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with open(osp.join(site, '_existing_env.pth'), 'w') as f:
        f.write(existing_site() + '\n')
    return python


def pretend_installed(python: str, versions: dict[str, str]) -> None:
    """Make pip see other versions of packages in the venv of ``python``.

    Writes a metadata-only ``<name>-<version>.dist-info`` for each entry
    into the venv's own site-packages, which comes before the linked
    environment on ``sys.path``: pip's resolver then sees, for example, a
    user's torch 2.5.1 and mmcv 2.0.1. Nothing is importable from them;
    they are for dry runs only.
    """
    site = subprocess.run(
        [
            python,
            '-c',
            'import sysconfig; print(sysconfig.get_path("purelib"))',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for name, version in versions.items():
        info = osp.join(site, f'{name}-{version}.dist-info')
        os.makedirs(info)
        with open(osp.join(info, 'METADATA'), 'w') as f:
            f.write(
                f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n'
            )
        with open(osp.join(info, 'INSTALLER'), 'w') as f:
            f.write('pip\n')


def copy_source(dest: str) -> str:
    """Copy the source tree (symlinks kept) to ``dest``; return it."""
    shutil.copytree(REPO, dest, symlinks=True, ignore=COPY_IGNORE)
    return dest


def dry_run(python: str, cwd: str, *args: str) -> dict:
    """``pip install --dry-run --report``: what pip would install.

    Returns:
        dict: pip's installation report (``report['install']`` lists every
        distribution that would be installed or replaced).
    """
    report = osp.join(cwd, 'pip-report.json')
    run(
        [
            python,
            '-m',
            'pip',
            'install',
            '--dry-run',
            '--no-index',
            '--no-build-isolation',
            '--report',
            report,
            *args,
        ],
        cwd,
    )
    with open(report) as f:
        return json.load(f)


def planned(report: dict) -> list[tuple[str, str]]:
    """(name, version) of each distribution in a pip report's plan."""
    return sorted(
        (item['metadata']['name'], item['metadata']['version'])
        for item in report['install']
    )


def freeze(python: str, cwd: str) -> list[str]:
    """``pip freeze --all`` of the environment ``python`` runs in."""
    out = run([python, '-m', 'pip', 'freeze', '--all'], cwd).stdout
    return sorted(line for line in out.splitlines() if line.strip())
