"""Saliency metrics against a NumPy transcription of the MIT MATLAB code.

The ``mit_*`` functions below transcribe ``code_forMetrics`` of the MIT
saliency benchmark (cvzoya/saliency) frame by frame, plus the documented
conventions of ``bikd_mm.evaluation.saliency.functional`` where MATLAB
gives NaN (constant maps, empty ground truth) and its resizing (bilinear,
antialiased when shrinking, instead of ``imresize``'s bicubic).
"""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from bikd_mm.evaluation.saliency import (
    auc_judd,
    auc_shuffled,
    cc,
    gaussian_blur,
    judd_jitter,
    kld,
    nss,
    resize_maps,
    shuffled_auc_negatives,
    sim,
)
from bikd_mm.evaluation.saliency import functional as F_sal

EPS = np.finfo(np.float64).eps
ATOL = 1e-5
H, W = 24, 32

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


# ---------------------------------------------------------------- NumPy MIT


def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Bilinear (triangle) filter weights, widened when shrinking."""
    scale = n_in / n_out
    support = scale if scale > 1 else 1.0
    inv = 1 / scale if scale > 1 else 1.0
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        for j in range(lo, hi):
            weights[i, j] = max(0.0, 1 - abs((j - center + 0.5) * inv))
        weights[i] /= weights[i].sum()
    return weights


def mit_resize(img: np.ndarray, shape: tuple) -> np.ndarray:
    img = img.astype(np.float64)
    if img.shape == tuple(shape):
        return img
    rows = _resize_matrix(img.shape[0], shape[0])
    cols = _resize_matrix(img.shape[1], shape[1])
    return rows @ img @ cols.T


def mit_cc(sal: np.ndarray, gt: np.ndarray) -> float:
    map1 = mit_resize(sal, gt.shape)
    map2 = gt.astype(np.float64)
    if not map2.any():
        return math.nan
    if map1.max() == map1.min() or map2.max() == map2.min():
        return 0.0
    map1 = (map1 - map1.mean()) / map1.std(ddof=1)
    map2 = (map2 - map2.mean()) / map2.std(ddof=1)
    # corr2
    a = map2 - map2.mean()
    b = map1 - map1.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def mit_kld(sal: np.ndarray, fix: np.ndarray) -> float:
    map1 = mit_resize(sal, fix.shape)
    map2 = fix.astype(np.float64)
    if not map2.any():
        return math.nan
    if map1.any():
        map1 = map1 / map1.sum()
    map2 = map2 / map2.sum()
    return float(np.sum(map2 * np.log(EPS + map2 / (map1 + EPS))))


def _mit_sim_normalise(m: np.ndarray) -> np.ndarray:
    if m.any():
        if m.max() > m.min():
            m = (m - m.min()) / (m.max() - m.min())
        else:
            m = np.zeros_like(m)
        if m.sum() > 0:
            m = m / m.sum()
    return m


def mit_sim(sal: np.ndarray, gt: np.ndarray) -> float:
    map1 = mit_resize(sal, gt.shape)
    map2 = gt.astype(np.float64)
    if not map2.any():
        return math.nan
    map1 = _mit_sim_normalise(map1)
    map2 = _mit_sim_normalise(map2)
    return float(np.minimum(map1, map2).sum())


def mit_nss(sal: np.ndarray, fix: np.ndarray) -> float:
    m = mit_resize(sal, fix.shape)
    if not (fix > 0).any():
        return math.nan
    if m.max() == m.min():
        return 0.0
    m = (m - m.mean()) / m.std(ddof=1)
    return float(m[fix > 0].mean())


def mit_auc_judd(sal, fix, noise=None) -> float:
    if not (fix > 0).any():
        return math.nan
    s = mit_resize(sal, fix.shape)
    if noise is not None:
        s = s + noise
    if s.max() == s.min():
        return 0.5
    s = (s - s.min()) / (s.max() - s.min())
    S = s.ravel()
    F = fix.ravel()
    Sth = S[F > 0]
    n_fix = len(Sth)
    n_pix = len(S)
    if n_fix == n_pix:
        return math.nan
    allthreshes = np.sort(Sth)[::-1]
    tp = np.zeros(n_fix + 2)
    fp = np.zeros(n_fix + 2)
    tp[-1] = 1
    fp[-1] = 1
    for i in range(n_fix):
        thresh = allthreshes[i]
        aboveth = np.sum(S >= thresh)
        tp[i + 1] = (i + 1) / n_fix
        fp[i + 1] = (aboveth - (i + 1)) / (n_pix - n_fix)
    return float(np.trapezoid(tp, fp))


def mit_auc_shuffled(sal, fix, negatives, step=0.1) -> float:
    """``negatives``: ``[n_splits, n]`` flat indices of each split."""
    if not (fix > 0).any() or negatives.shape[1] == 0:
        return math.nan
    s = mit_resize(sal, fix.shape)
    if s.max() > s.min():
        s = (s - s.min()) / (s.max() - s.min())
    else:
        s = np.zeros_like(s)
    S = s.ravel()
    Sth = S[fix.ravel() > 0]
    n_fix = len(Sth)
    randfix = S[negatives.T]
    n_oth = randfix.shape[0]
    auc = []
    for split in range(randfix.shape[1]):
        curfix = randfix[:, split]
        top = max(Sth.max(), curfix.max())
        allthreshes = []
        k = 0
        while k * step <= top:
            allthreshes.append(k * step)
            k += 1
        allthreshes = allthreshes[::-1]
        tp = np.zeros(len(allthreshes) + 2)
        fp = np.zeros(len(allthreshes) + 2)
        tp[-1] = 1
        fp[-1] = 1
        for i, thresh in enumerate(allthreshes):
            tp[i + 1] = np.sum(Sth >= thresh) / n_fix
            fp[i + 1] = np.sum(curfix >= thresh) / n_oth
        auc.append(np.trapezoid(tp, fp))
    return float(np.mean(auc))


# -------------------------------------------------------------------- data


def _blobs(rng, n, h=H, w=W, k=3):
    """Smooth positive maps: sums of Gaussian blobs."""
    yy, xx = np.mgrid[0:h, 0:w]
    maps = np.zeros((n, h, w))
    for b in range(n):
        for _ in range(k):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            sig = rng.uniform(2, 6)
            maps[b] += rng.uniform(0.2, 1) * np.exp(
                -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sig**2)
            )
    return maps


def _case_batch():
    """Predictions, ground-truth maps, fixations and other-frame maps.

    Frames 0-3 are random; the others are the edge cases, in one batch so
    that padding between samples of different fixation counts is
    exercised.
    """
    rng = np.random.default_rng(0)
    n_random = 4
    names = [f'random{i}' for i in range(n_random)] + [
        'uniform_pred',
        'zero_pred',
        'zero_gt',
        'one_fixation',
        'ties',
        'constant_gt',
        'all_fixated',
        'empty_other',
        'negative_pred',
    ]
    n = len(names)
    pred = _blobs(rng, n) + 0.05 * rng.random((n, H, W))
    gt = _blobs(rng, n)
    fix = rng.random((n, H, W)) < 0.04
    other = rng.random((n, H, W)) < 0.08
    idx = {name: i for i, name in enumerate(names)}
    pred[idx['uniform_pred']] = 0.3
    pred[idx['zero_pred']] = 0.0
    gt[idx['zero_gt']] = 0.0
    fix[idx['zero_gt']] = False
    fix[idx['one_fixation']] = False
    fix[idx['one_fixation'], 5, 7] = True
    pred[idx['ties']] = np.round(pred[idx['ties']] * 3) / 3
    gt[idx['constant_gt']] = 0.7
    fix[idx['all_fixated']] = True
    other[idx['empty_other']] = False
    pred[idx['negative_pred']] -= 0.5
    return names, pred, gt, fix, other


NAMES, PRED, GT, FIX, OTHER = _case_batch()


def _torch(x, device, dtype=torch.float32):
    return torch.as_tensor(x).to(device=device, dtype=dtype)


def _assert_close(ours: torch.Tensor, ref: list, names=NAMES):
    ours = ours.cpu().numpy()
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape
    for name, a, b in zip(names, ours, ref):
        if math.isnan(b):
            assert math.isnan(a), f'{name}: {a} != NaN'
        else:
            assert abs(a - b) <= ATOL, f'{name}: {a} != {b}'


# ------------------------------------------------------------------- tests


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize(
    'ours, ref, target',
    [
        (cc, mit_cc, 'gt'),
        (kld, mit_kld, 'gt'),
        (sim, mit_sim, 'gt'),
        (nss, mit_nss, 'fix'),
    ],
    ids=['cc', 'kld', 'sim', 'nss'],
)
def test_map_metrics_match_mit(device, ours, ref, target):
    tgt = (GT if target == 'gt' else FIX).astype(np.float32)
    # float32 input, as a network gives; the reference gets the same values.
    pred32 = PRED.astype(np.float32)
    keep = [
        i
        for i, name in enumerate(NAMES)
        # KLD reads the maps as distributions, which must be non-negative.
        if not (ours is kld and name == 'negative_pred')
    ]
    pred32, tgt = pred32[keep], tgt[keep]
    expected = [ref(p, t) for p, t in zip(pred32, tgt)]
    scores = ours(_torch(pred32, device), _torch(tgt, device))
    assert scores.dtype == torch.float64
    assert scores.device.type == device
    _assert_close(scores, expected, [NAMES[i] for i in keep])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('jitter', [False, True])
def test_auc_judd_matches_mit(device, jitter):
    noise = judd_jitter((H, W), seed=3).numpy() if jitter else None
    expected = [mit_auc_judd(p, f, noise) for p, f in zip(PRED, FIX)]
    scores = auc_judd(
        _torch(PRED, device, torch.float64),
        _torch(FIX, device, torch.bool),
        jitter=jitter,
        seed=3,
    )
    _assert_close(scores, expected)


def test_auc_judd_edge_values():
    scores = auc_judd(_torch(PRED, 'cpu'), _torch(FIX, 'cpu'), jitter=False)
    by_name = dict(zip(NAMES, scores.tolist()))
    assert by_name['uniform_pred'] == 0.5
    assert by_name['zero_pred'] == 0.5
    assert math.isnan(by_name['zero_gt'])
    assert math.isnan(by_name['all_fixated'])


@pytest.mark.parametrize('device', DEVICES)
def test_auc_shuffled_matches_mit(device):
    fix = _torch(FIX, device, torch.bool)
    other = _torch(OTHER, device, torch.bool)
    indices, counts = shuffled_auc_negatives(fix, other, 100, seed=11)
    expected = [
        mit_auc_shuffled(
            PRED[b], FIX[b], indices[b, :, : counts[b]].cpu().numpy()
        )
        for b in range(len(NAMES))
    ]
    scores = auc_shuffled(_torch(PRED, device), fix, other, seed=11)
    _assert_close(scores, expected)
    by_name = dict(zip(NAMES, scores.tolist()))
    assert by_name['uniform_pred'] == 0.5
    assert math.isnan(by_name['empty_other'])
    assert math.isnan(by_name['zero_gt'])


def test_auc_shuffled_step_size():
    fix = _torch(FIX[:4], 'cpu', torch.bool)
    other = _torch(OTHER[:4], 'cpu', torch.bool)
    negatives = shuffled_auc_negatives(fix, other, 7, seed=[5, 6, 7, 8])
    indices, counts = negatives
    for step in (0.05, 0.3, 0.25):
        expected = [
            mit_auc_shuffled(
                PRED[b], FIX[b], indices[b, :, : counts[b]].numpy(), step
            )
            for b in range(4)
        ]
        scores = auc_shuffled(
            _torch(PRED[:4], 'cpu'),
            fix,
            None,
            step_size=step,
            negatives=negatives,
        )
        _assert_close(scores, expected, NAMES[:4])


def test_shuffled_negatives_replay_documented_draw():
    fix = torch.as_tensor(FIX)
    other = torch.as_tensor(OTHER)
    indices, counts = shuffled_auc_negatives(fix, other, 5, seed=21)
    for b in range(len(NAMES)):
        candidates = np.flatnonzero(OTHER[b])
        k = len(candidates)
        n = min(int(FIX[b].sum()), k)
        assert int(counts[b]) == n
        if n == 0:
            continue
        generator = torch.Generator().manual_seed(21 + b)
        u = torch.rand(5, n, dtype=torch.float64, generator=generator)
        u = u.numpy()
        for s in range(5):
            perm = np.arange(k)
            for j in range(n):
                r = j + int(u[s, j] * (k - j))
                perm[j], perm[r] = perm[r], perm[j]
            np.testing.assert_array_equal(
                indices[b, s, :n].numpy(), candidates[perm[:n]]
            )
            assert len(set(indices[b, s, :n].tolist())) == n


def test_seeds_are_per_sample():
    """A frame's draw does not depend on the rest of its batch."""
    fix = torch.as_tensor(FIX)
    other = torch.as_tensor(OTHER)
    pred = torch.as_tensor(PRED)
    whole = auc_shuffled(pred, fix, other, seed=100)
    part = auc_shuffled(pred[2:5], fix[2:5], other[2:5], seed=102)
    torch.testing.assert_close(part, whole[2:5], equal_nan=True)
    again = auc_shuffled(pred, fix, other, seed=100)
    torch.testing.assert_close(again, whole, equal_nan=True)
    other_seed = auc_shuffled(pred[:4], fix[:4], other[:4], seed=7)
    assert not torch.equal(other_seed, whole[:4])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('pred_size', [(12, 16), (48, 64), (30, 20)])
