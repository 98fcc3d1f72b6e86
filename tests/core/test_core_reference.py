"""The core functions composed into Bi-KD against the reference formulas.

The references are rebuilt from the method's definition with
``torch.nn.functional`` only, and compared for the loss value and for the
gradient with respect to every member's logits.
"""

import pytest
import torch
import torch.nn.functional as F

from bikd_mm.core import (
    gt_confidence,
    masked_kl,
    per_image_mean,
    pixel_cross_entropy,
    select_teachers,
)

DT = torch.float64


def kl_rows(p_logits, q_logits):
    """KL(p || q) over dim 1, kept per element."""
    return F.kl_div(
        F.log_softmax(q_logits, 1),
        F.log_softmax(p_logits, 1),
        reduction='none',
        log_target=True,
    ).sum(1)


def reference_two(za, zb, y):
    """CE_A + CE_B + mean(mask_A * kl_A + mask_B * kl_B), classes on dim 1."""
    pa, pb = F.softmax(za, 1), F.softmax(zb, 1)
    conf_a = pa.gather(1, y.unsqueeze(1)).squeeze(1)
    conf_b = pb.gather(1, y.unsqueeze(1)).squeeze(1)
    mask_a = (conf_a > conf_b).to(za.dtype)
    mask_b = (conf_a <= conf_b).to(za.dtype)
    kl_a = (pa * (pa.log() - pb.log())).sum(1)
    kl_b = kl_rows(zb, za)
    ce = F.cross_entropy(za, y) + F.cross_entropy(zb, y)
    return ce + (mask_a * kl_a + mask_b * kl_b).mean()


def bikd_confidence(logits, y, from_log_probs):
    """The Bi-KD classification loss composed from the core functions."""
    inputs = [z.log_softmax(1) for z in logits] if from_log_probs else logits
    ce = [
        pixel_cross_entropy(x, y, None, from_log_probs=from_log_probs).mean()
        for x in inputs
    ]
    conf = torch.stack(
        [gt_confidence(x, y, from_log_probs=from_log_probs) for x in inputs]
    )
    teacher = select_teachers(conf, higher_is_better=True)
    kd = masked_kl(inputs, teacher, from_log_probs=from_log_probs)
    return sum(ce) + kd, teacher


def assert_same_loss_and_grads(loss, ref, inputs):
    grads = torch.autograd.grad(loss, inputs)
    ref_grads = torch.autograd.grad(ref, inputs)
    torch.testing.assert_close(loss, ref)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad)


@pytest.mark.parametrize('from_log_probs', [False, True])
@pytest.mark.parametrize('shape', [(16, 5), (2, 4, 3, 5)])
def test_two_members_match_reference(shape, from_log_probs):
    gen = torch.Generator().manual_seed(0)
    za = torch.randn(shape, generator=gen, dtype=DT, requires_grad=True)
    zb = torch.randn(shape, generator=gen, dtype=DT, requires_grad=True)
    y_shape = (shape[0],) + shape[2:]
    y = torch.randint(0, shape[1], y_shape, generator=gen)
    loss, teacher = bikd_confidence([za, zb], y, from_log_probs)
    # Both members teach somewhere, so both directions are exercised.
    assert (teacher == 0).any() and (teacher == 1).any()
    assert_same_loss_and_grads(loss, reference_two(za, zb, y), [za, zb])


def test_two_members_tie_lets_second_member_teach():
    # Equal p[y] with different distributions: the direction matters.
    za = torch.tensor([[0.3, 1.0, 2.0, -0.5]], dtype=DT, requires_grad=True)
    zb = torch.tensor([[0.3, 2.0, 1.0, -0.5]], dtype=DT, requires_grad=True)
    y = torch.tensor([0])
    conf_a, conf_b = gt_confidence(za, y), gt_confidence(zb, y)
    assert torch.equal(conf_a, conf_b)
    assert torch.equal(F.softmax(za, 1)[:, 0], F.softmax(zb, 1)[:, 0])
    loss, teacher = bikd_confidence([za, zb], y, from_log_probs=True)
    assert teacher.tolist() == [1]
    ref = reference_two(za, zb, y)
    assert_same_loss_and_grads(loss, ref, [za, zb])
    # The KD gradient reaches the teacher too: nothing is detached.
    kd = masked_kl([za, zb], teacher)
    assert torch.autograd.grad(kd, zb)[0].abs().sum() > 0


