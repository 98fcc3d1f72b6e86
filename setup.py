"""Install bikd_mm into an existing OpenMMLab environment.

``pip install .`` (or the wheel) asks for the ranges of
``requirements/install.txt``, which an environment with its own torch and
mmcv build already satisfies, so nothing it holds is replaced. The pinned
lock for CI and the demo (``requirements/{torch,build,runtime,tests}.txt``)
is installed by ``make setup`` (``tools/setup_env.sh``), not by this file.

The configs ship inside the package, as mmseg and mmpretrain ship theirs:
``bikd_mm/.mim/configs`` is a symlink to the repository's ``configs/``
(the single source), and the wheel holds the files it points to, so
``bikd_mm::bikd/seg_pair_r50_swin.py`` resolves after any install.
"""

import os
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name: str) -> list[str]:
    path = ROOT / 'requirements' / f'{name}.txt'
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith('#')
    ]


def mim_files() -> list[str]:
    """Every file under ``bikd_mm/.mim``, package-relative: the model index
    and the configs (through the symlink)."""
    package = ROOT / 'bikd_mm'
    files = []
    for folder, dirs, names in os.walk(package / '.mim', followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        files += [
            str((Path(folder) / name).relative_to(package))
            for name in sorted(names)
            if not name.endswith(('.pyc', '.pyo'))
        ]
    return files


version: dict = {}
exec((ROOT / 'bikd_mm' / 'version.py').read_text(), version)
mmdet = read_requirements('mmdet')

setup(
    name='bikd_mm',
    version=version['__version__'],
    description='Bidirectional knowledge transfer between pretrained '
    'OpenMMLab models (Bi-KD)',
    long_description=(ROOT / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    package_data={'bikd_mm': mim_files()},
    install_requires=read_requirements('install'),
    extras_require={
        'mmdet': mmdet,
        'mask2former': mmdet,
        # timm and Hugging Face classifiers as BiKDClassifier members.
        'timm': read_requirements('optional'),
        'tests': read_requirements('tests'),
    },
    entry_points={
        'console_scripts': [
            'bikd-train = bikd_mm.tools.train:main',
            'bikd-test = bikd_mm.tools.test:main',
            'bikd-export = bikd_mm.tools.export_member:main',
        ],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
    ],
    license='Apache-2.0',
    zip_safe=False,
)
