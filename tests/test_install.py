"""The pinned stack imports, with the compiled mmcv ops."""

import importlib.metadata as md


def test_stack_imports_and_versions():
    import mmcv.ops
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    import torch

    import bikd_mm

    assert bikd_mm.__version__
    assert md.version('mmcv') == '2.1.0'
    assert md.version('mmengine') == '0.10.7'
    assert md.version('mmsegmentation') == '1.2.2'
    assert md.version('mmpretrain') == '1.2.0'
    assert torch.__version__.startswith('2.14.1')
    # mmcv-lite has no compiled extension; the full build does.
    assert hasattr(mmcv.ops, 'nms')
    from mmcv.utils import ext_loader

    ext = ext_loader.load_ext('_ext', ['nms'])
    assert hasattr(ext, 'nms')


def test_setuptools_has_pkg_resources():
    import pkg_resources  # noqa: F401  (mmengine and mmcv import it)
