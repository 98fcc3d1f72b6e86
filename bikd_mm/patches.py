r"""Every change bikd_mm makes to the behaviour of its libraries.

Each patch below is a context manager: it replaces one library symbol on
entry and puts back what was there on exit (also when the block raises),
so a stock mmseg / mmpretrain / mmengine run in the same process, before
or after, sees the libraries unchanged. ``import bikd_mm`` applies none of
them (``tests/test_patches.py`` checks the symbols' identities before and
after the import, and that a stock mmseg config trains to the same losses
and weights with and without ``custom_imports=['bikd_mm']``).

=========================  ==========================================
Patch                      Details
=========================  ==========================================
:func:`sync_free_accuracy` **Changes** mmseg
                           ``models.decode_heads.decode_head.accuracy``
                           (what ``BaseDecodeHead.loss_by_feat`` calls
                           for ``acc_seg``) to :func:`pixel_accuracy`
                           for plain top-1 accuracy. **Why**: mmseg's
                           ``topk`` and boolean indexing wait for the
                           GPU twice per head and step. **Versions**:
                           mmseg 1.x (a speed patch, not a fix).
                           **Scope**: each member's forward in
                           ``BiKDSegmentor.loss`` (its
                           ``sync_free_accuracy`` option, on by
                           default). **Test**: the same ``acc_seg``
                           and no host synchronisation,
                           ``tests/models/segmentors/test_sync_free_accuracy.py``.
:func:`local_mask_count`   **Changes** mmdet
                           ``models.dense_heads.mask2former_head
                           .reduce_mean`` to the identity. **Why**: a
                           per-image loss (teacher selection by task
                           loss) is normalised by that image's own
                           matched masks; a collective per image would
                           average over processes and hang ranks whose
                           batches differ in size. **Versions**: mmdet
                           3.x. **Scope**:
                           ``Mask2FormerAdapter.image_task_losses``.
                           **Test**:
                           ``tests/models/segmentors/test_mask2former_member.py``
                           (``test_image_task_loss_is_each_images_stock_loss``).
:func:`cpu_dist_init`      **Changes** mmengine
                           ``dist.utils._init_dist_pytorch``: without
                           CUDA, the process group starts without
                           ``torch.cuda.set_device``; with CUDA,
                           mmengine's function runs. **Why**: mmengine
                           0.10.7 always selects a CUDA device, so a
                           gloo run on CPUs (clusters, CI) cannot start.
                           **Versions**: mmengine 0.10.x. **Scope**:
                           ``BiKDRunner.__init__`` and
                           :func:`run_patches`. **Test**:
                           ``tests/tools/test_dist_train_cpu.py``,
                           ``tests/engine/test_dist_pair.py``.
:func:`checkpoint_globals` **Changes** torch's weights-only allow-list
                           (``torch.serialization.add_safe_globals``) by
                           :func:`checkpoint_safe_globals`. **Why**:
                           torch >= 2.6 loads with ``weights_only=True``
                           and mmengine checkpoints hold a
                           ``HistoryBuffer``, numpy arrays and scalars;
                           a stock checkpoint also
                           ``getattr(HistoryBuffer, 'min')`` and the
                           other statistics, allowed as
                           :func:`history_buffer_getattr` only.
                           **Versions**: torch >= 2.6 with mmengine
                           0.10.x. **Scope**: bikd_mm's own loads
                           (:func:`bikd_mm.utils.load_checkpoint_file`:
                           members, ``load_from``, resume, exports),
                           ``BiKDRunner`` loads through mmengine, and
                           :func:`run_patches`. **Test**:
                           ``tests/utils/test_stock_checkpoints.py``,
                           ``tests/reliability/test_safe_loading.py``,
                           ``tests/test_patches.py``.
:func:`history_buffer_\    **Changes** mmengine
state`                     ``logging.HistoryBuffer.__getstate__``: the
                           pickled state leaves out the class-level
                           ``statistics_methods`` registry. **Why**:
                           pickling it writes ``getattr`` globals that
                           a weights-only loader refuses unless it
                           allow-lists ``getattr``; the registry is
                           rebuilt on import and mmengine's
                           ``__setstate__`` accepts a state without it.
                           **Versions**: mmengine 0.10.x. **Scope**:
                           ``BiKDRunner.save_checkpoint`` and
                           :func:`run_patches`. **Test**:
                           ``tests/test_patches.py``
                           (``test_bikd_checkpoints_hold_no_getattr``).
=========================  ==========================================

Not a patch, though it changes a library table at import: the
``bikd_mm::`` config scope. mmengine resolves ``pkg::path`` for the
packages of its ``MODULE2PACKAGE`` table, as
``<installed path>/.mim/configs/<path>``. ``import bikd_mm`` adds the one
entry ``'bikd_mm' -> 'bikd_mm.patches'`` (:func:`register_config_scope`);
mmengine finds no distribution of that name and takes the folder of the
module, which is the imported ``bikd_mm`` package, for an editable install
(PEP 660, whose metadata lie in site-packages) as for a wheel. No function
is replaced and the other entries resolve as before. It stays at import
because users parse configs that inherit ``bikd_mm::`` bases with
``Config.fromfile`` directly. Tests:
``tests/packaging/test_config_scope.py``, ``tests/packaging/test_wheel.py``.

A re-implementation, not a patch: ``BiKDSegmentor``'s ``share_decode_ce``
computes a plain ``CrossEntropyLoss`` decode loss (and its ``acc_seg``) as
mmseg's ``loss_by_feat`` averages it, from the log-probabilities of the
KD term; ``tests/models/segmentors/test_bikd_segmentor.py``
(``test_shared_decode_ce_equals_stock_loss``) compares both.
"""

