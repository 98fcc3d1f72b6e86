import numpy as np
import pytest
import torch

from bikd_mm.core.distribution_kl import (
    MATLAB_EPS,
    distribution_kl,
    distribution_kl_terms,
)


def _dist(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(*shape, generator=gen, dtype=torch.float64)
    return x / x.sum(1, keepdim=True)


def _np_kl(p, q, eps=MATLAB_EPS):
    return sum(
        a * np.log(eps + a / (b + eps)) for a, b in zip(p.tolist(), q.tolist())
    )


def test_distribution_kl_matches_loop():
    p, q = _dist(3, 7, seed=1), _dist(3, 7, seed=2)
    out = distribution_kl(p, q)
    expected = [_np_kl(p[i], q[i]) for i in range(3)]
    assert out.shape == (3,)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_distribution_kl_zero_entries_finite():
    p = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    q = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    out = distribution_kl(p, q)
    assert torch.isfinite(out).all()
    assert out.item() == pytest.approx(np.log(MATLAB_EPS + 1 / MATLAB_EPS))
    assert distribution_kl(p, p).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize('normalize', ['all', 'masked', 'none'])
def test_terms_match_loop(normalize):
    probs = [_dist(5, 6, seed=s) for s in range(3)]
    teacher = torch.tensor([0, 2, -1, 1, 2])
    valid = torch.tensor([True, True, True, True, False])
    terms = distribution_kl_terms(
        probs, teacher, dim=1, normalize=normalize, valid=valid
    )
    expected = np.zeros((3, 3))
    for e in range(5):
        t = int(teacher[e])
        if t < 0 or not valid[e]:
            continue
        for s in range(3):
            if s != t:
                expected[t, s] += _np_kl(probs[t][e], probs[s][e])
    count = {'all': 4, 'masked': 3, 'none': 1}[normalize]
    np.testing.assert_allclose(terms.numpy(), expected / count, rtol=1e-10)
    assert terms.diagonal().abs().sum() == 0


def test_terms_gradient_routes_and_detach():
    probs = [_dist(2, 4, seed=s).requires_grad_() for s in range(2)]
    teacher = torch.tensor([0, 0])
    distribution_kl_terms(probs, teacher).sum().backward()
    assert probs[0].grad.abs().sum() > 0 and probs[1].grad.abs().sum() > 0
    probs = [_dist(2, 4, seed=s).requires_grad_() for s in range(2)]
    distribution_kl_terms(probs, teacher, detach_teacher=True).sum().backward()
    assert probs[0].grad is None or probs[0].grad.abs().sum() == 0
    assert probs[1].grad.abs().sum() > 0


def test_no_teacher_gives_connected_zero():
    probs = [_dist(2, 4, seed=s).requires_grad_() for s in range(2)]
    terms = distribution_kl_terms(probs, torch.tensor([-1, -1]))
    assert terms.abs().sum() == 0
    terms.sum().backward()
    assert torch.isfinite(probs[0].grad).all()


def test_terms_checks():
    p = _dist(2, 4)
    with pytest.raises(ValueError):
        distribution_kl_terms([p], torch.tensor([0, 0]))
    with pytest.raises(ValueError):
        distribution_kl_terms([p, p], torch.tensor([0, 0]), normalize='x')
    with pytest.raises(TypeError):
        distribution_kl_terms([p, p], torch.tensor([0.0, 0.0]))
    with pytest.raises(ValueError):
        distribution_kl(p, _dist(2, 5))
