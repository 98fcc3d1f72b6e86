"""Tests of gt_confidence."""

import math

import pytest
import torch
import torch.nn.functional as F

from bikd_mm.core import gt_confidence

DT = torch.float64


def test_hand_worked_example():
    # softmax([0, ln 3]) = [1/4, 3/4].
    logits = torch.tensor([[0.0, math.log(3.0)]])
    assert gt_confidence(logits, torch.tensor([1])).item() == pytest.approx(
        0.75
    )
    assert gt_confidence(logits, torch.tensor([0])).item() == pytest.approx(
        0.25
    )


@pytest.mark.parametrize('shape', [(6, 5), (2, 5, 3, 4)])
def test_hard_labels_match_softmax_gather(shape):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(shape, generator=gen, dtype=DT, requires_grad=True)
    y = torch.randint(0, 5, (shape[0],) + shape[2:], generator=gen)
    ref = F.softmax(logits, 1).gather(1, y.unsqueeze(1)).squeeze(1)
    got = gt_confidence(logits, y)
    torch.testing.assert_close(got, ref)
    lp = gt_confidence(logits.log_softmax(1), y, from_log_probs=True)
    torch.testing.assert_close(lp, ref)
    weights = torch.rand(ref.shape, generator=gen, dtype=DT)
    torch.testing.assert_close(
        torch.autograd.grad((got * weights).sum(), logits)[0],
        torch.autograd.grad((ref * weights).sum(), logits)[0],
    )
    channels_last = logits.movedim(1, -1)
    torch.testing.assert_close(
        gt_confidence(channels_last, y, class_dim=-1), ref
    )


def test_soft_labels():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(8, 4, generator=gen, dtype=DT)
    y = torch.randint(0, 4, (8,), generator=gen)
    one_hot = F.one_hot(y, 4).to(DT)
    torch.testing.assert_close(
        gt_confidence(logits, one_hot), gt_confidence(logits, y)
    )
    # Mixup of two labels with weight 0.3 / 0.7.
    y2 = torch.randint(0, 4, (8,), generator=gen)
    mixed = 0.3 * one_hot + 0.7 * F.one_hot(y2, 4).to(DT)
    probs = F.softmax(logits, 1)
    expected = torch.stack(
        [sum(mixed[i, c] * probs[i, c] for c in range(4)) for i in range(8)]
    )
    torch.testing.assert_close(gt_confidence(logits, mixed), expected)
    torch.testing.assert_close(
        gt_confidence(logits.log_softmax(1), mixed, from_log_probs=True),
        expected,
    )


def test_ignore_index_gives_zero_and_finite_grad():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 3, 4, 4, generator=gen, requires_grad=True)
    y = torch.randint(0, 3, (2, 4, 4), generator=gen)
    y[0, 0] = 255
    got = gt_confidence(logits, y, ignore_index=255)
    assert (got[0, 0] == 0).all()
    keep = y != 255
    ref = F.softmax(logits, 1).gather(1, y.clamp(max=2).unsqueeze(1))
    torch.testing.assert_close(got[keep], ref.squeeze(1)[keep])
    grad = torch.autograd.grad(got.sum(), logits)[0]
    assert torch.isfinite(grad).all()
    assert (grad[0, :, 0] == 0).all()
    with pytest.raises((IndexError, RuntimeError)):
        gt_confidence(logits, y)


def test_errors_name_the_argument():
    logits = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r'target .*\(4,\).*\(5,\)'):
        gt_confidence(logits, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r'target .*\(4, 3\).*\(4, 2\)'):
        gt_confidence(logits, torch.zeros(4, 2))
    with pytest.raises(TypeError, match='target'):
        gt_confidence(logits, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match='class_dim'):
        gt_confidence(logits, torch.zeros(4, dtype=torch.long), class_dim=2)
