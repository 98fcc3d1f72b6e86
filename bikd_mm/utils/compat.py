"""Compatibility of the pinned OpenMMLab stack with current PyTorch, and
the ``bikd_mm::`` config scope.

Every fix that the pinned stack (mmengine 0.10.7, mmcv 2.1.0, mmseg 1.2.2,
mmpretrain 1.2.0) needs on torch 2.14 lives here, is applied once by
:func:`apply_compat` when ``bikd_mm`` is imported, and has a test in
``tests/utils/test_compat.py`` that fails without it.

1. Safe checkpoint loading. Since torch 2.6, ``torch.load`` defaults to
   ``weights_only=True``, which refuses any global that is not allow-listed.
   mmengine 0.10.7 calls ``torch.load`` without ``weights_only`` when it
   loads and resumes checkpoints, and its checkpoints hold a few non-tensor
   objects: the message hub's ``HistoryBuffer`` (numpy arrays inside) and
   numpy scalars in ``meta`` (best scores, seeds). We allow-list exactly
   those types, so loading stays in weights-only mode and a checkpoint that
   needs anything else is still refused.
2. ``HistoryBuffer`` pickles its class-level registry of statistics
   functions (``min``, ``max``, ...) into every instance, which the
   weights-only unpickler can only rebuild through ``getattr``: an
   allow-list entry that would let a checkpoint call arbitrary attributes.
   The registry is rebuilt on import anyway, so its pickled state leaves it
   out (``HistoryBuffer.__setstate__`` already accepts a state without it).
   Checkpoints written by stock mmengine (mmseg's and mmpretrain's own
   ``train.py``) do hold it: ``getattr(HistoryBuffer, 'min')`` and the
   other built-in statistics. For those, ``builtins.getattr`` is
   allow-listed as :func:`history_buffer_getattr`, which returns only
   ``HistoryBuffer``'s own statistics methods and refuses every other
   object or name, so such files load in weights-only mode and a
   ``getattr`` on anything else is still refused.
3. Distributed training on CPU. mmengine's ``init_dist`` for the
   ``pytorch`` launcher always calls ``torch.cuda.set_device``, which fails
   on a machine without a GPU, so a gloo run (CPU clusters, CI) cannot
   start. Without CUDA, the process group is initialised without selecting
   a device; with CUDA, mmengine's own function runs unchanged.
4. The ``bikd_mm::`` config scope. mmengine resolves ``pkg::path`` in
   ``_base_`` lists only for the packages of its ``MODULE2PACKAGE``
   table, under ``<package>/.mim/configs``. ``bikd_mm`` is added to the
   table, and its package directory is the imported module's: mmengine's
   ``get_installed_path`` looks beside the distribution's metadata, which
   for an editable install (PEP 660) is site-packages, not the source
   tree. Other packages resolve unchanged.
   A config that names ``bikd_mm::`` needs bikd_mm imported before it is
   parsed (the bikd_mm tools do that; ``custom_imports`` is read later).
   Its tests are in ``tests/packaging/test_config_scope.py`` (the editable
   install) and ``tests/packaging/test_wheel.py`` (the wheel).
"""

import os.path as osp

import numpy as np
import torch


def _numpy_safe_globals() -> list:
    """Numpy types that mmengine checkpoints pickle, under numpy 1 and 2."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [
        type(np.dtype(name))
        for name in (
            'bool',
            'int8',
            'int16',
            'int32',
            'int64',
            'uint8',
            'float16',
            'float32',
            'float64',
        )
    ]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_getattr(obj, name: str):
    """``getattr`` as stock mmengine checkpoints need it, and no more.

    Args:
        obj: Must be mmengine's ``HistoryBuffer`` class.
        name (str): One of its built-in statistics methods
            (:data:`HISTORY_BUFFER_STATISTICS`).

    Returns:
        The method.

    Raises:
        pickle.UnpicklingError: For any other object or name.
    """
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL getattr({obj!r}, {name!r}): only '
        'the statistics methods of mmengine HistoryBuffer '
        f'{HISTORY_BUFFER_STATISTICS} are allowed'
    )


def checkpoint_safe_globals() -> list:
    """Return the non-tensor types that mmengine checkpoints contain.

    Returns:
        list: Classes, functions and ``(function, pickled name)`` pairs
        to pass to ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    return [
        HistoryBuffer,
        (history_buffer_getattr, 'builtins.getattr'),
        *_numpy_safe_globals(),
    ]


def _history_buffer_getstate(self) -> dict:
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def _cpu_aware_init_dist_pytorch(original):
    def init(backend='nccl', init_backend='torch', **kwargs) -> None:
        if torch.cuda.is_available():
            return original(backend, init_backend=init_backend, **kwargs)
        import torch.distributed as torch_dist

        torch_dist.init_process_group(backend=backend, **kwargs)

    init.__wrapped__ = original
    return init


def _bikd_aware_installed_path(original):
    def installed_path(package: str) -> str:
        if package == 'bikd_mm':
            import bikd_mm

            return osp.dirname(osp.abspath(bikd_mm.__file__))
        return original(package)

    installed_path.__wrapped__ = original
    return installed_path


def register_config_scope() -> None:
    """Make ``bikd_mm::<path under configs>`` resolve in mmengine configs."""
    import mmengine.config.config as config_module
    import mmengine.config.utils as config_utils
    import mmengine.utils as mmengine_utils
    import mmengine.utils.package_utils as package_utils

    config_utils.MODULE2PACKAGE.setdefault('bikd_mm', 'bikd_mm')
    original = package_utils.get_installed_path
    if hasattr(original, '__wrapped__'):
        return
    patched = _bikd_aware_installed_path(original)
    # Each module holds its own reference to the function.
    for module in (package_utils, mmengine_utils, config_module):
        module.get_installed_path = patched


_applied = False


def apply_compat() -> None:
    """Apply every compatibility fix once (idempotent)."""
    global _applied
    if _applied:
        return
    import mmengine.dist.utils as dist_utils
    from mmengine.logging.history_buffer import HistoryBuffer

    HistoryBuffer.__getstate__ = _history_buffer_getstate
    dist_utils._init_dist_pytorch = _cpu_aware_init_dist_pytorch(
        dist_utils._init_dist_pytorch
    )
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    register_config_scope()
    _applied = True
