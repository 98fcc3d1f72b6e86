"""CE + selection + masked KL from logits in one function: equal to the
direct formulas in value and gradient, keeping only the logits."""

import math

import pytest
import torch
import torch.nn.functional as F

from bikd_mm.core import (
    LowestScoreRule,
    ce_and_masked_kl_terms,
    select_teachers,
)
from bikd_mm.core.ce_masked_kl import DEFAULT_FUSED_CHUNK_ELEMENTS

from .test_core_masked_kl import direct_terms, make_logits

IGNORE = 255


def labels_for(shape, classes, seed=0):
    """Labels with about a quarter of the elements ignored."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, shape, generator=gen)
    labels[torch.rand(shape, generator=gen) < 0.25] = IGNORE
    return labels


def per_pixel(tie='auto'):
    """The lowest CE teaches; element-wise, so it also serves chunks."""

    def select(ce):
        return select_teachers(ce, higher_is_better=False, tie=tie)

    return select


def direct(logits, labels, select, per_element=False, **options):
    """F.cross_entropy per member, the caller's selection, then the KL
    terms from element-wise F.kl_div maps (tests/core reference)."""
    ce = torch.stack(
        [
            F.cross_entropy(z, labels, ignore_index=IGNORE, reduction='none')
            for z in logits
        ]
    )
    valid = labels != IGNORE
    teacher = select(ce.detach())
    teacher = torch.where(valid & (teacher >= 0), teacher, -1)
    terms = direct_terms(logits, teacher, valid=valid, **options)
    return ce, terms, teacher


# Tolerances of float32 results against the float64 reference.
FLOAT32_TOLERANCE = dict(
    ce=dict(rtol=1e-5, atol=1e-5),
    terms=dict(rtol=1e-5, atol=1e-6),
    grad=dict(rtol=1e-4, atol=1e-6),
)


def check_against_direct(
    logits,
    labels,
    select,
    chunk=DEFAULT_FUSED_CHUNK_ELEMENTS,
    ignore_index=IGNORE,
    **options,
):
    """ce_and_masked_kl_terms (any ``kernel`` in ``options``) against
    :func:`direct` in float64, values and gradients of every output.

    Returns:
        Tensor: The teachers.
    """
    ce, terms, teacher, preds = ce_and_masked_kl_terms(
        logits,
        labels,
        select,
        ignore_index=ignore_index,
        chunk_elements=chunk,
        **options,
    )
    options.pop('kernel', None)
    wide = [z.detach().double().requires_grad_() for z in logits]
    if ignore_index is not None:
        labels = torch.where(labels == ignore_index, IGNORE, labels)
    ref_ce, ref_terms, ref_teacher = direct(wide, labels, select, **options)
    tol = (
        dict(ce={}, terms={}, grad={})
        if logits[0].dtype == torch.float64
        else FLOAT32_TOLERANCE
    )
    torch.testing.assert_close(ce, ref_ce.to(ce.dtype), **tol['ce'])
    torch.testing.assert_close(
        terms, ref_terms.to(terms.dtype), **tol['terms']
    )
    assert torch.equal(teacher, ref_teacher)
    for pred, z in zip(preds, logits):
        assert torch.equal(pred, z.argmax(1))
    # Distinct weights per direction and per element exercise every
    # gradient path: CE of each member, each (teacher, student) pair.
    n = len(logits)
    w_terms = torch.arange(1.0, n * n + 1, dtype=torch.float64).reshape(n, n)
    w_ce = torch.linspace(0.5, 2.0, ce.numel(), dtype=torch.float64)
    w_ce = w_ce.reshape(ce.shape)
    out = (terms * w_terms.to(terms.dtype)).sum() + (
        ce * w_ce.to(ce.dtype)
    ).sum()
    ref = (ref_terms * w_terms).sum() + (ref_ce * w_ce).sum()
    grads = torch.autograd.grad(out, logits)
    ref_grads = torch.autograd.grad(ref, wide)
    for grad, ref_grad, z in zip(grads, ref_grads, logits):
        assert grad.dtype == z.dtype
        torch.testing.assert_close(
            grad, ref_grad.to(grad.dtype), **tol['grad']
        )
    return teacher


@pytest.mark.parametrize('n', [2, 3, 4])
@pytest.mark.parametrize('chunk', [1, 17, 10**6])
@pytest.mark.parametrize('normalize', ['all', 'masked', 'none'])
@pytest.mark.parametrize('per_element', [False, True])
def test_equals_direct_formulas(n, chunk, normalize, per_element):
    logits = make_logits(n, (2, 5, 3, 4), seed=n)
    labels = labels_for((2, 3, 4), 5, seed=n)
    check_against_direct(
        logits,
        labels,
        per_pixel(),
        chunk,
        normalize=normalize,
        per_element=per_element,
    )


def test_per_element_selection_sees_chunks_only():
    """With per_element the selection is called on chunks of elements and
    its result equals one call on all elements."""
    logits = make_logits(2, (2, 4, 5, 6), seed=6)
    labels = labels_for((2, 5, 6), 4, seed=6)
    shapes = []

    def lowest(ce):
        shapes.append(tuple(ce.shape))
        return select_teachers(ce, higher_is_better=False)

    _, terms, teacher, _ = ce_and_masked_kl_terms(
        logits, labels, lowest, per_element=True, chunk_elements=4 * 12
    )
    assert len(shapes) == 6 and all(s[0] == 2 for s in shapes)
    assert sum(math.prod(s[1:]) for s in shapes) == labels.numel()
    _, ref_terms, ref_teacher, _ = ce_and_masked_kl_terms(
        logits, labels, lowest
    )
    assert torch.equal(teacher, ref_teacher)
    torch.testing.assert_close(terms, ref_terms)


def test_predictions_only_where_asked():
    logits = make_logits(2, (2, 3, 4), seed=1)
    labels = labels_for((2, 4), 3)
    *_, preds = ce_and_masked_kl_terms(
        logits, labels, per_pixel(), predict=[False, True]
    )
    assert preds[0] is None
    assert torch.equal(preds[1], logits[1].argmax(1))
    with pytest.raises(ValueError, match='predict has 1 entries'):
        ce_and_masked_kl_terms(logits, labels, per_pixel(), predict=[True])


@pytest.mark.parametrize('n', [2, 3])
@pytest.mark.parametrize('temperature', [0.5, 1.0, 3.0])
@pytest.mark.parametrize('detach_teacher', [False, True])
@pytest.mark.parametrize('per_element', [False, True])
def test_temperature_and_detached_teacher(
    n, temperature, detach_teacher, per_element
):
    logits = make_logits(n, (3, 4, 5), seed=10 + n)
    labels = labels_for((3, 5), 4, seed=n)
    check_against_direct(
        logits,
        labels,
        per_pixel(),
        7,
        temperature=temperature,
        detach_teacher=detach_teacher,
        per_element=per_element,
    )


@pytest.mark.parametrize('n, tie', [(2, 'auto'), (3, 'auto'), (3, 'first')])
def test_ties(n, tie):
    """Equal members tie on every element: with two the last teaches, with
    three nobody (reference rule); 'first' picks member 0."""
    base = make_logits(1, (2, 4, 3, 3), seed=5)[0].detach()
    logits = [base.clone().requires_grad_() for _ in range(n)]
    labels = labels_for((2, 3, 3), 4, seed=1)
    _, terms, teacher, _ = ce_and_masked_kl_terms(
        logits, labels, per_pixel(tie), chunk_elements=5
    )
    valid = labels != IGNORE
    expected = {'auto': n - 1 if n == 2 else -1, 'first': 0}[tie]
    assert (teacher[valid] == expected).all()
    assert (teacher[~valid] == -1).all()
    torch.testing.assert_close(terms, torch.zeros_like(terms))
    check_against_direct(logits, labels, per_pixel(tie), 5)


def test_per_image_selection():
    """A selection by the per-image mean CE gives one teacher per image."""
    logits = make_logits(2, (3, 4, 4, 4), seed=2)
    labels = labels_for((3, 4, 4), 4, seed=2)
    valid = labels != IGNORE

    def per_image(ce):
        mean = (ce * valid).flatten(2).sum(2) / valid.flatten(1).sum(1)
        best = select_teachers(mean, higher_is_better=False)
        return best[:, None, None].expand_as(labels)

    _, _, teacher, _ = ce_and_masked_kl_terms(logits, labels, per_image)
    for image in range(3):
        taught = teacher[image][valid[image]]
        assert (taught == taught[0]).all()
    check_against_direct(logits, labels, per_image, 11)


@pytest.mark.parametrize('kernel', ['torch', 'triton'])
def test_ignored_elements_get_no_gradient(kernel):
    logits = make_logits(2, (2, 3, 4, 4), seed=4)
    logits = [z.detach().float().requires_grad_() for z in logits]
    labels = labels_for((2, 4, 4), 3, seed=4)
    ce, terms, _, _ = ce_and_masked_kl_terms(
        logits,
        labels,
        LowestScoreRule(),
        chunk_elements=9,
        per_element=True,
        kernel=kernel,
    )
    ignored = labels == IGNORE
    assert (ce[:, ignored] == 0).all()
    (ce.sum() + terms.sum()).backward()
    for z in logits:
        assert (z.grad.permute(0, 2, 3, 1)[ignored] == 0).all()
        assert z.grad.permute(0, 2, 3, 1)[~ignored].abs().sum() > 0


def test_keeps_only_the_logits_for_backward():
    """No tensor of class size is saved besides the logits themselves
    (the direct composition saves each member's log-probabilities)."""
    logits = make_logits(2, (2, 6, 8, 8), seed=3)
    labels = labels_for((2, 8, 8), 6, seed=3)
    saved = []

    def pack(tensor):
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        ce, terms, _, _ = ce_and_masked_kl_terms(logits, labels, per_pixel())
    class_sized = [t for t in saved if t.numel() >= logits[0].numel()]
    assert len(class_sized) == 2
    assert all(any(t is z for z in logits) for t in class_sized)

    saved.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        direct(logits, labels, per_pixel())
    assert len([t for t in saved if t.numel() >= logits[0].numel()]) > 2


def test_only_inputs_that_need_grad_get_one():
    a, b = make_logits(2, (2, 3, 4), seed=1)
    b = b.detach()
    labels = labels_for((2, 4), 3, seed=1)
    ce, terms, _, _ = ce_and_masked_kl_terms([a, b], labels, per_pixel())
    (ce.sum() + terms.sum()).backward()
    assert a.grad is not None and b.grad is None


def test_bad_inputs_name_the_problem():
    logits = make_logits(2, (2, 3, 4), seed=1)
    labels = labels_for((2, 4), 3)
    with pytest.raises(ValueError, match=r'select returned .*\(2,\)'):
        ce_and_masked_kl_terms(logits, labels, lambda ce: ce[0, :, 0])
    with pytest.raises(ValueError, match='labels'):
        ce_and_masked_kl_terms(logits, labels[:, :2], per_pixel())
    with pytest.raises(ValueError, match='temperature'):
        ce_and_masked_kl_terms(logits, labels, per_pixel(), temperature=0)
    with pytest.raises(ValueError, match='normalize'):
        ce_and_masked_kl_terms(logits, labels, per_pixel(), normalize='mean')


@pytest.mark.parametrize('kernel', ['torch', 'triton'])
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_logits_are_computed_in_float32(dtype, kernel):
    """Under autocast the logits may be half precision: CE and terms are
    float32 values of exactly those logits, gradients come back in the
    logits' dtype (PyTorch path and Triton kernels)."""
    base = make_logits(2, (2, 7, 4, 4), seed=8, grad=False)
    labels = labels_for((2, 4, 4), 7, seed=8)
    half = [z.to(dtype).requires_grad_() for z in base]
    wide = [z.detach().float().requires_grad_() for z in half]
    rule = LowestScoreRule()
    out = ce_and_masked_kl_terms(
        half, labels, rule, chunk_elements=9, per_element=True, kernel=kernel
    )
    ref = ce_and_masked_kl_terms(wide, labels, rule, chunk_elements=9)
    for value, ref_value in zip(out[:2], ref[:2]):
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, ref_value)
    (out[0].sum() + out[1].sum()).backward()
    (ref[0].sum() + ref[1].sum()).backward()
    for z, w in zip(half, wide):
        assert z.grad.dtype == dtype
        torch.testing.assert_close(z.grad, w.grad.to(dtype))


def test_any_integer_label_dtype():
    logits = make_logits(2, (2, 3, 4), seed=2)
    labels = labels_for((2, 4), 3, seed=2)
    wide = ce_and_masked_kl_terms(logits, labels, per_pixel())
    narrow = ce_and_masked_kl_terms(logits, labels.int(), per_pixel())
    for a, b in zip(wide[:3], narrow[:3]):
        torch.testing.assert_close(a, b)
