"""Chunked KL sums: same values and gradients whatever the chunking."""

import math

import pytest
import torch

from bikd_mm.core import masked_kl_terms
from bikd_mm.core.kl_sums import chunk_slices

from .test_core_masked_kl import (
    assert_grads_close,
    direct_terms,
    make_logits,
    random_teacher,
)


@pytest.mark.parametrize(
    'shape, class_dim, max_elements',
    [
        ((4, 3, 5, 6), 1, 1),
        ((4, 3, 5, 6), 1, 7),
        ((4, 3, 5, 6), 1, 40),
        ((4, 3, 5, 6), 1, 10**6),
        ((6, 4), 1, 9),
        ((3, 2, 7), 2, 5),
    ],
)
def test_chunks_cover_every_value_once(shape, class_dim, max_elements):
    count = torch.zeros(shape, dtype=torch.long)
    chunks = chunk_slices(torch.Size(shape), class_dim, max_elements)
    for index in chunks:
        count[index] += 1
        size = count[index].numel()
        # A chunk exceeds the budget only when one class vector does.
        assert size <= max(max_elements, shape[class_dim])
        assert count[index].shape[class_dim] == shape[class_dim]
    assert (count == 1).all()
    if max_elements >= math.prod(shape):
        assert len(chunks) == 1


@pytest.mark.parametrize('n', [2, 3])
@pytest.mark.parametrize('detach_teacher', [False, True])
@pytest.mark.parametrize('chunk_elements', [1, 13, 64])
def test_chunked_terms_match_direct_formula(n, detach_teacher, chunk_elements):
    shape = (3, 4, 5, 6)
    logits = make_logits(n, shape, seed=7 + n)
    teacher, valid = random_teacher(n, (3, 5, 6), seed=n)
    terms = masked_kl_terms(
        logits,
        teacher,
        valid=valid,
        detach_teacher=detach_teacher,
        chunk_elements=chunk_elements,
    )
    ref = direct_terms(
        logits, teacher, valid=valid, detach_teacher=detach_teacher
    )
    torch.testing.assert_close(terms, ref)
    # Distinct weights per direction exercise the per-element gradient
    # routing of every (teacher, student) pair.
    weights = torch.arange(1.0, n * n + 1, dtype=terms.dtype).reshape(n, n)
    assert_grads_close((terms * weights).sum(), (ref * weights).sum(), logits)


def test_ties_and_identical_members_give_zero_kl():
    base = make_logits(1, (2, 3, 4, 4), seed=3)[0]
    other = base.detach().clone().requires_grad_(True)
    teacher = torch.zeros(2, 4, 4, dtype=torch.long)
    teacher[:, ::2] = 1
    terms = masked_kl_terms([base, other], teacher, chunk_elements=5)
    torch.testing.assert_close(terms, torch.zeros_like(terms))
    ref = direct_terms([base, other], teacher)
    assert_grads_close(terms.sum(), ref.sum(), [base, other])


def test_only_inputs_that_need_grad_get_one():
    a, b = make_logits(2, (2, 3, 4), seed=1)
    frozen = b.detach()
    teacher = torch.tensor([[0, 1, 0, 1], [1, 1, 0, -1]])
    terms = masked_kl_terms([a, frozen], teacher, chunk_elements=3)
    ref = direct_terms([a, frozen], teacher)
    (grad,) = torch.autograd.grad(terms.sum(), [a])
    (ref_grad,) = torch.autograd.grad(ref.sum(), [a])
    torch.testing.assert_close(grad, ref_grad)
