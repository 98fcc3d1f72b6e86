"""Tests of masked_kl, masked_kl_terms and binary_to_two_class."""

import pytest
import torch
import torch.nn.functional as F

from bikd_mm.core import binary_to_two_class, masked_kl, masked_kl_terms

DT = torch.float64


def direct_terms(
    logits,
    teacher,
    temperature=1.0,
    detach_teacher=False,
    normalize='all',
    valid=None,
):
    """The [t, s] terms from element-wise KL maps, classes on dim 1."""
    n = len(logits)
    if valid is None:
        valid = torch.ones_like(teacher, dtype=torch.bool)
    taught = valid & (teacher >= 0)
    denom = {
        'all': valid.sum(),
        'masked': taught.sum(),
        'none': torch.tensor(1),
    }[normalize].clamp_min(1)
    log_q = [F.log_softmax(z / temperature, 1) for z in logits]
    rows = []
    for t in range(n):
        row = []
        log_p = log_q[t].detach() if detach_teacher else log_q[t]
        for s in range(n):
            if s == t:
                row.append(logits[0].new_zeros(()))
                continue
            kl = F.kl_div(log_q[s], log_p, reduction='none', log_target=True)
            mask = (taught & (teacher == t)).to(kl.dtype)
            row.append((kl.sum(1) * mask).sum() * temperature**2 / denom)
        rows.append(torch.stack(row))
    return torch.stack(rows)


def make_logits(n, shape, seed=0, grad=True):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(shape, generator=gen, dtype=DT).requires_grad_(grad)
        for _ in range(n)
    ]


