"""Import of ``bikd_mm.models.saliency`` independent of its parents.

``bikd_mm.models`` and ``bikd_mm.engine`` also hold the segmentation and
classification components, which import mmcv through mmseg and mmpretrain.
The saliency models need neither, so where mmcv is missing their tests still
run: each parent that fails to import is replaced by a bare namespace that
only locates its subpackages.
"""

import importlib
import os.path as osp
import sys
import types

_PARENTS = ('bikd_mm.models', 'bikd_mm.engine', 'bikd_mm.engine.optimizers')


def _stand_in(name: str) -> None:
    import bikd_mm

    root = osp.dirname(bikd_mm.__file__)
    module = types.ModuleType(name)
    module.__path__ = [osp.join(root, *name.split('.')[1:])]
    module.is_stand_in = True
    sys.modules[name] = module


def ensure_saliency_models_importable() -> bool:
    """Make ``bikd_mm.models.saliency`` importable.

    Returns:
        bool: True if the real parent packages imported, False if bare
        namespaces stand in for some of them.
    """
    real = True
    for name in _PARENTS:
        try:
            importlib.import_module(name)
        except ImportError as err:
            if 'saliency' in (err.name or ''):
                raise
            for key in [k for k in sys.modules if k.startswith(name)]:
                del sys.modules[key]
            _stand_in(name)
            real = False
    importlib.import_module('bikd_mm.models.saliency')
    return real
