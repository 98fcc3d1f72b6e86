"""kd_terms, the one entry point of the KD term: its reference kernel
against hand-worked values and independent formulas (numpy, scipy), and
every other kernel against the reference in value and gradient."""

import math

import numpy as np
import pytest
import torch
from scipy.special import rel_entr

from bikd_mm.core import (
    LowestScoreRule,
    distribution_kl_terms,
    generalized_kl,
    kd_terms,
    select_teachers,
)
from bikd_mm.core import ce_masked_kl_triton as triton_kernels
from bikd_mm.core.distribution_kl import MATLAB_EPS
from bikd_mm.core.kd_term import KERNELS

DT = torch.float64
IGNORE = 255


def logits_of(probs):
    """Logits whose softmax over dim 1 is ``probs`` (rows ``[E, C]``)."""
    return torch.tensor(probs, dtype=DT).log().requires_grad_()


# Hand-worked: p_A = (1/2, 1/2), p_B = (1/4, 3/4), p_C = (1/8, 7/8).
#   KL(A || B) = 1/2 ln 2 + 1/2 ln(2/3)       = 1/2 ln(4/3)
#   KL(B || A) = 1/4 ln(1/2) + 3/4 ln(3/2)    = 3/4 ln 3 - ln 2
#   KL(C || A) = 1/8 ln(1/4) + 7/8 ln(7/4)    = 7/8 ln 7 - 2 ln 2
#   KL(C || B) = 1/8 ln(1/2) + 7/8 ln(7/6)
KL_AB = 0.5 * math.log(4 / 3)
KL_BA = 0.75 * math.log(3) - math.log(2)
KL_CA = 7 / 8 * math.log(7) - 2 * math.log(2)
KL_CB = 1 / 8 * math.log(1 / 2) + 7 / 8 * math.log(7 / 6)


