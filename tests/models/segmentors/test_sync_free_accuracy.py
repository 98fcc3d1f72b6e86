"""Top-1 accuracy without host synchronisation vs mmseg's accuracy."""

import mmseg.models.decode_heads.decode_head as mmseg_decode_head
import pytest
import torch
from mmseg.models.losses import accuracy
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.patches import pixel_accuracy, sync_free_accuracy

from .seg_fixtures import fake_batch, member


def scores(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def labels(shape, classes, ignore=255, seed=1):
    gen = torch.Generator().manual_seed(seed)
    value = torch.randint(0, classes, shape, generator=gen)
    value[torch.rand(shape, generator=gen) < 0.2] = ignore
    return value


@pytest.mark.parametrize(
    'pred_shape', [(3, 7, 9, 11), (2, 5, 13), (4, 1, 6, 6), (2, 150, 8, 8)]
)
@pytest.mark.parametrize('ignore_index', [255, None])
def test_equals_mmseg_accuracy(pred_shape, ignore_index):
    pred = scores(pred_shape)
    classes = max(pred_shape[1], 2)
    target = labels(pred_shape[:1] + pred_shape[2:], classes)
    if ignore_index is None:
        target = target.clamp(max=classes - 1)
    want = accuracy(pred, target, ignore_index=ignore_index)
    got = pixel_accuracy(pred, target, ignore_index=ignore_index)
    assert got.shape == want.shape == (1,)
    torch.testing.assert_close(got, want)
    # A hand count: correct pixels over valid pixels.
    valid = (
        target != ignore_index
        if ignore_index is not None
        else torch.ones_like(target, dtype=torch.bool)
    )
    hand = ((pred.argmax(1) == target) & valid).sum() / valid.sum() * 100
    torch.testing.assert_close(got[0], hand.float(), atol=1e-4, rtol=0)


def test_tuple_topk_empty_batch_and_all_ignored():
    pred, target = scores((2, 4, 5, 5)), labels((2, 5, 5), 4)
    got = pixel_accuracy(pred, target, topk=(1,), ignore_index=255)
    want = accuracy(pred, target, topk=(1,), ignore_index=255)
    assert isinstance(got, list) and len(got) == 1
    torch.testing.assert_close(got[0], want[0])
    empty = torch.zeros(0, 4, 5, 5)
    assert pixel_accuracy(empty, target[:0]).item() == 0.0
    ignored = torch.full_like(target, 255)
    torch.testing.assert_close(
        pixel_accuracy(pred, ignored, ignore_index=255),
        accuracy(pred, ignored, ignore_index=255),
    )


def test_other_topk_threshold_and_shapes_are_refused():
    pred, target = scores((2, 4, 5, 5)), labels((2, 5, 5), 4)
    with pytest.raises(ValueError, match='topk=2'):
        pixel_accuracy(pred, target, topk=2)
    with pytest.raises(ValueError, match='thresh=0.5'):
        pixel_accuracy(pred, target, thresh=0.5)
    with pytest.raises(ValueError, match=r'\(2, 5\)'):
        pixel_accuracy(pred, target[:, 0])


def test_context_swaps_mmseg_accuracy_and_restores_it():
    stock = mmseg_decode_head.accuracy
    pred, target = scores((2, 4, 5, 5)), labels((2, 5, 5), 4)
    with sync_free_accuracy():
        patched = mmseg_decode_head.accuracy
        assert patched is not stock
        torch.testing.assert_close(
            patched(pred, target, ignore_index=255),
            stock(pred, target, ignore_index=255),
        )
        # Top-2 and thresholds still go to mmseg's function.
        for got, want in zip(
            patched(pred, target, topk=(1, 2), ignore_index=255),
            stock(pred, target, topk=(1, 2), ignore_index=255),
        ):
            torch.testing.assert_close(got, want)
        flat, classes = scores((9, 4)), labels((9,), 4)
        torch.testing.assert_close(
            patched(flat, classes, thresh=0.1, ignore_index=255),
            stock(flat, classes, thresh=0.1, ignore_index=255),
        )
    assert mmseg_decode_head.accuracy is stock
    with pytest.raises(RuntimeError):
        with sync_free_accuracy():
            raise RuntimeError('inside')
    assert mmseg_decode_head.accuracy is stock
    with sync_free_accuracy(enabled=False):
        assert mmseg_decode_head.accuracy is stock


@pytest.mark.parametrize('kd_resolution', ['logits', 'labels'])
def test_pair_logs_the_stock_accuracies(kd_resolution, monkeypatch):
    def build(**kwargs):
        torch.manual_seed(0)
        return MODELS.build(
            dict(
                type='BiKDSegmentor',
                members=[member('cnn'), member('swin')],
                kd_resolution=kd_resolution,
                **kwargs,
            )
        )

    fast, stock = build(), build(sync_free_accuracy=False)
    stock.load_state_dict(fast.state_dict())
    fast.eval()
    stock.eval()
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return accuracy(*args, **kwargs)

    monkeypatch.setattr(mmseg_decode_head, 'accuracy', counted)
    raw = fake_batch()
    want = stock(**stock.data_preprocessor(raw, True), mode='loss')
    # Both members' aux heads, and their decode heads unless the decode
    # CE is shared (labels).
    assert len(calls) == (2 if kd_resolution == 'labels' else 4)
    calls.clear()
    got = fast(**fast.data_preprocessor(raw, True), mode='loss')
    assert not calls
    assert mmseg_decode_head.accuracy is counted
    assert set(got) == set(want)
    assert sum(k.endswith('acc_seg') for k in want) == 4
    for key in want:
        torch.testing.assert_close(got[key], want[key])
