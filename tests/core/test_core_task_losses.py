"""Tests of pixel_cross_entropy, per_image_mean and bce_dice_loss."""

import math

import pytest
import torch
import torch.nn.functional as F

from bikd_mm.core import bce_dice_loss, per_image_mean, pixel_cross_entropy

DT = torch.float64


def test_pixel_cross_entropy_hand_worked():
    # Pixel 0: softmax([0, ln 3]) = [1/4, 3/4] with label 1; pixel 1: equal
    # logits over 2 classes; pixel 2: ignored.
    logits = torch.tensor([[[0.0, 0.0, 5.0], [math.log(3.0), 0.0, -5.0]]])
    target = torch.tensor([[1, 0, 255]])
    got = pixel_cross_entropy(logits, target)
    expected = [-math.log(0.75), math.log(2.0), 0.0]
    assert got.shape == (1, 3)
    assert got[0].tolist() == pytest.approx(expected)


@pytest.mark.parametrize('ignore_index', [255, -100, None])
def test_pixel_cross_entropy_matches_torch(ignore_index):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 4, 5, generator=gen, dtype=DT)
    logits.requires_grad_()
    target = torch.randint(0, 6, (2, 4, 5), generator=gen)
    if ignore_index is not None:
        target[:, 1] = ignore_index
    kwargs = {} if ignore_index is None else {'ignore_index': ignore_index}
    ref = F.cross_entropy(logits, target, reduction='none', **kwargs)
    got = pixel_cross_entropy(logits, target, ignore_index=ignore_index)
    torch.testing.assert_close(got, ref)
    if ignore_index is not None:
        assert (got[:, 1] == 0).all()
    weights = torch.rand(ref.shape, generator=gen, dtype=DT)
    torch.testing.assert_close(
        torch.autograd.grad((got * weights).sum(), logits)[0],
        torch.autograd.grad((ref * weights).sum(), logits)[0],
    )
    from_lp = pixel_cross_entropy(
        logits.log_softmax(1), target, ignore_index, from_log_probs=True
    )
    torch.testing.assert_close(from_lp, ref)
    # Given log-probabilities are used as they are, not normalised again.
    shifted = pixel_cross_entropy(
        logits.log_softmax(1) + 1.0, target, ignore_index, from_log_probs=True
    )
    keep = (target >= 0) & (target < 6)
    torch.testing.assert_close(shifted[keep], ref[keep] - 1.0)
    channels_last = pixel_cross_entropy(
        logits.movedim(1, -1), target, ignore_index, class_dim=-1
    )
    torch.testing.assert_close(channels_last, ref)


def test_pixel_cross_entropy_errors():
    logits = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r'target .*\(2, 4\).*\(2, 3\)'):
        pixel_cross_entropy(logits, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match='target'):
        pixel_cross_entropy(logits, torch.zeros(2, 4))
    with pytest.raises(ValueError, match='class_dim'):
        pixel_cross_entropy(logits, torch.zeros(2, 3), class_dim=3)


def test_per_image_mean():
    loss = torch.tensor(
        [[[1.0, 2.0], [3.0, 6.0]], [[4.0, 8.0], [0.0, 0.0]], [[5.0] * 2] * 2]
    )
    valid = torch.tensor(
        [
            [[True, True], [True, False]],
            [[False, True], [False, False]],
            [[False, False], [False, False]],
        ]
    )
    assert per_image_mean(loss, valid).tolist() == [2.0, 8.0, 0.0]
    assert per_image_mean(loss).tolist() == [3.0, 3.0, 5.0]
    assert per_image_mean(torch.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match='valid'):
        per_image_mean(loss, valid[:2])
    with pytest.raises(TypeError, match='valid'):
        per_image_mean(loss, valid.float())
    with pytest.raises(ValueError, match='per_element_loss'):
        per_image_mean(torch.tensor(1.0))


def direct_bce_dice(x, y, smooth, valid):
    """Per-image BCE + (1 - Dice) by explicit loops over valid pixels."""
    out = []
    for i in range(x.shape[0]):
        keep = valid[i]
        if not keep.any():
            out.append(x.new_zeros(()))
            continue
        xi, yi = x[i][keep], y[i][keep]
        p = 1 / (1 + torch.exp(-xi))
        bce = -(yi * torch.log(p) + (1 - yi) * torch.log(1 - p)).mean()
        dice = (2 * (p * yi).sum() + smooth) / (p.sum() + yi.sum() + smooth)
        out.append(bce + 1 - dice)
    return torch.stack(out)


