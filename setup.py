"""Install bikd_mm (use ``make test`` or tools/setup_env.sh for the stack)."""

from pathlib import Path

from setuptools import find_packages, setup


def read_requirements(name: str) -> list[str]:
    path = Path(__file__).parent / 'requirements' / f'{name}.txt'
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith('#')
    ]


version: dict = {}
exec(Path('bikd_mm/version.py').read_text(), version)

setup(
    name='bikd_mm',
    version=version['__version__'],
    description='Bidirectional knowledge transfer between pretrained '
    'OpenMMLab models (Bi-KD)',
    long_description=Path('README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.11',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    install_requires=read_requirements('torch') + read_requirements('runtime'),
    extras_require={'tests': read_requirements('tests')},
    license='Apache-2.0',
)
