"""The N-member Triton kernels of ce_and_masked_kl_terms (2 to 4 members,
any teacher choice, mutual learning), run in Triton's interpreter on CPU:
equal to the direct formulas in float64 in value and gradient, and to the
PyTorch path."""

import pytest
import torch

from bikd_mm.core import (
    LowestScoreRule,
    ce_and_masked_kl_terms,
    select_teachers,
)
from bikd_mm.core import ce_masked_kl_triton_n as kernels
from bikd_mm.core.ce_masked_kl import implementation

from .test_core_ce_masked_kl import (
    FLOAT32_TOLERANCE,
    IGNORE,
    check_against_direct,
    direct,
    labels_for,
)
from .test_core_masked_kl import direct_terms


def make_logits(n, shape, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(shape, generator=gen) * 2).to(dtype).requires_grad_()
        for _ in range(n)
    ]


def per_image(labels):
    """The per-image mean CE selects (granularity='image')."""
    valid = labels != IGNORE

    def select(ce):
        mean = (ce * valid).flatten(2).sum(2) / valid.flatten(1).sum(1)
        best = select_teachers(mean, higher_is_better=False)
        return best[:, None, None].expand_as(labels)

    return select


def by_other_score(seed):
    """A teacher map from a score that is not the CE (as bce_dice and
    Mask2Former task losses select), with untaught elements."""

    def select(ce):
        gen = torch.Generator().manual_seed(seed)
        scores = torch.rand(ce.shape, generator=gen)
        return select_teachers(scores, higher_is_better=False, tie='none')

    return select


def check(logits, labels, select, per_element, **options):
    teacher = check_against_direct(
        logits,
        labels,
        select,
        per_element=per_element,
        kernel='triton',
        **options,
    )
    path = implementation(
        'triton',
        logits,
        dict(
            select=select,
            per_element=per_element,
            class_dim=1,
            mutual=False,
        ),
    )
    pair = len(logits) == 2 and per_element
    pair = pair and isinstance(select, LowestScoreRule)
    assert path == ('triton_pair' if pair else 'triton_n')
    return teacher


SELECTIONS = [
    (rule, shape)
    for rule in ('pixel', 'first', 'image', 'other')
    for shape in ((2, 5, 3, 7), (2, 150, 3, 4), (9, 6))
    if rule != 'image' or len(shape) == 4
]


@pytest.mark.parametrize('n', [2, 3, 4])
@pytest.mark.parametrize('rule, shape', SELECTIONS)
def test_every_selection_equals_direct_formulas(n, rule, shape):
    """Per-element rules decided in the kernel, per-image teachers and
    teacher maps from another score (two launches), class counts padded
    to a power of two, partial blocks, 0-d and 2-d element shapes."""
    logits = make_logits(n, shape, seed=n + shape[1])
    labels = labels_for((shape[0], *shape[2:]), shape[1], seed=n)
    select = {
        'pixel': LowestScoreRule(),
        'first': LowestScoreRule('first'),
        'image': per_image(labels),
        'other': by_other_score(n),
    }[rule]
    per_element = rule in ('pixel', 'first')
    teacher = check(logits, labels, select, per_element)
    valid = labels != IGNORE
    assert (teacher[~valid] == -1).all()
    if rule == 'image':
        for image, keep in zip(teacher, valid):
            assert len(image[keep].unique()) == 1
    else:
        assert len(teacher[valid].unique()) >= 2


@pytest.mark.parametrize('n', [3, 4])
@pytest.mark.parametrize(
    'normalize, temperature', [('all', 1.0), ('masked', 0.5), ('none', 2.0)]
)
@pytest.mark.parametrize('detach_teacher', [False, True])
def test_options(n, normalize, temperature, detach_teacher):
    logits = make_logits(n, (2, 6, 4, 5), seed=20 + n)
    labels = labels_for((2, 4, 5), 6, seed=n)
    for rule, per_element in (
        (LowestScoreRule(), True),
        (per_image(labels), False),
    ):
        check(
            logits,
            labels,
            rule,
            per_element,
            normalize=normalize,
            temperature=temperature,
            detach_teacher=detach_teacher,
        )


@pytest.mark.parametrize('n, tie', [(3, 'auto'), (3, 'last'), (4, 'first')])
def test_ties(n, tie):
    """Equal members tie everywhere: 'auto' with three members means
    nobody teaches (the reference rule)."""
    base = make_logits(1, (2, 4, 3, 5), seed=5)[0].detach()
    logits = [base.clone().requires_grad_() for _ in range(n)]
    labels = labels_for((2, 3, 5), 4, seed=5)
    teacher = check(logits, labels, LowestScoreRule(tie), True)
    expected = {'auto': -1, 'last': n - 1, 'first': 0}[tie]
    assert (teacher[labels != IGNORE] == expected).all()