@pytest.mark.parametrize('smooth', [1.0, 0.0])
@pytest.mark.parametrize('masked', [False, True])
def test_bce_dice_matches_direct_formula(smooth, masked):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 1, 5, 6, generator=gen, dtype=DT, requires_grad=True)
    y = (torch.rand(4, 1, 5, 6, generator=gen) > 0.6).to(DT)
    valid = torch.rand(4, 1, 5, 6, generator=gen) > 0.2
    valid[2] = False
    if not masked:
        valid = torch.ones_like(valid)
    arg = valid if masked else None
    ref_image = direct_bce_dice(x, y, smooth, valid)
    got_image = bce_dice_loss(x, y, 'image', smooth=smooth, valid=arg)
    torch.testing.assert_close(got_image, ref_image)
    num_images = 3 if masked else 4
    ref_mean = ref_image.sum() / num_images
    got_mean = bce_dice_loss(x, y, smooth=smooth, valid=arg)
    torch.testing.assert_close(got_mean, ref_mean)
    torch.testing.assert_close(
        torch.autograd.grad(got_mean, x)[0],
        torch.autograd.grad(ref_mean, x)[0],
    )


def test_bce_dice_none_is_per_pixel_bce():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 4, generator=gen)
    y = torch.rand(3, 4, 4, generator=gen)
    got = bce_dice_loss(x, y, reduction='none')
    torch.testing.assert_close(
        got, torch.nn.BCEWithLogitsLoss(reduction='none')(x, y)
    )
    valid = torch.rand(3, 4, 4, generator=gen) > 0.5
    masked = bce_dice_loss(x, y, reduction='none', valid=valid)
    torch.testing.assert_close(masked[valid], got[valid])
    assert (masked[~valid] == 0).all()
    # Without Dice, the per-image mean of 'none' is the BCE part of 'image'.
    dice_part = bce_dice_loss(x, y, 'image') - per_image_mean(got)
    probs = x.sigmoid().flatten(1)
    dice = (2 * (probs * y.flatten(1)).sum(1) + 1) / (
        probs.sum(1) + y.flatten(1).sum(1) + 1
    )
    torch.testing.assert_close(dice_part, 1 - dice)


def test_bce_dice_bool_target_and_all_invalid():
    x = torch.randn(2, 1, 3, 3, requires_grad=True)
    target = torch.rand(2, 1, 3, 3) > 0.5
    torch.testing.assert_close(
        bce_dice_loss(x, target), bce_dice_loss(x, target.float())
    )
    none_valid = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    for smooth in (1.0, 0.0):
        loss = bce_dice_loss(x, target, smooth=smooth, valid=none_valid)
        assert loss.item() == 0
        grad = torch.autograd.grad(loss, x)[0]
        assert torch.isfinite(grad).all() and (grad == 0).all()


def test_bce_dice_without_smoothing_stays_finite():
    # sigmoid(-200) underflows to 0 in float32: Dice would be 0 / 0.
    x = torch.full((2, 1, 3, 3), -200.0, requires_grad=True)
    target = torch.zeros(2, 1, 3, 3)
    loss = bce_dice_loss(x, target, 'image', smooth=0.0)
    assert torch.isfinite(loss).all()
    torch.testing.assert_close(loss, torch.ones(2))
    assert torch.isfinite(torch.autograd.grad(loss.sum(), x)[0]).all()


def test_bce_dice_errors():
    x = torch.zeros(2, 1, 3, 3)
    with pytest.raises(ValueError, match='reduction'):
        bce_dice_loss(x, x, reduction='sum')
    with pytest.raises(ValueError, match='smooth'):
        bce_dice_loss(x, x, smooth=-1.0)
    with pytest.raises(ValueError, match=r'target .*\(2, 1, 3, 3\)'):
        bce_dice_loss(x, torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match='valid'):
        bce_dice_loss(x, x, valid=torch.ones(2, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match='mask_logits'):
        bce_dice_loss(torch.tensor(0.0), torch.tensor(0.0))
