import numpy as np
import pytest
import torch

from bikd_mm.models.saliency import (
    SaliencyCCLoss,
    SaliencyKLDCCLoss,
    SaliencyKLDLoss,
)
from bikd_mm.registry import MODELS

EPS = 2.2204e-16


def _maps(seed, shape=(3, 5, 6)):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=torch.float64)


def _np_kld(pred, gt):
    p = pred.numpy().ravel()
    q = gt.numpy().ravel()
    p = p / p.sum()
    q = q / q.sum()
    return float(np.sum(q * np.log(EPS + q / (p + EPS))))


def _np_cc(pred, gt):
    return float(np.corrcoef(pred.numpy().ravel(), gt.numpy().ravel())[0, 1])


def test_kld_matches_formula():
    pred, gt = _maps(0), _maps(1)
    loss = SaliencyKLDLoss(reduction='none')
    expected = [_np_kld(pred[i], gt[i]) for i in range(3)]
    np.testing.assert_allclose(loss(pred, gt).numpy(), expected, rtol=1e-10)
    mean = SaliencyKLDLoss(loss_weight=2.0)(pred[:, None], gt[:, None])
    assert mean.item() == pytest.approx(2 * np.mean(expected))
    # Scale invariance: maps are normalised to sum 1.
    assert loss(pred * 7, gt * 0.1).numpy() == pytest.approx(expected)


def test_cc_matches_formula_and_weight():
    pred, gt = _maps(2), _maps(3)
    expected = [_np_cc(pred[i], gt[i]) for i in range(3)]
    out = SaliencyCCLoss(loss_weight=1.0, reduction='none')(pred, gt)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    default = SaliencyCCLoss()(pred, gt)
    assert default.item() == pytest.approx(-np.mean(expected))
    assert SaliencyCCLoss(loss_weight=1.0)(gt, gt).item() == pytest.approx(1)


def test_kld_cc_combination():
    pred, gt = _maps(4), _maps(5)
    expected = [
        _np_kld(pred[i], gt[i]) - _np_cc(pred[i], gt[i]) for i in range(3)
    ]
    loss = SaliencyKLDCCLoss(reduction='none')
    np.testing.assert_allclose(loss(pred, gt).numpy(), expected, rtol=1e-10)
    assert loss(pred, gt, reduction='sum').item() == pytest.approx(
        sum(expected)
    )
    weighted = SaliencyKLDCCLoss(kld_weight=0.5, cc_weight=-2.0)(pred, gt)
    assert weighted.item() == pytest.approx(
        np.mean(
            [
                0.5 * _np_kld(pred[i], gt[i]) - 2 * _np_cc(pred[i], gt[i])
                for i in range(3)
            ]
        )
    )


def test_losses_registered_with_loss_names():
    for cfg, name in [
        (dict(type='SaliencyKLDLoss'), 'loss_kld'),
        (dict(type='SaliencyCCLoss'), 'loss_cc'),
        (dict(type='SaliencyKLDCCLoss'), 'loss_kld_cc'),
    ]:
        assert MODELS.build(cfg).loss_name == name
    with pytest.raises(ValueError):
        SaliencyKLDLoss(loss_name='kld')
    with pytest.raises(ValueError):
        SaliencyCCLoss(reduction='max')


def test_gradients_finite_with_constant_and_zero_maps():
    pred = torch.full((2, 4, 4), 0.5, requires_grad=True)
    gt = _maps(6, (2, 4, 4)).float()
    gt[1] = 0
    loss = SaliencyKLDCCLoss()(pred, gt)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()


def test_shape_errors():
    with pytest.raises(ValueError):
        SaliencyKLDLoss()(_maps(0), _maps(1, (3, 5, 7)))
    with pytest.raises(ValueError):
        SaliencyCCLoss()(_maps(0)[0], _maps(1)[0])
