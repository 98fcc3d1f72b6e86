"""complementarity(): hand-worked examples and independent computations."""

import numpy as np
import pytest
import torch
from mmseg.evaluation.metrics import IoUMetric
from sklearn.metrics import confusion_matrix

from bikd_mm.apis.complementarity import (
    Complementarity,
    complementarity,
    mean_iou,
)


def test_six_samples_by_hand():
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    # both right, both right, A only, B only, neither, A only
    a = torch.tensor([0, 1, 2, 1, 0, 2])
    b = torch.tensor([0, 1, 0, 0, 2, 1])
    out = complementarity(dict(a=a, b=b), labels, num_classes=3)
    assert out['task'] == 'classification' and out['num_valid'] == 6
    assert out['members']['a'] == dict(accuracy=pytest.approx(4 / 6))
    assert out['members']['b'] == dict(accuracy=pytest.approx(3 / 6))
    (pair,) = out['pairs']
    assert (pair['a'], pair['b'], pair['best']) == ('a', 'b', 'a')
    assert pair['both_right'] == pytest.approx(2 / 6)
    assert pair['a_right_b_wrong'] == pytest.approx(2 / 6)
    assert pair['b_right_a_wrong'] == pytest.approx(1 / 6)
    assert pair['both_wrong'] == pytest.approx(1 / 6)
    assert pair['oracle_accuracy'] == pytest.approx(5 / 6)
    assert pair['best_accuracy'] == pytest.approx(4 / 6)
    assert 'oracle_mIoU' not in pair
    assert out['oracle']['members'] == ['a', 'b']
    assert out['oracle']['all_wrong'] == pytest.approx(1 / 6)
    # Scores instead of indices: the same counts.
    scores = {n: torch.eye(3)[p] * 5.0 for n, p in dict(a=a, b=b).items()}
    assert complementarity(scores, labels) == out


def test_two_by_three_label_map_oracle_miou_by_hand():
    labels = torch.tensor([[[0, 0, 1], [1, 2, 2]]])
    a = torch.tensor([[[0, 1, 1], [2, 2, 0]]])
    b = torch.tensor([[[0, 0, 2], [1, 1, 1]]])
    out = complementarity(dict(a=a, b=b), labels, num_classes=3)
    assert out['task'] == 'segmentation' and out['num_valid'] == 6
    # A: IoU 1/3 for each class. B: class 0 2/2, class 1 1/4, class 2 0/3.
    assert out['members']['a']['mIoU'] == pytest.approx(1 / 3)
    assert out['members']['b']['mIoU'] == pytest.approx((1 + 1 / 4) / 3)
    assert out['members']['a']['accuracy'] == pytest.approx(3 / 6)
    (pair,) = out['pairs']
    assert [pair[k] for k in ('both_right', 'a_right_b_wrong')] == [
        pytest.approx(1 / 6),
        pytest.approx(2 / 6),
    ]
    assert pair['b_right_a_wrong'] == pytest.approx(2 / 6)
    assert pair['both_wrong'] == pytest.approx(1 / 6)
    # The oracle takes the label where one is right and B's prediction
    # (the better mIoU) at the last pixel: [[0, 0, 1], [1, 2, 1]]:
    # IoU 2/2, 2/3 and 1/2.
    assert pair['best'] == 'b'
    assert pair['oracle_accuracy'] == pytest.approx(5 / 6)
    assert pair['oracle_mIoU'] == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)


def test_ignored_pixels_are_left_out():
    labels = torch.tensor([[[0, 255, 1], [1, 2, 2]]])
    a = torch.tensor([[[0, 1, 1], [2, 2, 0]]])
    b = torch.tensor([[[0, 0, 2], [1, 1, 1]]])
    out = complementarity(
        dict(a=a, b=b), labels, ignore_index=255, num_classes=3
    )
    (pair,) = out['pairs']
    assert out['num_valid'] == 5
    assert pair['both_right'] == pytest.approx(1 / 5)
    assert pair['a_right_b_wrong'] == pytest.approx(2 / 5)
    assert pair['b_right_a_wrong'] == pytest.approx(1 / 5)
    assert pair['both_wrong'] == pytest.approx(1 / 5)
    # num_classes inferred from labels and predictions (255 is not one).
    assert complementarity(dict(a=a, b=b), labels, ignore_index=255) == out


def _mmseg_miou(pred: np.ndarray, label: np.ndarray, c: int) -> float:
    areas = IoUMetric.intersect_and_union(
        torch.from_numpy(pred), torch.from_numpy(label), c, 255
    )
    metrics = IoUMetric.total_area_to_metrics(*areas, ['mIoU'])
    return float(np.nanmean(metrics['IoU']))


