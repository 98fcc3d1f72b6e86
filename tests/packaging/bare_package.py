"""pytest plugin: import ``bikd_mm`` subpackages without the package's
``__init__`` (``-p tests.packaging.bare_package``).

``import bikd_mm`` registers every component, which imports mmseg,
mmpretrain and mmcv's compiled ops. ``bikd_mm.core`` is plain PyTorch;
under an interpreter for which no mmcv build exists (Python 3.10 and 3.12
here, see ``tools/test_pythons.sh``) its tests run against the real
``bikd_mm.core`` modules, with only the registration left out.
"""

import importlib.machinery
import importlib.util
import os.path as osp
import sys

PACKAGE = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'bikd_mm'
)


def pytest_configure(config):
    if 'bikd_mm' in sys.modules:
        raise RuntimeError(
            'bikd_mm was imported before the bare_package plugin ran'
        )
    spec = importlib.machinery.ModuleSpec('bikd_mm', None, is_package=True)
    spec.submodule_search_locations = [PACKAGE]
    module = importlib.util.module_from_spec(spec)
    module.__path__ = [PACKAGE]
    sys.modules['bikd_mm'] = module