import contextlib
import os.path as osp
import pickle
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

_EPS = torch.finfo(torch.float32).eps


@contextlib.contextmanager
def _replaced(owners: tuple, name: str, value) -> Iterator[None]:
    """Set ``name`` on every object of ``owners`` inside the block and
    put back each one's previous value on exit."""
    previous = [owner.__dict__.get(name, _MISSING) for owner in owners]
    for owner in owners:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, old in zip(owners, previous):
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)


_MISSING = object()


# --- sync_free_accuracy ---------------------------------------------------


def pixel_accuracy(
    pred: Tensor,
    target: Tensor,
    topk: int | tuple = 1,
    thresh: float | None = None,
    ignore_index: int | None = None,
) -> Tensor:
    """Top-1 accuracy in percent, as ``mmseg.models.losses.accuracy``.

    Args:
        pred (Tensor): Scores ``[N, C, ...]``.
        target (Tensor): Labels ``[N, ...]``.
        topk (int | tuple): Only 1 (or ``(1,)``) is computed here.
        thresh (float, optional): Must be None here.
        ignore_index (int, optional): Label of pixels left out.

    Returns:
        Tensor: ``[1]``: 100 x (correct + eps) / (valid + eps); a zero
        scalar for an empty batch. In a list of one for ``topk=(1,)``,
        as mmseg returns.
    """
    if topk not in (1, (1,)) or thresh is not None:
        raise ValueError(
            'pixel_accuracy computes top-1 accuracy without a threshold; '
            f'got topk={topk!r}, thresh={thresh!r}'
        )
    if pred.size(0) == 0:
        value = pred.new_zeros(())
    else:
        if pred.ndim != target.ndim + 1 or pred.size(0) != target.size(0):
            raise ValueError(
                f'pred {tuple(pred.shape)} and target '
                f'{tuple(target.shape)} do not match ([N, C, ...] and '
                '[N, ...])'
            )
        correct = pred.argmax(1) == target
        if ignore_index is None:
            total = target.numel()
        else:
            valid = target != ignore_index
            correct = correct & valid
            total = valid.sum()
        value = (correct.sum().float().reshape(1) + _EPS) * (
            100.0 / (total + _EPS)
        )
    return [value] if isinstance(topk, tuple) else value


def _sync_free(stock):
    def accuracy(pred, target, topk=1, thresh=None, ignore_index=None):
        if topk in (1, (1,)) and thresh is None:
            return pixel_accuracy(pred, target, topk, thresh, ignore_index)
        return stock(pred, target, topk, thresh, ignore_index)

    accuracy.__wrapped__ = stock
    return accuracy


@contextlib.contextmanager
def sync_free_accuracy(enabled: bool = True) -> Iterator[None]:
    """mmseg's ``BaseDecodeHead.loss_by_feat`` logs its top-1 ``acc_seg``
    with :func:`pixel_accuracy` inside the block (other ``topk`` or a
    ``thresh`` go to mmseg's function).

    Args:
        enabled (bool): False leaves mmseg's function in place.
            Defaults to True.
    """
    if not enabled:
        yield
        return
    import mmseg.models.decode_heads.decode_head as decode_head

    with _replaced(
        (decode_head,), 'accuracy', _sync_free(decode_head.accuracy)
    ):
        yield


