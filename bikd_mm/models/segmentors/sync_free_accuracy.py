"""Top-1 pixel accuracy without host synchronisation.

mmseg's decode heads log ``acc_seg`` with
:func:`mmseg.models.losses.accuracy`, which takes the top-1 class with
``topk`` over the class axis (several milliseconds on label-size logits of
150 classes on a GPU) and counts the valid pixels through boolean
indexing, which waits for the GPU twice per head. :func:`pixel_accuracy`
gives the same value with ``argmax`` and masked sums; while
:func:`sync_free_accuracy` is active, the decode and auxiliary heads'
``loss_by_feat`` use it for plain top-1 accuracy (other ``topk`` or a
``thresh`` go to mmseg's function).
"""

import contextlib

import mmseg.models.decode_heads.decode_head as mmseg_decode_head
import torch
from torch import Tensor

_EPS = torch.finfo(torch.float32).eps


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


def _accuracy(pred, target, topk=1, thresh=None, ignore_index=None):
    if topk in (1, (1,)) and thresh is None:
        return pixel_accuracy(pred, target, topk, thresh, ignore_index)
    return _STOCK_ACCURACY(pred, target, topk, thresh, ignore_index)


_STOCK_ACCURACY = mmseg_decode_head.accuracy


@contextlib.contextmanager
def sync_free_accuracy(enabled: bool = True):
    """Let mmseg's ``BaseDecodeHead.loss_by_feat`` use
    :func:`pixel_accuracy` for its ``acc_seg`` inside the block.

    Args:
        enabled (bool): False leaves mmseg's function in place.
    """
    if not enabled:
        yield
        return
    previous = mmseg_decode_head.accuracy
    mmseg_decode_head.accuracy = _accuracy
    try:
        yield
    finally:
        mmseg_decode_head.accuracy = previous