def test_random_maps_against_mmseg_and_sklearn():
    rng = np.random.default_rng(0)
    c, names = 6, ['p', 'q', 'r']
    labels = rng.integers(0, c, (4, 9, 11))
    labels[rng.random(labels.shape) < 0.1] = 255
    # Members right on about 60 %, 50 % and 40 % of the pixels.
    preds = {}
    for n, keep in zip(names, (0.6, 0.5, 0.4)):
        noise = rng.integers(0, c, labels.shape)
        pred = np.where(rng.random(labels.shape) < keep, labels, noise)
        preds[n] = np.where(labels == 255, noise, pred)
    out = complementarity(
        {n: torch.from_numpy(p) for n, p in preds.items()},
        torch.from_numpy(labels),
        ignore_index=255,
        num_classes=c,
    )
    valid = labels != 255
    y = labels[valid]
    flat = {n: p[valid] for n, p in preds.items()}
    for n in names:
        assert out['members'][n]['mIoU'] == pytest.approx(
            _mmseg_miou(preds[n], labels, c)
        )
        assert out['members'][n]['accuracy'] == pytest.approx(
            (flat[n] == y).mean()
        )
    assert len(out['pairs']) == 3
    for pair in out['pairs']:
        ra, rb = flat[pair['a']] == y, flat[pair['b']] == y
        assert pair['both_right'] == pytest.approx((ra & rb).mean())
        assert pair['a_right_b_wrong'] == pytest.approx((ra & ~rb).mean())
        assert pair['b_right_a_wrong'] == pytest.approx((~ra & rb).mean())
        assert pair['both_wrong'] == pytest.approx((~ra & ~rb).mean())
        best = pair['best']
        assert out['members'][best]['mIoU'] == max(
            out['members'][pair['a']]['mIoU'],
            out['members'][pair['b']]['mIoU'],
        )
        oracle = np.where(ra | rb, y, flat[best])
        conf = confusion_matrix(y, oracle, labels=list(range(c)))
        iou = np.diag(conf) / (conf.sum(0) + conf.sum(1) - np.diag(conf))
        assert pair['oracle_mIoU'] == pytest.approx(np.nanmean(iou))
        assert pair['oracle_accuracy'] == pytest.approx((ra | rb).mean())
    right = np.stack([flat[n] == y for n in names])
    whole = out['oracle']
    assert whole['members'] == names
    assert whole['oracle_accuracy'] == pytest.approx(right.any(0).mean())
    assert whole['all_right'] == pytest.approx(right.all(0).mean())
    assert whole['all_wrong'] == pytest.approx((~right.any(0)).mean())
    assert whole['best'] == 'p'
    oracle = np.where(right.any(0), y, flat['p'])
    assert whole['oracle_mIoU'] == pytest.approx(_mmseg_miou(oracle, y, c))


def test_batches_add_up_to_one_call():
    rng = np.random.default_rng(1)
    labels = torch.from_numpy(rng.integers(0, 4, 50))
    preds = {n: torch.from_numpy(rng.integers(0, 4, 50)) for n in 'xyz'}
    meter = Complementarity(list(preds), 4)
    for part in torch.arange(50).split(7):
        meter.update({n: p[part] for n, p in preds.items()}, labels[part])
    assert meter.result() == complementarity(preds, labels, num_classes=4)


def test_mean_iou_leaves_absent_classes_out():
    conf = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    assert mean_iou(conf) == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert np.isnan(mean_iou(np.zeros((2, 2))))


def test_errors_name_the_member_and_the_shapes():
    labels = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match=r"member 'b'.*\(2,\).*\(3,\)"):
        complementarity(dict(a=labels, b=labels[:2]), labels)
    with pytest.raises(ValueError, match=r"member 'b' predicts class"):
        complementarity(
            dict(a=labels, b=torch.tensor([0, 1, 7])), labels, num_classes=3
        )
    with pytest.raises(ValueError, match='outside'):
        complementarity(dict(a=labels, b=labels), labels, num_classes=2)
    zeros = torch.zeros(1, 2, 2, dtype=torch.long)
    with pytest.raises(ValueError, match='no valid'):
        complementarity(
            dict(a=zeros, b=zeros),
            torch.full((1, 2, 2), 255),
            ignore_index=255,
            num_classes=3,
        )
    with pytest.raises(ValueError, match='two or more'):
        complementarity(dict(a=labels), labels)
    meter = Complementarity(['a', 'b'], 3)
    with pytest.raises(KeyError, match="members are \\['a', 'b'\\]"):
        meter.update(dict(a=labels), labels)