# --- local_mask_count -----------------------------------------------------


def _identity(tensor: Tensor) -> Tensor:
    return tensor


@contextlib.contextmanager
def local_mask_count() -> Iterator[None]:
    """mmdet's Mask2Former loss counts an image's matched masks in this
    process only inside the block (its ``reduce_mean`` is the identity)."""
    # mmdet is needed by Mask2Former members only: importing it here keeps
    # ``import bikd_mm`` free of it.
    import mmdet.models.dense_heads.mask2former_head as mask2former_head

    with _replaced((mask2former_head,), 'reduce_mean', _identity):
        yield


# --- cpu_dist_init --------------------------------------------------------


def _cpu_aware(original):
    def init(backend='nccl', init_backend='torch', **kwargs) -> None:
        if torch.cuda.is_available():
            return original(backend, init_backend=init_backend, **kwargs)
        import torch.distributed as torch_dist

        torch_dist.init_process_group(backend=backend, **kwargs)

    init.__wrapped__ = original
    return init


@contextlib.contextmanager
def cpu_dist_init() -> Iterator[None]:
    """mmengine's ``init_dist`` for the ``pytorch`` launcher starts the
    process group without selecting a CUDA device when there is none,
    inside the block."""
    import mmengine.dist.utils as dist_utils

    with _replaced(
        (dist_utils,),
        '_init_dist_pytorch',
        _cpu_aware(dist_utils._init_dist_pytorch),
    ):
        yield


# --- checkpoint_globals ---------------------------------------------------


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


@contextlib.contextmanager
def checkpoint_globals() -> Iterator[None]:
    """``torch.load(..., weights_only=True)`` accepts the objects of
    mmengine checkpoints (:func:`checkpoint_safe_globals`) inside the
    block, and nothing more."""
    serialization = torch.serialization
    # Only those not yet allowed, so that an inner block (a load inside
    # a run) leaves the outer one's allow-list in place on exit.
    present = serialization.get_safe_globals()
    added = [g for g in checkpoint_safe_globals() if g not in present]
    serialization.add_safe_globals(added)
    try:
        yield
    finally:
        # torch >= 2.4 has no public removal of single entries.
        kept = [g for g in serialization.get_safe_globals() if g not in added]
        serialization.clear_safe_globals()
        serialization.add_safe_globals(kept)


# --- history_buffer_state -------------------------------------------------


def _history_buffer_getstate(self) -> dict:
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


@contextlib.contextmanager
def history_buffer_state() -> Iterator[None]:
    """mmengine's ``HistoryBuffer`` pickles without its class-level
    registry of statistics functions inside the block."""
    from mmengine.logging.history_buffer import HistoryBuffer

    with _replaced((HistoryBuffer,), '__getstate__', _history_buffer_getstate):
        yield


# --- for whole runs -------------------------------------------------------


@contextlib.contextmanager
def run_patches() -> Iterator[None]:
    """The patches a run of a plain mmengine ``Runner`` needs on this
    stack: :func:`cpu_dist_init`, :func:`checkpoint_globals` and
    :func:`history_buffer_state`. The bikd_mm tools and APIs build and run
    stock configs inside it; ``BiKDRunner`` applies each where it acts."""
    with cpu_dist_init(), checkpoint_globals(), history_buffer_state():
        yield


# --- the bikd_mm:: config scope (a table entry, not a patch) -------------

CONFIG_SCOPE = 'bikd_mm'


def register_config_scope() -> None:
    """Make ``bikd_mm::<path under configs>`` resolve in mmengine configs.

    Adds ``MODULE2PACKAGE['bikd_mm'] = 'bikd_mm.patches'``: mmengine finds
    no distribution of that name and takes the folder of this module, the
    imported ``bikd_mm`` package, whose ``.mim/configs`` holds the configs.
    """
    import mmengine.config.utils as config_utils

    config_utils.MODULE2PACKAGE.setdefault(CONFIG_SCOPE, __name__)


def config_scope_path() -> str:
    """The folder that ``bikd_mm::`` paths resolve under (``.mim/configs``
    of the imported package)."""
    return osp.join(osp.dirname(osp.abspath(__file__)), '.mim', 'configs')