def random_teacher(n, shape, seed=0):
    """Teachers in [-1, n) and a valid mask, shuffled.

    With at least 2 (n + 1) elements every value occurs at least twice and
    each member keeps a valid element it teaches.
    """
    gen = torch.Generator().manual_seed(seed + 100)
    perm = torch.randperm(torch.Size(shape).numel(), generator=gen)
    teacher = (perm % (n + 1) - 1).reshape(shape)
    valid = ((perm // (n + 1)) % 3 != 2).reshape(shape)
    return teacher, valid


def assert_grads_close(out, ref, inputs):
    grads = torch.autograd.grad(out, inputs, allow_unused=True)
    ref_grads = torch.autograd.grad(ref, inputs, allow_unused=True)
    for grad, ref_grad in zip(grads, ref_grads):
        if ref_grad is None:
            ref_grad = torch.zeros_like(grad)
        torch.testing.assert_close(grad, ref_grad)


CASES = [
    (2, (7, 5)),
    (2, (2, 4, 3, 3)),
    (3, (9, 4)),
    (3, (2, 3, 2, 4)),
    (4, (2, 5, 6)),
]


@pytest.mark.parametrize('n, shape', CASES)
@pytest.mark.parametrize('normalize', ['all', 'masked', 'none'])
def test_terms_match_direct_formula(n, shape, normalize):
    logits = make_logits(n, shape, seed=n)
    elem = (shape[0],) + shape[2:]
    teacher, valid = random_teacher(n, elem, seed=n)
    terms = masked_kl_terms(logits, teacher, normalize=normalize, valid=valid)
    ref = direct_terms(logits, teacher, normalize=normalize, valid=valid)
    assert terms.shape == (n, n)
    torch.testing.assert_close(terms, ref)
    assert (terms.diagonal() == 0).all()
    assert (terms > 0).sum() == n * (n - 1)
    loss = masked_kl(logits, teacher, normalize=normalize, valid=valid)
    torch.testing.assert_close(loss, terms.sum())
    assert_grads_close(loss, ref.sum(), logits)
    # A single direction as a loss term has the gradient of its reference.
    assert_grads_close(
        masked_kl_terms(logits, teacher, normalize=normalize)[1, 0],
        direct_terms(logits, teacher, normalize=normalize)[1, 0],
        logits,
    )


@pytest.mark.parametrize('n', [2, 3])
@pytest.mark.parametrize('temperature', [0.5, 4.0])
def test_temperature_scaling(n, temperature):
    logits = make_logits(n, (6, 5), seed=11)
    teacher, _ = random_teacher(n, (6,), seed=11)
    loss = masked_kl(logits, teacher, temperature=temperature)
    ref = direct_terms(logits, teacher, temperature=temperature).sum()
    torch.testing.assert_close(loss, ref)
    assert_grads_close(loss, ref, logits)
    soft = [z / temperature for z in logits]
    plain = masked_kl(soft, teacher) * temperature**2
    torch.testing.assert_close(loss, plain)
    lps = [z.log_softmax(1) for z in logits]
    from_lp = masked_kl(
        lps, teacher, temperature=temperature, from_log_probs=True
    )
    torch.testing.assert_close(from_lp, loss)


@pytest.mark.parametrize('n', [2, 3])
def test_detach_teacher(n):
    logits = make_logits(n, (8, 5), seed=3)
    all_zero = torch.zeros(8, dtype=torch.long)
    loss = masked_kl(logits, all_zero, detach_teacher=True)
    grads = torch.autograd.grad(loss, logits)
    assert (grads[0] == 0).all()
    assert all(g.abs().sum() > 0 for g in grads[1:])
    # Without detaching, the teacher does receive gradient.
    attached = torch.autograd.grad(masked_kl(logits, all_zero), logits[0])
    assert attached[0].abs().sum() > 0
    teacher, _ = random_teacher(n, (8,), seed=3)
    loss = masked_kl(logits, teacher, detach_teacher=True)
    ref = direct_terms(logits, teacher, detach_teacher=True).sum()
    torch.testing.assert_close(loss, ref)
    assert_grads_close(loss, ref, logits)
    torch.testing.assert_close(loss, masked_kl(logits, teacher))


@pytest.mark.parametrize('n', [2, 3])
@pytest.mark.parametrize('normalize', ['all', 'masked', 'none'])
def test_nothing_to_distil_gives_connected_zero(n, normalize):
    logits = make_logits(n, (4, 3, 2, 2), seed=5)
    teacher, _ = random_teacher(n, (4, 2, 2), seed=5)
    no_valid = torch.zeros(4, 2, 2, dtype=torch.bool)
    no_teacher = torch.full((4, 2, 2), -1)
    empty = [z[:0] for z in logits]
    for args in [
        dict(logits=logits, teacher=teacher, valid=no_valid),
        dict(logits=logits, teacher=no_teacher),
        dict(logits=empty, teacher=teacher[:0]),
    ]:
        terms = masked_kl_terms(normalize=normalize, **args)
        assert terms.requires_grad and (terms == 0).all()
        loss = terms.sum()
        assert loss.item() == 0
        for grad in torch.autograd.grad(loss, logits):
            assert torch.isfinite(grad).all() and (grad == 0).all()


def test_normalize_denominators():
    logits = make_logits(2, (10, 3), seed=8)
    teacher = torch.tensor([0, 1, -1, -1, 0, 1, 0, -1, 5, 1])
    valid = torch.ones(10, dtype=torch.bool)
    valid[:2] = False
    total = masked_kl(logits, teacher, normalize='none', valid=valid)
    # 8 valid elements, 4 of them taught (-1 and 5 are not member indices).
    all_ = masked_kl(logits, teacher, normalize='all', valid=valid)
    masked = masked_kl(logits, teacher, normalize='masked', valid=valid)
    torch.testing.assert_close(all_, total / 8)
    torch.testing.assert_close(masked, total / 4)
    no_valid_arg = masked_kl(logits, teacher, normalize='all')
    torch.testing.assert_close(
        no_valid_arg, masked_kl(logits, teacher, normalize='none') / 10
    )


def test_class_dim_and_float32():
    logits = [z.float() for z in make_logits(3, (2, 4, 3, 5), grad=False)]
    teacher, _ = random_teacher(3, (2, 3, 5), seed=9)
    ref = direct_terms(logits, teacher)
    channels_last = [z.permute(0, 2, 3, 1) for z in logits]
    for dim in (-1, 3):
        got = masked_kl_terms(channels_last, teacher, class_dim=dim)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, ref)
    # One unbatched sample: a 0-d element shape.
    single = [z[0, :, 0, 0] for z in logits]
    got = masked_kl(single, torch.tensor(2), class_dim=0)
    ref = direct_terms([z[None] for z in single], torch.tensor([2])).sum()
    torch.testing.assert_close(got, ref)


def test_binary_to_two_class():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 1, 3, 3, generator=gen, dtype=DT)
    two = binary_to_two_class(x)
    assert two.shape == (2, 2, 3, 3)
    probs = two.softmax(1)
    torch.testing.assert_close(probs[:, :1], x.sigmoid())
    torch.testing.assert_close(probs[:, 1:], 1 - x.sigmoid())
    # masked_kl on it is the Bernoulli KL divergence.
    xs = [x, torch.randn(2, 1, 3, 3, generator=gen, dtype=DT)]
    teacher = torch.zeros(2, 3, 3, dtype=torch.long)
    got = masked_kl([binary_to_two_class(z) for z in xs], teacher)
    p, q = xs[0].sigmoid(), xs[1].sigmoid()
    bern = p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()
    torch.testing.assert_close(got, bern.mean())
    with pytest.raises(ValueError, match='mask_logits'):
        binary_to_two_class(torch.zeros(2, 2, 3))
    with pytest.raises(ValueError, match='class_dim'):
        binary_to_two_class(torch.zeros(2, 1), class_dim=2)


def test_errors_name_the_argument():
    logits = make_logits(2, (3, 4), grad=False)
    teacher = torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match='logits .*at least 2'):
        masked_kl(logits[:1], teacher)
    with pytest.raises(ValueError, match=r'logits .*\(3, 4\).*\(3, 5\)'):
        masked_kl([logits[0], torch.zeros(3, 5)], teacher)
    with pytest.raises(TypeError, match='logits'):
        masked_kl(torch.stack(logits), teacher)
    with pytest.raises(TypeError, match=r'logits\[1\]'):
        masked_kl([logits[0], 'x'], teacher)
    with pytest.raises(ValueError, match=r'teacher .*\(3,\).*\(4,\)'):
        masked_kl(logits, torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match='teacher'):
        masked_kl(logits, torch.zeros(3))
    with pytest.raises(TypeError, match='teacher'):
        masked_kl(logits, torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match='valid'):
        masked_kl(logits, teacher, valid=torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match='normalize'):
        masked_kl(logits, teacher, normalize='batch')
    with pytest.raises(ValueError, match='temperature'):
        masked_kl(logits, teacher, temperature=0.0)
    with pytest.raises(ValueError, match='class_dim'):
        masked_kl(logits, teacher, class_dim=2)
