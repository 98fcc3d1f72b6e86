"""The Triton kernels of ce_and_masked_kl_terms (two members, per-element
teacher), run in Triton's interpreter on CPU: equal to the direct formulas
in value and gradient. Ignored elements and half-precision logits are
checked for both kernels in test_core_ce_masked_kl.py."""

import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from bikd_mm.core import ce_and_masked_kl_terms
from bikd_mm.core import ce_masked_kl_triton as kernels
from bikd_mm.core.ce_masked_kl import implementation
from bikd_mm.core.selection import LowestScoreRule

from .test_core_ce_masked_kl import IGNORE, check_against_direct, labels_for


def make_logits(shape, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(shape, generator=gen).to(dtype).requires_grad_()
        for _ in range(2)
    ]


def check(logits, labels, rule, **options):
    """The Triton kernels against the float64 reference of tests/core."""
    return check_against_direct(
        logits, labels, rule, per_element=True, kernel='triton', **options
    )


@pytest.mark.parametrize(
    'shape', [(2, 5, 3, 7), (3, 150, 4, 5), (2, 9, 11), (40, 6)]
)
@pytest.mark.parametrize('normalize', ['all', 'masked', 'none'])
def test_equals_direct_formulas(shape, normalize):
    """Class counts padded to a power of two (5, 6, 9, 150), element
    counts that leave a partial block, 0-d, 1-d and 2-d element shapes."""
    logits = make_logits(shape, seed=shape[1])
    labels = labels_for((shape[0], *shape[2:]), shape[1], seed=1)
    teacher = check(logits, labels, LowestScoreRule(), normalize=normalize)
    valid = labels != IGNORE
    assert (teacher[valid] == 0).any() and (teacher[valid] == 1).any()


@pytest.mark.parametrize('temperature', [0.5, 1.0, 3.0])
@pytest.mark.parametrize('detach_teacher', [False, True])
def test_temperature_and_detached_teacher(temperature, detach_teacher):
    logits = make_logits((2, 6, 4, 5), seed=4)
    labels = labels_for((2, 4, 5), 6, seed=4)
    check(
        logits,
        labels,
        LowestScoreRule(),
        temperature=temperature,
        detach_teacher=detach_teacher,
    )


@pytest.mark.parametrize(
    'tie, expected', [('auto', 1), ('last', 1), ('first', 0), ('none', -1)]
)
def test_ties(tie, expected):
    """Equal members tie on every element."""
    base = make_logits((2, 4, 3, 5), seed=5)[0].detach()
    logits = [base.clone().requires_grad_() for _ in range(2)]
    labels = labels_for((2, 3, 5), 4, seed=5)
    teacher = check(logits, labels, LowestScoreRule(tie))
    valid = labels != IGNORE
    assert (teacher[valid] == expected).all()
    assert (teacher[~valid] == -1).all()


@pytest.mark.parametrize('fixed', [0, 1])
def test_fixed_teacher(fixed):
    logits = make_logits((2, 5, 4, 4), seed=6)
    labels = labels_for((2, 4, 4), 5, seed=6)
    teacher = check(logits, labels, LowestScoreRule(fixed=fixed))
    valid = labels != IGNORE
    assert (teacher[valid] == fixed).all()


def test_without_ignore_index_and_other_ignore_value():
    logits = make_logits((2, 5, 3, 4), seed=7)
    labels = labels_for((2, 3, 4), 5, seed=7)
    check(
        logits,
        labels.clamp(max=4),
        LowestScoreRule(),
        ignore_index=None,
    )
    check(
        logits,
        torch.where(labels == IGNORE, -1, labels),
        LowestScoreRule(),
        ignore_index=-1,
    )


def test_only_inputs_that_need_grad_get_one():
    logits = make_logits((2, 4, 3, 3), seed=10)
    frozen = logits[0].detach()
    labels = labels_for((2, 3, 3), 4, seed=10)
    ce, terms, _, _ = ce_and_masked_kl_terms(
        [frozen, logits[1]],
        labels,
        LowestScoreRule(),
        per_element=True,
        kernel='triton',
    )
    (grad,) = torch.autograd.grad(ce.sum() + terms.sum(), [logits[1]])
    ref_ce, ref_terms, _, _ = ce_and_masked_kl_terms(
        [frozen, logits[1]], labels, LowestScoreRule(), per_element=True
    )
    (ref,) = torch.autograd.grad(ref_ce.sum() + ref_terms.sum(), [logits[1]])
    torch.testing.assert_close(grad, ref)


def test_edge_cases_match_the_torch_path():
    """An empty batch, a fixed teacher that is no member (nobody teaches)
    and NaN logits (top-1 is the first NaN, as torch.max says)."""
    rule = LowestScoreRule()
    cases = [
        (make_logits((0, 5, 3, 4)), torch.zeros(0, 3, 4, dtype=torch.long)),
        (make_logits((2, 5, 3, 4), seed=14), labels_for((2, 3, 4), 5)),
    ]
    logits = make_logits((2, 5, 3, 4), seed=15)
    with torch.no_grad():
        logits[0][0, 3, 1, 2] = float('nan')
        logits[1][1, 1, 0, 0] = float('nan')
        logits[1][1, 4, 0, 0] = float('nan')
    cases.append((logits, labels_for((2, 3, 4), 5, seed=15)))
    for i, (logits, labels) in enumerate(cases):
        if i == 1:
            rule = LowestScoreRule(fixed=2)
        out = [
            ce_and_masked_kl_terms(
                logits, labels, rule, per_element=True, kernel=kernel
            )
            for kernel in ('triton', 'torch')
        ]
        for got, want in zip(out[0][:3], out[1][:3]):
            torch.testing.assert_close(got, want, equal_nan=True)
        for got, want in zip(out[0][3], out[1][3]):
            assert torch.equal(got, want)
    assert (out[0][3][1][1, 0, 0] == 1) and (out[0][3][0][0, 1, 2] == 3)


