"""Frame-by-frame NumPy transcription of the MIT saliency metrics.

The baseline of ``saliency_metrics.py``: each function scores one frame,
following the MATLAB code of the MIT saliency benchmark (cvzoya/saliency,
``code_forMetrics``) line by line, with the NaN and constant-map
conventions of ``bikd_mm.evaluation.saliency.functional``. Prediction and
ground truth must have the same size (no resizing here).
"""

import math

import numpy as np

EPS = np.finfo(np.float64).eps


def _check(sal: np.ndarray, gt: np.ndarray) -> None:
    if sal.shape != gt.shape:
        raise ValueError('the NumPy baseline does not resize')


def cc(sal: np.ndarray, gt: np.ndarray) -> float:
    _check(sal, gt)
    map1 = sal.astype(np.float64)
    map2 = gt.astype(np.float64)
    if not map2.any():
        return math.nan
    if map1.max() == map1.min() or map2.max() == map2.min():
        return 0.0
    map1 = (map1 - map1.mean()) / map1.std(ddof=1)
    map2 = (map2 - map2.mean()) / map2.std(ddof=1)
    a = map2 - map2.mean()
    b = map1 - map1.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def kld(sal: np.ndarray, gt: np.ndarray) -> float:
    _check(sal, gt)
    map1 = sal.astype(np.float64)
    map2 = gt.astype(np.float64)
    if not map2.any():
        return math.nan
    if map1.any():
        map1 = map1 / map1.sum()
    map2 = map2 / map2.sum()
    return float(np.sum(map2 * np.log(EPS + map2 / (map1 + EPS))))


def _sim_normalise(m: np.ndarray) -> np.ndarray:
    if m.any():
        if m.max() > m.min():
            m = (m - m.min()) / (m.max() - m.min())
        else:
            m = np.zeros_like(m)
        if m.sum() > 0:
            m = m / m.sum()
    return m


def sim(sal: np.ndarray, gt: np.ndarray) -> float:
    _check(sal, gt)
    map2 = gt.astype(np.float64)
    if not map2.any():
        return math.nan
    map1 = _sim_normalise(sal.astype(np.float64))
    map2 = _sim_normalise(map2)
    return float(np.minimum(map1, map2).sum())


def nss(sal: np.ndarray, fix: np.ndarray) -> float:
    _check(sal, fix)
    if not (fix > 0).any():
        return math.nan
    m = sal.astype(np.float64)
    if m.max() == m.min():
        return 0.0
    m = (m - m.mean()) / m.std(ddof=1)
    return float(m[fix > 0].mean())


def auc_judd(sal: np.ndarray, fix: np.ndarray, noise=None) -> float:
    """``noise``: the jitter map, already scaled (MATLAB ``rand / 1e7``)."""
    _check(sal, fix)
    if not (fix > 0).any():
        return math.nan
    s = sal.astype(np.float64)
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
        aboveth = np.sum(S >= allthreshes[i])
        tp[i + 1] = (i + 1) / n_fix
        fp[i + 1] = (aboveth - (i + 1)) / (n_pix - n_fix)
    return float(np.trapezoid(tp, fp))


def auc_shuffled(sal, fix, negatives, step=0.1) -> float:
    """``negatives``: ``[n_splits, n]`` flat indices drawn for each split."""
    _check(sal, fix)
    if not (fix > 0).any() or negatives.shape[1] == 0:
        return math.nan
    s = sal.astype(np.float64)
    if s.max() > s.min():
        s = (s - s.min()) / (s.max() - s.min())
    else:
        s = np.zeros_like(s)
    S = s.ravel()
    Sth = S[fix.ravel() > 0]
    n_fix = len(Sth)
    randfix = S[negatives.T]
    n_oth = randfix.shape[0]
    auc = np.empty(randfix.shape[1])
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
        auc[split] = np.trapezoid(tp, fp)
    return float(np.mean(auc))
