"""mutual_kl_terms against a direct computation of KL in every direction."""

import pytest
import torch

from bikd_mm.core import mutual_kl_terms


def direct_terms(logits, valid, temperature=1.0):
    num = len(logits)
    terms = torch.zeros(num, num)
    count = valid.sum().clamp(min=1)
    for t in range(num):
        pt = (logits[t] / temperature).softmax(1)
        lt = (logits[t] / temperature).log_softmax(1)
        for s in range(num):
            if s == t:
                continue
            ls = (logits[s] / temperature).log_softmax(1)
            kl = (pt * (lt - ls)).sum(1)
            terms[t, s] = temperature**2 * (kl * valid).sum() / count
    return terms


@pytest.mark.parametrize('num, temperature', [(2, 1.0), (3, 2.0)])
def test_every_direction_on_every_valid_element(num, temperature):
    torch.manual_seed(0)
    logits = [torch.randn(2, 5, 4, 4) for _ in range(num)]
    valid = torch.rand(2, 4, 4) > 0.3
    got = mutual_kl_terms(logits, temperature=temperature, valid=valid)
    torch.testing.assert_close(got, direct_terms(logits, valid, temperature))
    # Every element is taught, so normalising over taught elements agrees.
    torch.testing.assert_close(
        mutual_kl_terms(
            logits, temperature=temperature, valid=valid, normalize='masked'
        ),
        got,
    )


def test_detached_teacher_trains_only_the_student():
    torch.manual_seed(1)
    a = torch.randn(6, 4, requires_grad=True)
    b = torch.randn(6, 4, requires_grad=True)
    terms = mutual_kl_terms([a, b], detach_teacher=True)
    # KL(p_a || p_b) with p_a constant: only b receives gradient.
    grad_a, grad_b = torch.autograd.grad(
        terms[0, 1], [a, b], allow_unused=True
    )
    assert grad_a is None or torch.count_nonzero(grad_a) == 0
    want = (b.softmax(1) - a.detach().softmax(1)) / 6
    torch.testing.assert_close(grad_b, want)
    # Without detaching both sides get gradient, as in the direct formula.
    a2 = a.detach().clone().requires_grad_()
    terms = mutual_kl_terms([a2, b.detach()])
    (grad,) = torch.autograd.grad(terms.sum(), [a2])
    a3 = a.detach().clone().requires_grad_()
    ref = direct_terms([a3, b.detach()], torch.ones(6, dtype=torch.bool))
    (want,) = torch.autograd.grad(ref.sum(), [a3])
    torch.testing.assert_close(grad, want)


def test_from_log_probs_equals_logits():
    torch.manual_seed(2)
    logits = [torch.randn(3, 7) for _ in range(2)]
    torch.testing.assert_close(
        mutual_kl_terms(
            [z.log_softmax(1) for z in logits], from_log_probs=True
        ),
        mutual_kl_terms(logits),
    )