def test_gpu_launch_path_in_the_interpreter(monkeypatch):
    """The autotuned kernels and the one-axis grid of the GPU path, each
    tile candidate alone (one config: no benchmarking), give the PyTorch
    path's values and gradients."""
    logits = make_logits((2, 19, 5, 7), seed=16)
    labels = labels_for((2, 5, 7), 19, seed=16)
    rule = LowestScoreRule()
    ce, terms, teacher, _ = ce_and_masked_kl_terms(
        logits,
        labels,
        rule,
        per_element=True,
        temperature=2.0,
        normalize='none',
    )
    grads = torch.autograd.grad(ce.sum() + terms.sum(), logits)
    tiles = {w: kernels._configs(w, 32) for w in ('forward', 'backward')}
    opts = dict(
        select=rule, ignore_index=IGNORE, temperature=2.0, detach_teacher=False
    )
    monkeypatch.setattr(kernels, 'INTERPRET', False)
    for index in (0, -1):
        monkeypatch.setattr(
            kernels, '_configs', lambda w, c, i=index: [tiles[w][i]]
        )
        kernels._kernel.cache_clear()
        try:
            out = kernels.pair_ce_and_masked_kl(logits, labels, opts)
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
    """'auto' picks the kernels for CUDA tensors only."""

    def refuse(*args):
        raise AssertionError('the Triton path ran on CPU tensors')

    monkeypatch.setattr(kernels, 'pair_ce_and_masked_kl', refuse)
    logits = make_logits((2, 4, 3, 3), seed=11)
    labels = labels_for((2, 3, 3), 4, seed=11)
    ce_and_masked_kl_terms(
        logits, labels, LowestScoreRule(), per_element=True, kernel='auto'
    )


@pytest.mark.parametrize(
    'case, match',
    [
        ('three', 'two members'),
        ('callable', 'LowestScoreRule'),
        ('per_image', 'LowestScoreRule'),
        ('class_dim', 'class dimension 1'),
        ('float64', 'float64'),
    ],
)
def test_triton_refuses_what_it_cannot_compute(case, match):
    """The pair kernels say why they do not apply; three members and other
    selections go to the N-member kernels, other layouts and dtypes to
    none (an error with kernel='triton')."""
    logits = make_logits((2, 4, 3, 3), seed=12)
    labels = labels_for((2, 3, 3), 4, seed=12)
    kwargs = dict(per_element=True, kernel='triton')
    rule = LowestScoreRule()
    if case == 'three':
        logits = logits + [logits[0].detach().clone()]
    elif case == 'callable':
        rule = lambda ce: ce.argmin(0)  # noqa: E731
    elif case == 'per_image':
        kwargs['per_element'] = False
    elif case == 'class_dim':
        logits = [z.detach().movedim(1, -1) for z in logits]
        kwargs['class_dim'] = 3
    else:
        logits = [z.detach().double() for z in logits]
    class_dim = kwargs.get('class_dim', 1)
    reason = kernels.unsupported_reason(
        logits, class_dim, kwargs['per_element'], rule
    )
    assert match in reason
    opts = dict(
        select=rule,
        per_element=kwargs['per_element'],
        class_dim=class_dim,
        mutual=False,
    )
    if case in ('three', 'callable', 'per_image'):
        assert implementation('triton', logits, opts) == 'triton_n'
        return
    with pytest.raises(ValueError, match=match):
        ce_and_masked_kl_terms(logits, labels, rule, **kwargs)


def test_unknown_kernel_is_refused():
    logits = make_logits((2, 4, 3, 3), seed=13)
    labels = labels_for((2, 3, 3), 4, seed=13)
    with pytest.raises(ValueError, match='kernel must be one of'):
        ce_and_masked_kl_terms(logits, labels, LowestScoreRule(), kernel='x')


def test_rule_checks_its_arguments():
    with pytest.raises(ValueError, match='tie must be one of'):
        LowestScoreRule('best')
    with pytest.raises(ValueError, match='member index'):
        LowestScoreRule(fixed=-1)
    ce = torch.tensor([[1.0, 2.0, 3.0], [2.0, 1.0, 3.0]])
    assert LowestScoreRule()(ce).tolist() == [0, 1, 1]
    assert LowestScoreRule('first')(ce).tolist() == [0, 1, 0]
    assert LowestScoreRule(fixed=1)(ce).tolist() == [1, 1, 1]


def test_kernels_compile_for_a_gpu():
    """Every branch of the pair and N-member kernels compiles to an sm_90
    binary (Triton's compiler and ptxas run without a GPU); the
    interpreter alone would not catch what only the compiler checks
    (types, layouts)."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k != 'TRITON_INTERPRET'}
    env.update(PYTHONPATH=root, OMP_NUM_THREADS='1')
    out = subprocess.run(
        [
            sys.executable,
            osp.join(osp.dirname(__file__), 'triton_compile_check.py'),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert 'compiled 23 variants for sm_90' in out.stdout
    assert 'compiled 26 N-member variants for sm_90' in out.stdout


@pytest.mark.parametrize('which', ['forward', 'backward'])
def test_gpu_tiles_fit_the_register_budget(which):
    """The autotuned tiles for every class count hold at most the values
    per thread that compile without register spills."""
    most = kernels.MAX_VALUES_PER_THREAD[which]
    for c_pad in (2**i for i in range(1, 11)):
        configs = kernels._configs(which, c_pad)
        assert configs
        for config in configs:
            per_thread = (
                config.kwargs['BLOCK_S'] * c_pad // (32 * config.num_warps)
            )
            assert per_thread <= most or len(configs) == 1
