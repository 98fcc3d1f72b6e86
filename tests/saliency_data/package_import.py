"""Import of ``bikd_mm.datasets.saliency`` independent of its parent.

``bikd_mm.datasets`` also registers the segmentation and classification
datasets, which import mmcv through mmseg and mmpretrain. The saliency
subpackage needs neither, so where mmcv is missing its tests still run:
the parent package is replaced by a bare namespace that only locates the
subpackages.
"""

import importlib
import os.path as osp
import sys
import types


def ensure_saliency_importable() -> bool:
    """Make ``bikd_mm.datasets.saliency`` importable.

    Returns:
        bool: True if the real ``bikd_mm.datasets`` imported, False if the
        bare namespace stands in for it.
    """
    try:
        importlib.import_module('bikd_mm.datasets.saliency')
    except ImportError as err:
        if 'saliency' in (err.name or ''):
            raise
        import bikd_mm

        stub = types.ModuleType('bikd_mm.datasets')
        stub.__path__ = [osp.join(osp.dirname(bikd_mm.__file__), 'datasets')]
        stub.is_stand_in = True
        sys.modules['bikd_mm.datasets'] = stub
        importlib.import_module('bikd_mm.datasets.saliency')
    return not getattr(sys.modules['bikd_mm.datasets'], 'is_stand_in', False)
