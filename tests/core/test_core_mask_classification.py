"""mask_classification_log_probs against a loop over pixels and queries."""

import math

import pytest
import torch

from bikd_mm.core import mask_classification_log_probs


def direct_log_probs(cls_logits, mask_logits):
    """Class distribution per pixel, written out with Python loops."""
    b, q, k = cls_logits.shape
    h, w = mask_logits.shape[-2:]
    out = torch.empty(b, k - 1, h, w, dtype=torch.float64)
    for i in range(b):
        for y in range(h):
            for x in range(w):
                scores = []
                for c in range(k - 1):
                    total = 0.0
                    for j in range(q):
                        row = [float(v) for v in cls_logits[i, j]]
                        top = max(row)
                        norm = sum(math.exp(v - top) for v in row)
                        p_class = math.exp(row[c] - top) / norm
                        p_mask = 1 / (
                            1 + math.exp(-float(mask_logits[i, j, y, x]))
                        )
                        total += p_class * p_mask
                    scores.append(total)
                denom = sum(scores)
                for c in range(k - 1):
                    out[i, c, y, x] = math.log(scores[c] / denom)
    return out


def test_matches_direct_computation():
    gen = torch.Generator().manual_seed(0)
    cls_logits = 3 * torch.randn(2, 4, 6, generator=gen)
    mask_logits = 4 * torch.randn(2, 4, 3, 5, generator=gen)
    got = mask_classification_log_probs(cls_logits, mask_logits)
    assert got.shape == (2, 5, 3, 5)
    want = direct_log_probs(cls_logits, mask_logits)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        got.exp().sum(1), torch.ones(2, 3, 5), rtol=1e-5, atol=1e-5
    )


def test_gradients_reach_class_scores_and_masks():
    cls_logits = torch.randn(2, 3, 5, requires_grad=True)
    mask_logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    log_probs = mask_classification_log_probs(cls_logits, mask_logits)
    target = torch.randint(0, 4, (2, 4, 4))
    loss = -log_probs.gather(1, target[:, None]).mean()
    g_cls, g_mask = torch.autograd.grad(loss, [cls_logits, mask_logits])
    assert g_cls[..., :-1].abs().sum() > 0 and g_mask.abs().sum() > 0
    # The same gradient as the direct formula's, built from autograd ops.
    cls_probs = cls_logits.softmax(-1)[..., :-1]
    scores = (
        cls_probs[..., None, None] * mask_logits.sigmoid()[:, :, None]
    ).sum(1)
    ref = (scores / scores.sum(1, keepdim=True)).log()
    ref_loss = -ref.gather(1, target[:, None]).mean()
    w_cls, w_mask = torch.autograd.grad(ref_loss, [cls_logits, mask_logits])
    torch.testing.assert_close(g_cls, w_cls)
    torch.testing.assert_close(g_mask, w_mask)


def test_floor_bounds_log_probs():
    cls_logits = torch.tensor([[[50.0, -50.0, 0.0]]])
    mask_logits = torch.zeros(1, 1, 1, 1)
    out = mask_classification_log_probs(cls_logits, mask_logits, eps=1e-6)
    assert torch.isfinite(out).all()
    assert out.min() == pytest.approx(math.log(1e-6), rel=1e-5)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match=r'\(2, 3, 5\) and \(2, 4, 8, 8\)'):
        mask_classification_log_probs(
            torch.randn(2, 3, 5), torch.randn(2, 4, 8, 8)
        )
    with pytest.raises(TypeError, match='mask_logits'):
        mask_classification_log_probs(torch.randn(1, 2, 3), None)