def test_reference_hand_worked_pair():
    """Element 0: A teaches; element 1: B teaches; element 2: nobody.
    'all' divides by the 3 valid elements, 'masked' by the 2 taught."""
    za = logits_of([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    zb = logits_of([[0.25, 0.75], [0.25, 0.75], [0.25, 0.75]])
    teacher = torch.tensor([0, 1, -1])
    terms = kd_terms([za, zb], teacher, 'reference').terms
    expected = torch.tensor([[0, KL_AB], [KL_BA, 0]], dtype=DT) / 3
    torch.testing.assert_close(terms, expected, rtol=1e-12, atol=0)
    masked = kd_terms([za, zb], teacher, 'reference', normalize='masked')
    torch.testing.assert_close(masked.terms, expected * 3 / 2)
    none = kd_terms([za, zb], teacher, 'reference', normalize='none')
    torch.testing.assert_close(none.terms, expected * 3)
    assert torch.equal(masked.teacher, teacher)


def test_reference_hand_worked_three_members_with_valid():
    """C teaches element 0 (into A and B), A element 1 (into B and C,
    invalid: not counted), B element 2 (p_B from logits by T = 1)."""
    za = logits_of([[0.5, 0.5]] * 3)
    zb = logits_of([[0.25, 0.75]] * 3)
    zc = logits_of([[0.125, 0.875]] * 3)
    teacher = torch.tensor([2, 0, 1])
    valid = torch.tensor([True, False, True])
    terms = kd_terms([za, zb, zc], teacher, 'reference', valid=valid).terms
    kl_bc = float(rel_entr([0.25, 0.75], [0.125, 0.875]).sum())
    expected = torch.tensor(
        [[0, 0, 0], [KL_BA, 0, kl_bc], [KL_CA, KL_CB, 0]], dtype=DT
    )
    torch.testing.assert_close(terms, expected / 2, rtol=1e-12, atol=0)


def test_reference_against_scipy_with_temperature():
    """Random logits, T = 2: p = softmax(z / 2) per element, rel_entr
    summed where the teacher teaches, times T^2 over the valid count."""
    gen = torch.Generator().manual_seed(3)
    logits = [torch.randn(6, 4, generator=gen, dtype=DT) for _ in range(3)]
    teacher = torch.tensor([0, 1, 2, -1, 2, 0])
    valid = torch.tensor([True, True, True, True, False, True])
    terms = kd_terms(
        logits, teacher, 'reference', temperature=2.0, valid=valid
    ).terms
    probs = [
        np.exp(z.numpy() / 2) / np.exp(z.numpy() / 2).sum(1, keepdims=True)
        for z in logits
    ]
    expected = np.zeros((3, 3))
    for e in range(6):
        t = int(teacher[e])
        if t < 0 or not valid[e]:
            continue
        for s in range(3):
            if s != t:
                expected[t, s] += rel_entr(probs[t][e], probs[s][e]).sum()
    expected *= 4 / int(valid.sum())
    np.testing.assert_allclose(terms.numpy(), expected, rtol=1e-12)


def test_reference_gradient_closed_form():
    """For KL(p || q), p = softmax(a), q = softmax(b): d/db = q - p and
    d/da = p * (log(p / q) - KL(p || q)); the detached teacher gets none."""
    gen = torch.Generator().manual_seed(5)
    a = torch.randn(4, 5, generator=gen, dtype=DT).requires_grad_()
    b = torch.randn(4, 5, generator=gen, dtype=DT).requires_grad_()
    teacher = torch.tensor([0, 0, 1, -1])
    terms = kd_terms([a, b], teacher, 'reference', normalize='none').terms
    grad_a, grad_b = torch.autograd.grad(terms[0, 1], [a, b])
    p, q = a.detach().softmax(1), b.detach().softmax(1)
    kl = (p * (p / q).log()).sum(1, keepdim=True)
    taught = (teacher == 0).to(DT)[:, None]
    torch.testing.assert_close(grad_b, (q - p) * taught)
    torch.testing.assert_close(grad_a, p * ((p / q).log() - kl) * taught)
    detached = kd_terms(
        [a, b], teacher, 'reference', normalize='none', detach_teacher=True
    ).terms
    grad_a, grad_b = torch.autograd.grad(
        detached[0, 1], [a, b], allow_unused=True
    )
    assert grad_a is None or (grad_a == 0).all()
    torch.testing.assert_close(grad_b, (q - p) * taught)


def test_reference_distributions_against_numpy():
    """input_kind='probs': the eps-stabilised KL of the MIT benchmark and
    the generalised KL, from numpy loops; no softmax applied."""
    gen = torch.Generator().manual_seed(7)
    raw = [torch.rand(3, 5, generator=gen, dtype=DT) + 0.05 for _ in range(2)]
    probs = [x / x.sum(1, keepdim=True) for x in raw]
    teacher = torch.tensor([1, 0, 1])
    eps_kl = kd_terms(probs, teacher, input_kind='probs').terms
    gen_kl = kd_terms(
        raw, teacher, input_kind='probs', divergence='generalized_kl'
    ).terms
    want_eps, want_gen = np.zeros((2, 2)), np.zeros((2, 2))
    for e, t in enumerate(teacher.tolist()):
        s = 1 - t
        p, q = probs[t][e].numpy(), probs[s][e].numpy()
        want_eps[t, s] += np.sum(p * np.log(MATLAB_EPS + p / (q + MATLAB_EPS)))
        a, b = raw[t][e].numpy(), raw[s][e].numpy()
        want_gen[t, s] += np.sum(a * np.log(a / b) - a + b)
    np.testing.assert_allclose(eps_kl.numpy(), want_eps / 3, rtol=1e-12)
    np.testing.assert_allclose(gen_kl.numpy(), want_gen / 3, rtol=1e-12)
    torch.testing.assert_close(
        generalized_kl(raw[0], raw[1], dim=1).sum(),
        torch.tensor(
            np.sum(
                raw[0].numpy() * np.log(raw[0].numpy() / raw[1].numpy())
                - raw[0].numpy()
                + raw[1].numpy()
            ),
            dtype=DT,
        ),
    )


def test_reference_mutual_is_every_direction_everywhere():
    """mutual=True: entry [t, s] is the KL over every valid element,
    whatever teacher says."""
    gen = torch.Generator().manual_seed(9)
    logits = [torch.randn(5, 3, generator=gen, dtype=DT) for _ in range(3)]
    valid = torch.tensor([True, False, True, True, True])
    teacher = torch.tensor([0, 1, -1, 2, 0])
    terms = kd_terms(
        logits, teacher, 'reference', mutual=True, valid=valid
    ).terms
    every = torch.zeros(3, 3, dtype=DT)
    for t in range(3):
        rows = kd_terms(
            logits,
            torch.full((5,), t),
            'reference',
            valid=valid,
            normalize='none',
        ).terms
        every[t] = rows[t] / int(valid.sum())
    torch.testing.assert_close(terms, every)


# ---------------------------------------------------------------------
# Every kernel against 'reference'.


def make_logits(n, shape, seed, dtype=DT, device='cpu'):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(shape, generator=gen, dtype=DT)
        .to(device=device, dtype=dtype)
        .requires_grad_()
        for _ in range(n)
    ]


def teachers_and_valid(n, shape, seed):
    """Teachers in [-1, n) (every value at least twice) and a valid mask
    with about a third of the elements invalid."""
    gen = torch.Generator().manual_seed(seed + 100)
    perm = torch.randperm(math.prod(shape), generator=gen)
    teacher = (perm % (n + 1) - 1).reshape(shape)
    valid = ((perm // (n + 1)) % 3 != 2).reshape(shape)
    return teacher, valid


def labels_for(shape, classes, seed):
    """Labels with about a quarter of the elements ignored."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, shape, generator=gen)
    labels[torch.rand(shape, generator=gen) < 0.25] = IGNORE
    return labels


def weighted_loss(result):
    """Distinct weights per direction and per CE element, so that every
    gradient path (each teacher-student pair, each member's CE) counts."""
    n = result.terms.shape[0]
    w = torch.arange(1.0, n * n + 1, dtype=DT).reshape(n, n)
    loss = (result.terms.to(DT) * w.to(result.terms.device)).sum()
    if result.ce is not None:
        w_ce = torch.linspace(
            0.5, 2.0, result.ce.numel(), dtype=DT, device=result.ce.device
        )
        loss = loss + (result.ce.to(DT) * w_ce.reshape(result.ce.shape)).sum()
    return loss


TIGHT = dict(value=dict(), grad=dict())
FLOAT32 = dict(
    value=dict(rtol=1e-5, atol=1e-6), grad=dict(rtol=1e-4, atol=1e-6)
)


def check_against_reference(inputs, teacher, kernel, tol=TIGHT, **options):
    """``kernel`` on ``inputs`` against ``'reference'`` on float64 copies:
    terms, teachers, CE and predictions, and the gradient of a weighted
    sum of them with respect to every member's input."""
    got = kd_terms(inputs, teacher, kernel, **options)
    wide = [x.detach().cpu().double().requires_grad_() for x in inputs]
    if 'labels' in options:
        options['labels'] = options['labels'].cpu()
    if isinstance(teacher, torch.Tensor):
        teacher = teacher.cpu()
    ref = kd_terms(wide, teacher, 'reference', **options)
    assert got.terms.shape == (len(inputs), len(inputs))
    torch.testing.assert_close(
        got.terms.cpu().double(), ref.terms, **tol['value']
    )
    assert torch.equal(got.teacher.cpu(), ref.teacher)
    assert (got.ce is None) == (ref.ce is None)
    if ref.ce is not None:
        torch.testing.assert_close(
            got.ce.cpu().double(), ref.ce, **tol['value']
        )
        for pred, want in zip(got.preds, ref.preds):
            assert (pred is None) == (want is None)
            if want is not None:
                assert torch.equal(pred.cpu(), want)
    grads = torch.autograd.grad(weighted_loss(got), inputs, allow_unused=True)
    ref_grads = torch.autograd.grad(
        weighted_loss(ref), wide, allow_unused=True
    )
    for grad, want, x in zip(grads, ref_grads, inputs):
        grad = torch.zeros_like(x) if grad is None else grad
        want = torch.zeros_like(want) if want is None else want
        assert grad.dtype == x.dtype
        torch.testing.assert_close(grad.cpu().double(), want, **tol['grad'])
    return got, ref


@pytest.mark.parametrize('kernel', ['chunked', 'torch', 'auto'])
@pytest.mark.parametrize('n, shape', [(2, (3, 5, 2, 4)), (3, (12, 6))])
@pytest.mark.parametrize('detach_teacher', [False, True])
@pytest.mark.parametrize('normalize', ['all', 'masked', 'none'])
def test_chunked_equals_reference(kernel, n, shape, detach_teacher, normalize):
    """Masked and invalid elements; a chunk size that splits the
    elements into several uneven chunks."""
    logits = make_logits(n, shape, seed=n)
    teacher, valid = teachers_and_valid(n, (shape[0], *shape[2:]), seed=n)
    got, _ = check_against_reference(
        logits,
        teacher,
        kernel,
        detach_teacher=detach_teacher,
        normalize=normalize,
        valid=valid,
        chunk_elements=7,
    )
    assert (got.terms.diagonal() == 0).all()
    assert (got.terms > 0).sum() == n * (n - 1)


@pytest.mark.parametrize('n', [2, 3])
@pytest.mark.parametrize('detach_teacher', [False, True])
@pytest.mark.parametrize('temperature', [1.0, 2.5])
def test_chunked_log_probs_and_mutual_equal_reference(
    n, detach_teacher, temperature
):
    """Log-probability inputs (the classifier's) with and without mutual
    learning, at two temperatures."""
    logits = make_logits(n, (10, 4), seed=20 + n)
    teacher, valid = teachers_and_valid(n, (10,), seed=20 + n)
    for mutual in (False, True):
        got = kd_terms(
            [z.log_softmax(1) for z in logits],
            teacher,
            'chunked',
            input_kind='log_probs',
            mutual=mutual,
            temperature=temperature,
            detach_teacher=detach_teacher,
            valid=valid,
        )
        ref = kd_terms(
            logits,
            teacher,
            'reference',
            mutual=mutual,
            temperature=temperature,
            detach_teacher=detach_teacher,
            valid=valid,
        )
        torch.testing.assert_close(got.terms, ref.terms)
        for g, r in zip(
            torch.autograd.grad(weighted_loss(got), logits),
            torch.autograd.grad(weighted_loss(ref), logits),
        ):
            torch.testing.assert_close(g, r)


def per_image(ce):
    """Teacher per image: the lowest mean CE (not per element)."""
    scores = ce.flatten(2).mean(2)
    teacher = select_teachers(scores, higher_is_better=False, tie='first')
    return teacher.view(-1, *[1] * (ce.dim() - 2)).expand(ce.shape[1:])


LABEL_CASES = [
    # (n, shape, selector, per_element)
    (2, (2, 5, 3, 4), LowestScoreRule(), True),
    (3, (2, 4, 3, 3), LowestScoreRule(tie='first'), True),
    (2, (2, 5, 3, 4), per_image, False),
    (3, (3, 4, 2, 5), per_image, False),
]


@pytest.mark.parametrize('kernel', ['chunked', 'auto'])
@pytest.mark.parametrize('n, shape, select, per_element', LABEL_CASES)
@pytest.mark.parametrize('detach_teacher', [False, True])
@pytest.mark.parametrize('mutual', [False, True])
def test_chunked_with_labels_equals_reference(
    kernel, n, shape, select, per_element, detach_teacher, mutual
):
    """CE, teacher selection and KL in one pass, ignored labels
    included, against the reference composition."""
    logits = make_logits(n, shape, seed=30 + n)
    labels = labels_for((shape[0], *shape[2:]), shape[1], seed=30 + n)
    got, _ = check_against_reference(
        logits,
        select,
        kernel,
        labels=labels,
        ignore_index=IGNORE,
        per_element=per_element,
        predict=[True] + [False] * (n - 1),
        detach_teacher=detach_teacher,
        mutual=mutual,
        temperature=2.0 if mutual else 1.0,
        chunk_elements=11,
    )
    valid = labels != IGNORE
    assert (got.teacher[~valid] == -1).all()
    assert got.preds[1] is None


def test_teacher_tensor_with_labels_equals_reference():
    """A precomputed teacher tensor with labels: CE and KL from it."""
    logits = make_logits(3, (2, 4, 3, 3), seed=41)
    labels = labels_for((2, 3, 3), 4, seed=41)
    teacher, _ = teachers_and_valid(3, (2, 3, 3), seed=41)
    got, _ = check_against_reference(
        logits, teacher, 'chunked', labels=labels, normalize='masked'
    )
    valid = labels != IGNORE
    assert torch.equal(got.teacher, torch.where(valid, teacher, -1))


def triton_device(device):
    """Skip (with the reason) where the Triton kernels cannot run."""
    if triton_kernels.triton is None:
        pytest.skip('Triton is not installed')
    if device == 'cuda' and not torch.cuda.is_available():
        pytest.skip('CUDA is not available')
    if device == 'cpu' and not triton_kernels.INTERPRET:
        pytest.skip('CPU tensors need TRITON_INTERPRET=1 (tests/conftest)')
    return device


TRITON_CASES = [
    # Pair kernels (two members, per-element rule) and N-member kernels.
    (2, (2, 5, 3, 4), LowestScoreRule(), True, False),
    (2, (2, 5, 3, 4), per_image, False, False),
    (3, (2, 6, 2, 3), LowestScoreRule(tie='first'), True, False),
    (3, (2, 6, 2, 3), per_image, False, True),
]


@pytest.mark.parametrize('device', ['cpu', 'cuda'])
@pytest.mark.parametrize('n, shape, select, per_element, mutual', TRITON_CASES)
@pytest.mark.parametrize('detach_teacher', [False, True])
def test_triton_equals_reference(
    device, n, shape, select, per_element, mutual, detach_teacher
):
    """float32 logits (what the kernels take) against the float64
    reference; on CPU in Triton's interpreter."""
    device = triton_device(device)
    logits = make_logits(n, shape, seed=50 + n, dtype=torch.float32)
    logits = [z.detach().to(device).requires_grad_() for z in logits]
    labels = labels_for((shape[0], *shape[2:]), shape[1], seed=50 + n)
    check_against_reference(
        logits,
        select,
        'triton',
        tol=FLOAT32,
        labels=labels.to(device),
        per_element=per_element,
        predict=True,
        detach_teacher=detach_teacher,
        mutual=mutual,
    )


def test_auto_without_labels_is_chunked(monkeypatch):
    """'auto' without labels runs the chunked kernel (what the classifier
    has used), and distributions the reference."""
    import bikd_mm.core.kd_term as kd_term

    calls = []
    chunked = kd_term.masked_kl_terms
    monkeypatch.setattr(
        kd_term,
        'masked_kl_terms',
        lambda *a, **k: calls.append('chunked') or chunked(*a, **k),
    )
    logits = make_logits(2, (4, 3), seed=60)
    kd_terms(logits, torch.tensor([0, 1, -1, 0]))
    assert calls == ['chunked']
    probs = [z.detach().softmax(1) for z in logits]
    kd_terms(probs, torch.tensor([0, 1, -1, 0]), input_kind='probs')
    assert calls == ['chunked']


def test_distribution_kl_terms_is_the_probs_entry_point():
    gen = torch.Generator().manual_seed(61)
    probs = [torch.rand(4, 6, generator=gen, dtype=DT) for _ in range(3)]
    probs = [p / p.sum(1, keepdim=True) for p in probs]
    teacher = torch.tensor([2, 0, -1, 1])
    torch.testing.assert_close(
        distribution_kl_terms(probs, teacher, normalize='masked'),
        kd_terms(
            probs, teacher, 'reference', input_kind='probs', normalize='masked'
        ).terms,
    )


# ---------------------------------------------------------------------
# Refusals.


def test_unknown_kernel_names_value_and_choices():
    logits = make_logits(2, (3, 4), seed=70)
    with pytest.raises(ValueError) as info:
        kd_terms(logits, torch.tensor([0, 1, 0]), 'cuda')
    message = str(info.value)
    assert "'cuda'" in message
    assert all(repr(name) in message for name in KERNELS)


@pytest.mark.parametrize(
    'kwargs, match',
    [
        (dict(kernel='triton'), 'pass labels='),
        (dict(kernel='chunked', input_kind='probs'), "'reference' or 'auto'"),
        (dict(divergence='generalized_kl'), "needs input_kind='probs'"),
        (dict(input_kind='probs', temperature=2.0), 'takes no temperature'),
        (dict(input_kind='softmax'), 'input_kind must be one of'),
        (dict(divergence='js'), 'divergence must be one of'),
        (dict(normalize='mean'), 'normalize must be one of'),
        (dict(teacher=LowestScoreRule()), 'needs labels'),
        (dict(predict=True), 'apply with labels only'),
        (dict(per_element=True), 'apply with labels only'),
        (
            dict(labels=torch.zeros(3, dtype=torch.long), valid=True),
            'valid must be None',
        ),
        (
            dict(labels=torch.zeros(3, dtype=torch.long), input_kind='probs'),
            "need input_kind='logits'",
        ),
    ],
)
def test_refusals_say_why(kwargs, match):
    logits = make_logits(2, (3, 4), seed=71)
    teacher = kwargs.pop('teacher', torch.tensor([0, 1, 0]))
    if kwargs.get('valid') is True:
        kwargs['valid'] = torch.ones(3, dtype=torch.bool)
    with pytest.raises(ValueError, match=match):
        kd_terms(logits, teacher, **kwargs)


def test_selector_shape_is_checked_by_reference():
    logits = make_logits(2, (2, 3, 4), seed=72)
    labels = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=r'select returned .* \(2, 4\)'):
        kd_terms(logits, lambda ce: ce[0, :, 0], 'reference', labels=labels)
