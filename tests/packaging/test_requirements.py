"""The two layers of requirements: the package's ranges and the CI lock.

``requirements/install.txt`` (what ``pip install bikd_mm`` asks for) must
accept the pinned lock that ``make setup`` installs, or the suite would
test versions the package refuses.
"""

import os.path as osp

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from ..conftest import REPO


def requirements(name: str) -> list[Requirement]:
    path = osp.join(REPO, 'requirements', f'{name}.txt')
    with open(path) as f:
        lines = [line.split('#', 1)[0].strip() for line in f]
    return [Requirement(line) for line in lines if line]


def lock() -> dict[str, Version]:
    pins = {}
    for name in ('torch', 'build', 'runtime', 'tests'):
        for req in requirements(name):
            exact = [s for s in req.specifier if s.operator == '==']
            if exact:
                pins[req.name.lower()] = Version(exact[0].version)
    return pins


@pytest.mark.parametrize('layer', ['install', 'mmdet'])
def test_lock_satisfies_the_ranges(layer):
    pins = lock()
    for req in requirements(layer):
        name = req.name.lower()
        if name in pins:
            assert req.specifier.contains(pins[name], prereleases=True), (
                f'requirements/{layer}.txt: {req} refuses the lock '
                f'{name}=={pins[name]}'
            )


def test_ranges_pin_nothing_that_users_build():
    """torch and mmcv are what a user's environment was built around: the
    package states ranges for them, never exact versions, and names
    neither torchvision (not imported) nor opencv-python (mmcv brings
    opencv-python or opencv-python-headless, whichever is installed)."""
    reqs = {r.name.lower(): r for r in requirements('install')}
    for name in ('torch', 'mmcv', 'mmengine', 'mmsegmentation', 'mmpretrain'):
        assert name in reqs, name
        ops = {s.operator for s in reqs[name].specifier}
        assert ops and '==' not in ops and '===' not in ops, reqs[name]
    assert 'opencv-python' not in reqs
    assert 'torchvision' not in reqs
    assert 'mmdet' not in reqs  # an extra: only Mask2Former members need it


def test_mmcv_range_stops_below_2_2():
    """mmseg 1.2 refuses mmcv >= 2.2 at import."""
    (mmcv,) = [r for r in requirements('install') if r.name == 'mmcv']
    assert not mmcv.specifier.contains('2.2.0')
    assert mmcv.specifier.contains('2.1.0')
    assert mmcv.specifier.contains('2.0.1')