@pytest.mark.parametrize('fixed, n', [(0, 3), (2, 3), (3, 4)])
def test_fixed_teacher(fixed, n):
    """One member teaches every valid element."""
    logits = make_logits(n, (2, 5, 4, 4), seed=6)
    labels = labels_for((2, 4, 4), 5, seed=6)
    teacher = check(logits, labels, LowestScoreRule(fixed=fixed), True)
    valid = labels != IGNORE
    assert (teacher[valid] == fixed).all()


def mutual_direct(logits, labels, **options):
    """float64 reference of mutual learning: row t of the terms with t
    teaching every valid element (tests/core reference)."""
    ce, _, _ = direct(logits, labels, lambda ce: ce[0].long() * 0)
    valid = labels != IGNORE
    if options.get('normalize') == 'masked':
        options = dict(options, normalize='all')
    rows = []
    for t in range(len(logits)):
        teacher = torch.full_like(labels, t)
        rows.append(direct_terms(logits, teacher, valid=valid, **options)[t])
    return ce, torch.stack(rows)


@pytest.mark.parametrize('n', [2, 3, 4])
@pytest.mark.parametrize('kernel', ['torch', 'triton'])
@pytest.mark.parametrize(
    'options',
    [
        {},
        dict(detach_teacher=True, normalize='masked'),
        dict(temperature=2.0, normalize='none'),
    ],
)
def test_mutual_learning_equals_direct_formulas(n, kernel, options):
    """``mutual=True`` (selection='all'): every direction on every valid
    element, on both paths (the PyTorch one in chunks)."""
    logits = make_logits(n, (2, 7, 3, 5), seed=30 + n)
    labels = labels_for((2, 3, 5), 7, seed=n)
    rule = LowestScoreRule()
    ce, terms, teacher, _ = ce_and_masked_kl_terms(
        logits,
        labels,
        rule,
        per_element=True,
        kernel=kernel,
        mutual=True,
        chunk_elements=13,
        **options,
    )
    wide = [z.detach().double().requires_grad_() for z in logits]
    ref_ce, ref_terms = mutual_direct(wide, labels, **options)
    tol = FLOAT32_TOLERANCE
    torch.testing.assert_close(ce, ref_ce.float(), **tol['ce'])
    torch.testing.assert_close(terms, ref_terms.float(), **tol['terms'])
    # The selection's teachers are still returned (for the record).
    ref_teacher = rule(ref_ce.detach()).masked_fill(labels == IGNORE, -1)
    assert torch.equal(teacher, ref_teacher)
    weights = torch.arange(1.0, n * n + 1).reshape(n, n)
    w_ce = torch.linspace(0.5, 2.0, ce.numel()).reshape(ce.shape)
    grads = torch.autograd.grad(
        (terms * weights).sum() + (ce * w_ce).sum(), logits
    )
    ref_grads = torch.autograd.grad(
        (ref_terms * weights.double()).sum() + (ref_ce * w_ce.double()).sum(),
        wide,
    )
    for grad, ref in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref.float(), **tol['grad'])


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('mutual', [False, True])
def test_half_precision_logits(dtype, mutual):
    """Half-precision logits are computed in float32: the values of the
    float32 computation of the same logits, gradients in their dtype."""
    base = make_logits(3, (2, 7, 4, 4), seed=8)
    labels = labels_for((2, 4, 4), 7, seed=8)
    half = [z.detach().to(dtype).requires_grad_() for z in base]
    wide = [z.detach().float().requires_grad_() for z in half]
    select = per_image(labels)
    out = ce_and_masked_kl_terms(
        half, labels, select, kernel='triton', mutual=mutual
    )
    ref = ce_and_masked_kl_terms(
        wide, labels, select, kernel='torch', mutual=mutual
    )
    for value, ref_value in zip(out[:2], ref[:2]):
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, ref_value)
    (out[0].sum() + out[1].sum()).backward()
    (ref[0].sum() + ref[1].sum()).backward()
    for z, w in zip(half, wide):
        assert z.grad.dtype == dtype
        torch.testing.assert_close(z.grad, w.grad.to(dtype))


def test_only_inputs_that_need_grad_get_one():
    logits = make_logits(3, (2, 4, 3, 3), seed=10)
    frozen = logits[1].detach()
    members = [logits[0], frozen, logits[2]]
    labels = labels_for((2, 3, 3), 4, seed=10)
    outs = {}
    for kernel in ('triton', 'torch'):
        ce, terms, _, _ = ce_and_masked_kl_terms(
            members, labels, LowestScoreRule(), per_element=True, kernel=kernel
        )
        outs[kernel] = torch.autograd.grad(
            ce.sum() + terms.sum(), [logits[0], logits[2]]
        )
    for got, want in zip(outs['triton'], outs['torch']):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize('rule', [LowestScoreRule(), LowestScoreRule(fixed=5)])