def test_prediction_resized_to_ground_truth(device, pred_size):
    rng = np.random.default_rng(1)
    pred = _blobs(rng, 3, *pred_size) + 0.01
    noise = judd_jitter((H, W), seed=0).numpy()
    p = _torch(pred, device, torch.float64)
    gt = _torch(GT[:3], device, torch.float64)
    fix = _torch(FIX[:3], device, torch.bool)
    cases = [
        (cc(p, gt), [mit_cc(a, b) for a, b in zip(pred, GT)]),
        (kld(p, gt), [mit_kld(a, b) for a, b in zip(pred, GT)]),
        (sim(p, gt), [mit_sim(a, b) for a, b in zip(pred, GT)]),
        (nss(p, fix), [mit_nss(a, b) for a, b in zip(pred, FIX)]),
        (
            auc_judd(p, fix),
            [mit_auc_judd(a, b, noise) for a, b in zip(pred, FIX)],
        ),
    ]
    other = _torch(OTHER[:3], device, torch.bool)
    indices, counts = shuffled_auc_negatives(fix, other, 20, seed=4)
    cases.append(
        (
            auc_shuffled(p, fix, other, n_splits=20, seed=4),
            [
                mit_auc_shuffled(
                    pred[b], FIX[b], indices[b, :, : counts[b]].cpu().numpy()
                )
                for b in range(3)
            ],
        )
    )
    for scores, expected in cases:
        _assert_close(scores, expected, NAMES[:3])
    resized = resize_maps(p, (H, W)).cpu().numpy()
    for b in range(3):
        np.testing.assert_allclose(
            resized[b], mit_resize(pred[b], (H, W)), atol=1e-12
        )