def reference_many(logits, y):
    """Best p[y] teaches every other member; a tied best means no KD."""
    n, batch = len(logits), logits[0].shape[0]
    probs = [F.softmax(z, 1) for z in logits]
    kd = logits[0].new_zeros(())
    for i in range(batch):
        conf = [p[i, y[i]] for p in probs]
        best = max(conf)
        winners = [m for m in range(n) if conf[m] == best]
        if len(winners) > 1:
            continue
        t = winners[0]
        for s in range(n):
            if s != t:
                pt, ps = probs[t][i], probs[s][i]
                kd = kd + (pt * (pt.log() - ps.log())).sum()
    ce = sum(F.cross_entropy(z, y) for z in logits)
    return ce + kd / batch


def test_three_members_match_reference():
    gen = torch.Generator().manual_seed(1)
    logits = [torch.randn(12, 6, generator=gen, dtype=DT) for _ in range(3)]
    y = torch.randint(0, 6, (12,), generator=gen)
    # Samples 0 and 1: the best confidence is shared by two members whose
    # distributions differ from the third one's, so wrongly picking a
    # teacher there would change the loss.
    logits[0][0] = logits[1][0] = torch.full((6,), -1.0, dtype=DT)
    logits[0][0, y[0]] = logits[1][0, y[0]] = 3.0
    logits[1][1] = logits[2][1] = torch.full((6,), -2.0, dtype=DT)
    logits[1][1, y[1]] = logits[2][1, y[1]] = 4.0
    logits = [z.requires_grad_() for z in logits]
    loss, teacher = bikd_confidence(logits, y, from_log_probs=False)
    assert teacher[:2].tolist() == [-1, -1]
    assert set(teacher[2:].tolist()) == {0, 1, 2}
    assert_same_loss_and_grads(loss, reference_many(logits, y), logits)


def reference_segmentation(za, zb, y, per_image, ignore_index=255):
    """Lower CE teaches, per pixel or per image; KD over valid pixels."""
    valid = y != ignore_index
    ce_a = F.cross_entropy(za, y, ignore_index=ignore_index, reduction='none')
    ce_b = F.cross_entropy(zb, y, ignore_index=ignore_index, reduction='none')
    if per_image:
        count = valid.sum((1, 2)).to(za.dtype)
        img_a, img_b = ce_a.sum((1, 2)) / count, ce_b.sum((1, 2)) / count
        a_better = (img_a < img_b)[:, None, None].expand_as(valid)
    else:
        a_better = ce_a < ce_b
    mask_a = (a_better & valid).to(za.dtype)
    mask_b = (~a_better & valid).to(za.dtype)
    kl_a, kl_b = kl_rows(za, zb), kl_rows(zb, za)
    num_valid = valid.sum()
    kd = (mask_a * kl_a + mask_b * kl_b).sum() / num_valid
    return ce_a.sum() / num_valid + ce_b.sum() / num_valid + kd


def bikd_segmentation(za, zb, y, per_image, ignore_index=255):
    valid = y != ignore_index
    lps = [za.log_softmax(1), zb.log_softmax(1)]
    ce = [
        pixel_cross_entropy(lp, y, ignore_index, from_log_probs=True)
        for lp in lps
    ]
    if per_image:
        scores = torch.stack([per_image_mean(c, valid) for c in ce])
        image_teacher = select_teachers(scores, higher_is_better=False)
        teacher = image_teacher[:, None, None].expand_as(y)
    else:
        teacher = select_teachers(torch.stack(ce), higher_is_better=False)
    kd = masked_kl(lps, teacher, valid=valid, from_log_probs=True)
    num_valid = valid.sum()
    return ce[0].sum() / num_valid + ce[1].sum() / num_valid + kd


@pytest.mark.parametrize('per_image', [False, True])
def test_segmentation_lower_loss_teaches(per_image):
    gen = torch.Generator().manual_seed(2)
    za = torch.randn(3, 5, 4, 6, generator=gen, dtype=DT, requires_grad=True)
    zb = torch.randn(3, 5, 4, 6, generator=gen, dtype=DT, requires_grad=True)
    y = torch.randint(0, 5, (3, 4, 6), generator=gen)
    y[:, 0] = 255
    loss = bikd_segmentation(za, zb, y, per_image)
    ref = reference_segmentation(za, zb, y, per_image)
    assert_same_loss_and_grads(loss, ref, [za, zb])


def test_float32_matches_float64_reference():
    gen = torch.Generator().manual_seed(3)
    za = torch.randn(2, 19, 8, 8, generator=gen)
    zb = torch.randn(2, 19, 8, 8, generator=gen)
    y = torch.randint(0, 19, (2, 8, 8), generator=gen)
    loss, _ = bikd_confidence([za, zb], y, from_log_probs=True)
    ref = reference_two(za.double(), zb.double(), y)
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-5)