def test_edge_cases_match_the_torch_path(rule):
    """An empty batch, NaN logits (top-1 is the first NaN, as torch.max
    says; a NaN CE never teaches), no ignore_index, and a fixed teacher
    that is no member (nobody teaches)."""
    logits = make_logits(3, (2, 5, 3, 4), seed=15)
    with torch.no_grad():
        logits[0][0, 3, 1, 2] = float('nan')
        logits[2][1, 1, 0, 0] = float('nan')
    labels = labels_for((2, 3, 4), 5, seed=15)
    cases = [
        (make_logits(3, (0, 5, 3, 4)), torch.zeros(0, 3, 4).long(), {}),
        (logits, labels, {}),
        (make_logits(3, (2, 5, 3, 4), seed=16), labels.clamp(max=4), {}),
    ]
    cases[2][2]['ignore_index'] = None
    for logits, labels, options in cases:
        out = [
            ce_and_masked_kl_terms(
                logits,
                labels,
                rule,
                per_element=True,
                kernel=kernel,
                **options,
            )
            for kernel in ('triton', 'torch')
        ]
        for got, want in zip(out[0][:3], out[1][:3]):
            torch.testing.assert_close(got, want, equal_nan=True)
        for got, want in zip(out[0][3], out[1][3]):
            assert torch.equal(got, want)


def test_gpu_launch_path_in_the_interpreter(monkeypatch):
    """The autotuned backward and the fixed-tile forward of the GPU path,
    each backward tile candidate alone, give the PyTorch path's values
    and gradients."""
    logits = make_logits(3, (2, 19, 5, 7), seed=16)
    labels = labels_for((2, 5, 7), 19, seed=16)
    select = per_image(labels)
    options = dict(temperature=2.0, normalize='none')
    ce, terms, teacher, _ = ce_and_masked_kl_terms(
        logits, labels, select, **options
    )
    grads = torch.autograd.grad(ce.sum() + terms.sum(), logits)
    tiles = kernels._configs('backward', 32, 3)
    monkeypatch.setattr(kernels.pair, 'INTERPRET', False)
    for index in (0, -1):
        monkeypatch.setattr(
            kernels, '_configs', lambda w, c, n, i=index: [tiles[i]]
        )
        kernels._kernel.cache_clear()
        opts = dict(
            select=select,
            per_element=False,
            mutual=False,
            ignore_index=IGNORE,
            temperature=2.0,
            detach_teacher=False,
        )
        try:
            out = kernels.ce_and_masked_kl_n(logits, labels, opts)
            # The kernels' sums before the T^2 of the terms.
            got = torch.autograd.grad(out[0].sum() + 4 * out[1].sum(), logits)
        finally:
            kernels._kernel.cache_clear()
        torch.testing.assert_close(out[0], ce)
        torch.testing.assert_close(4 * out[1], terms)
        assert torch.equal(out[2], teacher)
        for g, w in zip(got, grads):
            torch.testing.assert_close(g, w)


def test_auto_takes_the_torch_path_on_cpu(monkeypatch):
    def refuse(*args):
        raise AssertionError('a Triton path ran on CPU tensors')

    monkeypatch.setattr(kernels, 'ce_and_masked_kl_n', refuse)
    logits = make_logits(3, (2, 4, 3, 3), seed=11)
    labels = labels_for((2, 3, 3), 4, seed=11)
    ce_and_masked_kl_terms(logits, labels, per_image(labels), kernel='auto')


@pytest.mark.parametrize(
    'case, match',
    [
        ('five', '2 to 4 members'),
        ('class_dim', 'class dimension 1'),
        ('float64', 'float64'),
        ('dtypes', 'one dtype'),
    ],
)
def test_triton_refuses_what_it_cannot_compute(case, match):
    logits = [z.detach() for z in make_logits(3, (2, 4, 3, 3), seed=12)]
    labels = labels_for((2, 3, 3), 4, seed=12)
    kwargs = {}
    if case == 'five':
        logits = logits + logits[:2]
    elif case == 'class_dim':
        logits = [z.movedim(1, -1) for z in logits]
        kwargs['class_dim'] = 3
    elif case == 'float64':
        logits = [z.double() for z in logits]
    else:
        logits[2] = logits[2].half()
    with pytest.raises(ValueError, match=match):
        ce_and_masked_kl_terms(
            logits, labels, per_image(labels), kernel='triton', **kwargs
        )


def test_bad_selection_shape_is_refused():
    logits = make_logits(3, (2, 4, 3, 3), seed=13)
    labels = labels_for((2, 3, 3), 4, seed=13)
    with pytest.raises(ValueError, match=r'select returned .*\(2,\)'):
        ce_and_masked_kl_terms(
            logits, labels, lambda ce: ce[0, :, 0, 0], kernel='triton'
        )