def test_cpu_chunks_match_one_batch(monkeypatch):
    pred = torch.as_tensor(PRED)
    gt = torch.as_tensor(GT)
    fix = torch.as_tensor(FIX)
    other = torch.as_tensor(OTHER)
    calls = [
        lambda: cc(pred, gt),
        lambda: kld(pred, gt),
        lambda: sim(pred, gt),
        lambda: nss(pred, fix),
        lambda: auc_judd(pred, fix),
        lambda: auc_shuffled(pred, fix, other, n_splits=10),
    ]
    whole = [call() for call in calls]
    # Two frames per chunk, and a few samples per permutation chunk.
    monkeypatch.setattr(F_sal, '_CPU_CHUNK_ELEMENTS', 2 * H * W)
    for call, expected in zip(calls, whole):
        torch.testing.assert_close(call(), expected, equal_nan=True)


def test_two_dimensional_input_and_numpy():
    score = cc(PRED[0], GT[0])
    assert score.shape == (1,)
    assert abs(float(score) - mit_cc(PRED[0], GT[0])) <= ATOL


def test_gaussian_blur_matches_reflect_101():
    maps = torch.as_tensor(PRED[:2])
    blurred = gaussian_blur(maps, sigma=2.5, kernel_size=11).numpy()
    x = np.arange(11) - 5.0
    kernel = np.exp(-(x**2) / (2 * 2.5**2))
    kernel /= kernel.sum()
    for b in range(2):
        # scipy's 'mirror' is OpenCV's BORDER_REFLECT_101.
        ref = ndimage.correlate1d(PRED[b], kernel, axis=0, mode='mirror')
        ref = ndimage.correlate1d(ref, kernel, axis=1, mode='mirror')
        np.testing.assert_allclose(blurred[b], ref, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match='batch sizes differ'):
        cc(torch.rand(2, 4, 4), torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match=r'\[B, H, W\]'):
        nss(torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4))
    with pytest.raises(ValueError, match='same shape'):
        shuffled_auc_negatives(torch.rand(1, 4, 4), torch.rand(1, 5, 4))
    with pytest.raises(ValueError, match='other_map or negatives'):
        auc_shuffled(torch.rand(1, 4, 4), torch.rand(1, 4, 4), None)


def test_count_at_least_matches_brute_force():
    """The cell-based counting of AUC-Judd, with ties and padding."""
    rng = np.random.default_rng(5)
    values = rng.random((3, 5000)) ** 4  # crowded near 0, like saliency
    values[1, :2000] = 0.0
    values[2] = np.round(values[2] * 50) / 50
    values[:, 0] = 1.0
    thresholds = np.full((3, 40), np.inf)
    for b in range(3):
        n = 40 - 10 * b
        thresholds[b, :n] = np.sort(rng.choice(values[b], n))
    counts = F_sal._count_at_least(
        torch.as_tensor(values), torch.as_tensor(thresholds)
    ).numpy()
    for b in range(3):
        n = 40 - 10 * b
        expected = [(values[b] >= t).sum() for t in thresholds[b, :n]]
        np.testing.assert_array_equal(counts[b, :n], expected)
