"""Saliency metrics of the MIT saliency benchmark, batched in torch.

The definitions follow the MATLAB reference of the MIT saliency benchmark
(``cvzoya/saliency``, folder ``code_forMetrics``: ``CC.m``, ``KLdiv.m``,
``similarity.m``, ``NSS.m``, ``AUC_Judd.m``, ``AUC_shuffled.m``). Every
function takes a batch of ``[B, H, W]`` maps (a single ``[H, W]`` map is
read as ``B = 1``), runs on the device of the prediction and returns the
per-sample scores as a float64 tensor of shape ``[B]``.

Conventions shared by all metrics:

- Arithmetic is float64, as MATLAB's ``double`` / ``im2double``. The
  metrics are invariant to a positive rescaling of either map (up to the
  ``eps`` terms of KLD), so ``im2double``'s division of ``uint8`` maps by
  255 is not reproduced.
- A prediction whose size differs from the ground truth is resized to the
  ground-truth size (``resize_maps``). The MIT code uses ``imresize``
  (bicubic, antialiased when shrinking); here it is bilinear with
  half-pixel centres (``align_corners=False``), antialiased when shrinking.
- A fixation map is binary: a pixel is fixated where its value is > 0.
- Maps are expected to be non-negative.

Edge cases (MIT behaviour in brackets where it differs):

- Nothing to predict (all-zero ground-truth map for CC, KLD and SIM; no
  fixation for NSS, AUC-Judd and sAUC): NaN, so that an average can skip
  the frame with ``nanmean``. (MIT: NaN for CC, NSS and the AUCs, 0 for
  KLD and SIM.)
- Constant map (uniform or all zero): standardisation and min-max
  normalisation turn it into all zeros, so a constant prediction scores
  CC = 0, NSS = 0, SIM = 0, AUC-Judd = 0.5 without jitter, sAUC = 0.5; a
  constant non-zero ground-truth map gives CC = 0 and SIM = 0. (MIT: NaN
  from 0 / 0 for CC, NSS, AUC-Judd without jitter, and SIM of a constant
  non-zero map; the same 0 for SIM of an all-zero map and 0.5 for sAUC.)
  KLD needs no special case: a uniform prediction is a uniform
  distribution and an all-zero prediction stays all zero, which costs
  about ``log(1 / eps)`` = 36 nats.
- One fixation: the formulas apply unchanged (NSS is the standardised
  prediction at that pixel, AUC-Judd has a single threshold).
- Every pixel fixated: AUC-Judd is NaN, as there is no negative pixel.
- Empty ``other_map`` in sAUC: NaN, as there is no negative sample.
"""

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'EPS',
    'auc_judd',
    'auc_shuffled',
    'cc',
    'gaussian_blur',
    'judd_jitter',
    'kld',
    'nss',
    'resize_maps',
    'shuffled_auc_negatives',
    'sim',
]

#: MATLAB's ``eps``, the float64 machine epsilon (2.2204e-16).
EPS = 2.0**-52

#: Amplitude of the AUC-Judd jitter, MATLAB's ``rand / 10000000``.
JITTER_SCALE = 1e-7

MapLike = Tensor | np.ndarray

# Elements per CPU chunk: 8 MiB of float64, a few frames at 360x640.
_CPU_CHUNK_ELEMENTS = 2**20


def _as_batch(maps: MapLike, name: str) -> Tensor:
    """Return ``maps`` as a ``[B, H, W]`` tensor, adding ``B = 1`` to 2-D."""
    maps = torch.as_tensor(maps)
    if maps.dim() == 2:
        maps = maps.unsqueeze(0)
    if maps.dim() != 3:
        raise ValueError(
            f'{name} must be [B, H, W] or [H, W], got {tuple(maps.shape)}'
        )
    return maps


def _check_pair(pred: MapLike, target: MapLike) -> tuple[Tensor, Tensor]:
    """Check a prediction / ground-truth pair; move the target to ``pred``."""
    pred = _as_batch(pred, 'pred')
    target = _as_batch(target, 'target').to(pred.device)
    if pred.shape[0] != target.shape[0]:
        raise ValueError(
            f'batch sizes differ: pred {pred.shape[0]}, '
            f'target {target.shape[0]}'
        )
    return pred, target


def _pred_at(pred: Tensor, size: torch.Size) -> Tensor:
    """The prediction as float64 at the ground-truth size."""
    pred = _to(pred, torch.float64)
    if pred.shape[-2:] != size:
        pred = resize_maps(pred, tuple(size))
    return pred


def _chunks(batch: int, numel: int, device: torch.device) -> list[slice]:
    """Split a batch so that each CPU step works on about 1M elements.

    On the CPU, whole-batch temporaries of full-size maps run out of cache
    and each one is a fresh allocation with its page faults, which costs
    more than the arithmetic; a few frames at a time stay in cache. On an
    accelerator the whole batch goes in one step.
    """
    if device.type != 'cpu':
        return [slice(0, batch)]
    step = max(1, _CPU_CHUNK_ELEMENTS // max(numel, 1))
    return [slice(i, min(i + step, batch)) for i in range(0, batch, step)]


def _map_chunks(fn: Callable[..., Tensor], *batches: Tensor) -> Tensor:
    """Apply ``fn`` to matching chunks of ``batches`` and join the results.

    The second batch, the ground truth, sets the map size of the chunks.
    """
    ref = batches[1]
    slices = _chunks(ref.shape[0], ref[0].numel(), ref.device)
    if not slices:
        return torch.empty(0, dtype=torch.float64, device=ref.device)
    return torch.cat([fn(*(b[sl] for b in batches)) for sl in slices])


def resize_maps(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``[B, H, W]`` maps bilinearly.

    Half-pixel centres (``align_corners=False``) follow MATLAB's
    ``imresize`` coordinate mapping; like ``imresize``, the filter is
    widened when shrinking (``antialias=True``), which leaves enlargement
    plain bilinear.

    Args:
        maps (Tensor): Maps of shape ``[B, H, W]``.
        size (tuple[int, int]): Output ``(height, width)``.

    Returns:
        Tensor: Resized maps ``[B, height, width]``, same dtype.
    """
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    # The antialiased kernel has no integer-dtype variant.
    if not maps.is_floating_point():
        maps = maps.to(torch.float64)
    return F.interpolate(
        maps.unsqueeze(1),
        size=tuple(size),
        mode='bilinear',
        align_corners=False,
        antialias=True,
    ).squeeze(1)


def gaussian_blur(maps: Tensor, sigma: float, kernel_size: int = 11) -> Tensor:
    """Blur ``[B, H, W]`` maps with a separable Gaussian kernel.

    The kernel is OpenCV's ``getGaussianKernel`` (samples of the Gaussian at
    integer offsets, normalised to sum 1) and the border is reflected
    without repeating the edge pixel, OpenCV's default
    ``BORDER_REFLECT_101``. Each map needs more than ``kernel_size // 2``
    pixels per side.

    Args:
        maps (Tensor): Maps of shape ``[B, H, W]``.
        sigma (float): Standard deviation in pixels, > 0.
        kernel_size (int): Odd kernel width and height. Defaults to 11.

    Returns:
        Tensor: Blurred maps, same shape; float64 for integer input.
    """
    if sigma <= 0:
        raise ValueError(f'sigma must be > 0, got {sigma}')
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be odd, got {kernel_size}')
    if not maps.is_floating_point():
        maps = maps.to(torch.float64)
    offsets = (
        torch.arange(kernel_size, dtype=torch.float64, device=maps.device)
        - (kernel_size - 1) / 2
    )
    kernel = torch.exp(-(offsets**2) / (2.0 * sigma**2))
    kernel = (kernel / kernel.sum()).to(maps.dtype)
    half = kernel_size // 2
    x = F.pad(maps.unsqueeze(1), (half, half, half, half), mode='reflect')
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x.squeeze(1)


def _extrema(flat: Tensor) -> tuple[Tensor, Tensor]:
    """Row minima and maxima of a ``[B, N]`` tensor.

    Two reductions: on the CPU the fused ``aminmax`` is several times
    slower than ``amin`` and ``amax`` together.
    """
    return flat.amin(1), flat.amax(1)


def _is_constant(flat: Tensor) -> tuple[Tensor, Tensor]:
    """Flag constant and all-zero rows of a ``[B, N]`` tensor.

    Exact min / max comparisons, since a computed variance of a constant map
    need not be exactly zero.
    """
    lo, hi = _extrema(flat)
    constant = lo == hi
    return constant, constant & (hi == 0)


def _to(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``x.to(dtype)`` through ``copy_``, several times faster on the CPU."""
    if x.dtype == dtype:
        return x
    return torch.empty_like(x, dtype=dtype).copy_(x)


def _centred(flat: Tensor) -> tuple[Tensor, Tensor]:
    """Rows minus their means, and the rows' sums of squared deviations.

    Two passes (mean, then deviations), as MATLAB's ``std``; a
    single-pass variance is either less accurate or, as ``var_mean`` on
    the CPU, slower.
    """
    dev = flat - flat.mean(1, keepdim=True)
    return dev, torch.linalg.vector_norm(dev, dim=1).square_()


def _minmax(flat: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """MATLAB's ``(x - min) / (max - min)``, with a constant row -> zeros."""
    span = hi - lo
    # For a constant row x - min is exactly 0, so any non-zero divisor works.
    span = torch.where(span > 0, span, torch.ones_like(span))
    return (flat - lo.unsqueeze(1)).div_(span.unsqueeze(1))


def _binary(maps: Tensor) -> Tensor:
    """Flattened ``maps > 0``; a bool map is used as is."""
    maps = maps.flatten(1)
    return maps if maps.dtype == torch.bool else maps > 0


def _nonzero(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Row and column indices of the true entries of a ``[B, N]`` mask.

    In row-major order. On the CPU through NumPy's ``flatnonzero``, about
    ten times faster there than ``torch.nonzero``.
    """
    if mask.device.type != 'cpu':
        return mask.nonzero(as_tuple=True)
    flat = torch.from_numpy(np.flatnonzero(mask.numpy()))
    rows = flat // mask.shape[1]
    return rows, flat - rows * mask.shape[1]


def _nan_where(scores: Tensor, mask: Tensor) -> Tensor:
    return torch.where(mask, torch.full_like(scores, math.nan), scores)


def cc(pred: MapLike, gt: MapLike) -> Tensor:
    """Pearson's linear correlation coefficient (MIT ``CC.m``).

    MIT z-normalises both maps with MATLAB's ``std``, which divides by
    ``N - 1`` (``ddof=1``), then takes ``corr2``. The correlation of the
    z-normalised maps equals the Pearson correlation of the raw maps for any
    ``ddof``, so the score is computed from the centred maps directly.

    Args:
        pred (Tensor | np.ndarray): Predicted maps ``[B, h, w]``.
        gt (Tensor | np.ndarray): Ground-truth saliency maps ``[B, H, W]``.

    Returns:
        Tensor: ``[B]`` scores in ``[-1, 1]``; 0 where either map is
        constant, NaN where the ground-truth map is all zero.
    """
    return _map_chunks(_cc, *_check_pair(pred, gt))


def _cc(pred: Tensor, gt: Tensor) -> Tensor:
    p = _pred_at(pred, gt.shape[-2:]).flatten(1)
    g = _to(gt.flatten(1), torch.float64)
    const_p, _ = _is_constant(p)
    const_g, empty_g = _is_constant(g)
    dev_p, ss_p = _centred(p)
    dev_g, ss_g = _centred(g)
    cov = dev_p.mul_(dev_g).sum(1)
    scores = cov / torch.sqrt(ss_p * ss_g)
    scores = torch.where(const_p | const_g, torch.zeros_like(cov), scores)
    return _nan_where(scores, empty_g)


def kld(pred: MapLike, gt: MapLike) -> Tensor:
    """Kullback-Leibler divergence of the prediction from the ground truth.

    MIT ``KLdiv.m``: with ``P`` the prediction and ``Q`` the ground-truth
    map, each divided by its sum (an all-zero map is left as is),
    ``KLD = sum(Q * log(eps + Q / (P + eps)))`` with ``eps = 2.2204e-16``.

    Args:
        pred (Tensor | np.ndarray): Predicted maps ``[B, h, w]``.
        gt (Tensor | np.ndarray): Ground-truth saliency maps ``[B, H, W]``.

    Returns:
        Tensor: ``[B]`` scores, >= 0 up to rounding (lower is better); NaN
        where the ground-truth map is all zero.
    """
    return _map_chunks(_kld, *_check_pair(pred, gt))


def _kld(pred: Tensor, gt: Tensor) -> Tensor:
    p = _pred_at(pred, gt.shape[-2:]).flatten(1)
    q = _to(gt.flatten(1), torch.float64)
    _, empty_p = _is_constant(p)
    _, empty_q = _is_constant(q)
    one = torch.ones_like(p[:, 0])
    sum_p = torch.where(empty_p, one, p.sum(1)).unsqueeze(1)
    sum_q = torch.where(empty_q, one, q.sum(1)).unsqueeze(1)
    q = q / sum_q
    # One buffer for the whole chain: the steps are memory-bound.
    ratio = (p / sum_p).add_(EPS)
    torch.div(q, ratio, out=ratio)
    ratio.add_(EPS).log_()
    scores = ratio.mul_(q).sum(1)
    return _nan_where(scores, empty_q)


def sim(pred: MapLike, gt: MapLike) -> Tensor:
    """Similarity, or histogram intersection (MIT ``similarity.m``).

    Each map is min-max normalised to ``[0, 1]`` and then divided by its
    sum (an all-zero map, and a constant map after min-max, stays all
    zero); the score is ``sum(min(P, Q))``.

    Args:
        pred (Tensor | np.ndarray): Predicted maps ``[B, h, w]``.
        gt (Tensor | np.ndarray): Ground-truth saliency maps ``[B, H, W]``.

    Returns:
        Tensor: ``[B]`` scores in ``[0, 1]``; NaN where the ground-truth
        map is all zero.
    """
    return _map_chunks(_sim, *_check_pair(pred, gt))


def _sim(pred: Tensor, gt: Tensor) -> Tensor:
    p = _sim_normalise(_pred_at(pred, gt.shape[-2:]).flatten(1))
    g = _to(gt.flatten(1), torch.float64)
    _, empty_g = _is_constant(g)
    q = _sim_normalise(g)
    scores = torch.minimum(p, q, out=p).sum(1)
    return _nan_where(scores, empty_g)


def _sim_normalise(flat: Tensor) -> Tensor:
    lo, hi = _extrema(flat)
    out = _minmax(flat, lo, hi)
    total = out.sum(1)
    total = torch.where(total > 0, total, torch.ones_like(total))
    return out.div_(total.unsqueeze(1))


def nss(pred: MapLike, fixation: MapLike) -> Tensor:
    """Normalized scanpath saliency (MIT ``NSS.m``).

    The mean of the standardised prediction ``(P - mean(P)) / std(P)`` over
    the fixated pixels, with MATLAB's ``std`` (``N - 1`` in the divisor,
    ``ddof=1``).

    Args:
        pred (Tensor | np.ndarray): Predicted maps ``[B, h, w]``.
        fixation (Tensor | np.ndarray): Binary fixation maps ``[B, H, W]``.

    Returns:
        Tensor: ``[B]`` scores; 0 for a constant prediction, NaN where there
        is no fixation.
    """
    return _map_chunks(_nss, *_check_pair(pred, fixation))


def _nss(pred: Tensor, fixation: Tensor) -> Tensor:
    p = _pred_at(pred, fixation.shape[-2:]).flatten(1)
    fixated = _binary(fixation)
    constant, _ = _is_constant(p)
    dev, ss = _centred(p)
    rows, cols = _nonzero(fixated)
    n_fix = torch.bincount(rows, minlength=p.shape[0])
    fix_sum = torch.zeros_like(ss).index_add_(0, rows, dev[rows, cols])
    std = torch.sqrt(ss / (p.shape[1] - 1))
    scores = fix_sum / n_fix / std
    scores = torch.where(constant, torch.zeros_like(scores), scores)
    return _nan_where(scores, n_fix == 0)


def judd_jitter(
    size: tuple[int, int],
    seed: int = 0,
    device: torch.device | str = 'cpu',
) -> Tensor:
    """The jitter that ``auc_judd`` adds to every map of a call.

    MATLAB's ``rand(size) / 10000000``: float64 uniform noise in
    ``[0, 1e-7)``, drawn on the CPU from ``torch.Generator`` seeded with
    ``seed`` (so CPU and GPU runs agree) and then moved to ``device``.

    Args:
        size (tuple[int, int]): Map ``(height, width)``.
        seed (int): Generator seed. Defaults to 0.
        device (torch.device | str): Output device. Defaults to ``'cpu'``.

    Returns:
        Tensor: ``[height, width]`` float64 noise.
    """
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.rand(tuple(size), dtype=torch.float64, generator=generator)
    return noise.mul_(JITTER_SCALE).to(device)


def _pack_rows(
    rows: Tensor, values: Tensor, num_rows: int, fill: float
) -> tuple[Tensor, Tensor]:
    """Pack ``values`` grouped by sorted ``rows`` into a padded matrix.

    Returns:
        tuple[Tensor, Tensor]: ``[num_rows, max(1, max count)]`` values
        padded with ``fill``, and the count of each row.
    """
    counts = torch.bincount(rows, minlength=num_rows)
    width = int(counts.max()) if rows.numel() else 0
    packed = values.new_full((num_rows, max(width, 1)), fill)
    if rows.numel():
        starts = torch.cumsum(counts, 0) - counts
        cols = torch.arange(rows.numel(), device=rows.device) - starts[rows]
        packed[rows, cols] = values
    return packed, counts


def _count_at_least(values: Tensor, thresholds: Tensor) -> Tensor:
    """Count, per row, the values that are >= each threshold.

    Exact replacement for ``sum(S >= thresh)`` of ``AUC_Judd.m`` that avoids
    both a full sort and a binary search of every value. Values in ``[0, 1]``
    go into ``G`` equal cells; since ``floor(x * G)`` is monotonic (``G`` is a
    power of two, so ``x * G`` is exact), a value in a cell above the
    threshold's cell is larger than the threshold and one in a cell below is
    smaller. Only the values that share a cell with some threshold are
    compared one by one.

    Args:
        values (Tensor): ``[B, N]`` float64 values in ``[0, 1]``.
        thresholds (Tensor): ``[B, M]`` float64 thresholds in ``[0, 1]``,
            sorted ascending; padding is ``+inf``.

    Returns:
        Tensor: ``[B, M]`` int64 counts (meaningless at the padding).
    """
    batch, n = values.shape
    device = values.device
    # About 4 values per cell on average, capped to keep the tables small;
    # saliency values crowd near 0, so cells must be much finer than the
    # average suggests to keep few values in the cells of thresholds.
    cells = 2 ** min(max(math.ceil(math.log2(n)) - 2, 4), 16)
    finite = torch.isfinite(thresholds)
    t_cell = _to(thresholds.nan_to_num(posinf=0.0).mul_(cells), torch.long)
    # Padding points past the last cell, where every count is zero.
    t_cell = torch.where(
        finite, t_cell.clamp_(max=cells - 1), torch.full_like(t_cell, cells)
    )
    dirty = torch.zeros(batch, cells + 1, dtype=torch.bool, device=device)
    dirty.scatter_(1, t_cell, True)
    dirty[:, cells] = False
    v_cell = _to(values * cells, torch.long).clamp_(max=cells - 1)
    hist = torch.zeros(batch, cells + 2, dtype=torch.long, device=device)
    one = torch.ones(1, 1, dtype=torch.long, device=device)
    hist.scatter_add_(1, v_cell, one.expand_as(v_cell))
    hist[:, : cells + 1].masked_fill_(dirty, 0)
    # above[:, c] = number of values in clean cells >= c
    above = hist.flip(1).cumsum(1).flip(1)
    clean = above.gather(1, t_cell + 1)
    rows, cols = _nonzero(dirty.gather(1, v_cell))
    packed, n_dirty = _pack_rows(rows, values[rows, cols], batch, math.inf)
    packed = packed.sort(dim=1).values
    below = torch.searchsorted(packed, thresholds.contiguous(), right=False)
    return clean + n_dirty.unsqueeze(1) - below


def auc_judd(
    pred: MapLike,
    fixation: MapLike,
    jitter: bool = True,
    seed: int = 0,
) -> Tensor:
    """Area under the ROC curve, Judd's variant (MIT ``AUC_Judd.m``).

    The prediction is resized to the fixation map, jittered (optional),
    min-max normalised, and thresholded at each of its values at the
    fixated pixels (sorted descending, duplicates kept). At the ``i``-th
    threshold ``t``, ``tp = i / Nfix`` and
    ``fp = (sum(S >= t) - i) / (Npix - Nfix)``; the curve runs from
    ``(0, 0)`` to ``(1, 1)`` and its area is taken by the trapezoidal rule
    (MATLAB's ``trapz``). Ties are handled as in the MATLAB loop.

    The jitter breaks ties between equal values, as MIT's default
    ``jitter = 1``. One noise map, ``judd_jitter(size, seed)``, is added to
    every map of the call: jitter only breaks ties, so the frames need no
    independent draws, and a frame's score does not depend on its position
    in the batch.

    Args:
        pred (Tensor | np.ndarray): Predicted maps ``[B, h, w]``.
        fixation (Tensor | np.ndarray): Binary fixation maps ``[B, H, W]``.
        jitter (bool): Add ``[0, 1e-7)`` uniform noise before normalising.
            Defaults to True.
        seed (int): Seed of the jitter. Defaults to 0.

    Returns:
        Tensor: ``[B]`` scores in ``[0, 1]``; 0.5 for a constant prediction
        (without jitter), NaN where no pixel or every pixel is fixated.
    """
    pred, fixation = _check_pair(pred, fixation)
    noise = None
    if jitter:
        noise = judd_jitter(fixation.shape[-2:], seed, pred.device)

    def core(pred: Tensor, fixation: Tensor) -> Tensor:
        return _auc_judd(pred, fixation, noise)

    return _map_chunks(core, pred, fixation)


def _auc_judd(pred: Tensor, fixation: Tensor, noise: Tensor | None) -> Tensor:
    batch = fixation.shape[0]
    s = _pred_at(pred, fixation.shape[-2:]).flatten(1)
    if noise is not None:
        s = s + noise.view(1, -1)
    lo, hi = _extrema(s)
    s = _minmax(s, lo, hi)
    n_pix = s.shape[1]
    rows, cols = _nonzero(_binary(fixation))
    thresholds, n_fix = _pack_rows(rows, s[rows, cols], batch, math.inf)
    thresholds = thresholds.sort(dim=1).values
    above_asc = _count_at_least(s, thresholds)
    # The i-th largest threshold (1-based) sits at ascending index Nfix - i.
    i = torch.arange(1, thresholds.shape[1] + 1, device=s.device)
    valid = i.unsqueeze(0) <= n_fix.unsqueeze(1)
    index = (n_fix.unsqueeze(1) - i.unsqueeze(0)).clamp_(min=0)
    above = above_asc.gather(1, index).to(torch.float64)
    n_fix_f = n_fix.to(torch.float64).unsqueeze(1)
    tp = i.to(torch.float64) / n_fix_f
    fp = (above - i) / (n_pix - n_fix_f)
    # Padding repeats the end point (1, 1): zero-area segments.
    tp = torch.where(valid, tp, torch.ones_like(tp))
    fp = torch.where(valid, fp, torch.ones_like(fp))
    scores = _trapz_from_origin(fp, tp)
    scores = torch.where(lo == hi, torch.full_like(scores, 0.5), scores)
    return _nan_where(scores, (n_fix == 0) | (n_fix == n_pix))


def _trapz_from_origin(fp: Tensor, tp: Tensor) -> Tensor:
    """``trapz`` over ``(0, 0)``, the points along the last dim, ``(1, 1)``."""
    zeros = torch.zeros_like(fp[..., :1])
    ones = torch.ones_like(fp[..., :1])
    x = torch.cat([zeros, fp, ones], dim=-1)
    y = torch.cat([zeros, tp, ones], dim=-1)
    return (torch.diff(x, dim=-1) * (y[..., 1:] + y[..., :-1])).sum(-1) / 2


def _sample_seeds(seed: int | Sequence[int], batch: int) -> list[int]:
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + b for b in range(batch)]
    seeds = [int(s) for s in seed]
    if len(seeds) != batch:
        raise ValueError(f'{len(seeds)} seeds for a batch of {batch}')
    return seeds


def shuffled_auc_negatives(
    fixation: MapLike,
    other_map: MapLike,
    n_splits: int = 100,
    seed: int | Sequence[int] = 0,
) -> tuple[Tensor, Tensor]:
    """Draw the negative locations of the shuffled AUC.

    As in ``AUC_shuffled.m``, each split takes ``n = min(Nfix, K)``
    distinct locations at random among the ``K`` fixated pixels of
    ``other_map`` (MATLAB: ``ind(randperm(K))(1:n)``). The draw is a
    partial Fisher-Yates shuffle, defined so that any implementation can
    replay it:

    - the candidates ``c`` are the row-major flat indices ``h * W + w`` of
      the pixels where ``other_map > 0``, in ascending order;
    - sample ``b`` draws ``u = torch.rand(n_splits, n, dtype=torch.float64,
      generator=torch.Generator().manual_seed(seed_b))`` on the CPU;
    - split ``s`` starts from ``perm = [0, 1, ..., K - 1]`` and for
      ``j = 0, ..., n - 1`` swaps ``perm[j]`` with ``perm[r]``,
      ``r = j + floor(u[s, j] * (K - j))``; its negatives are
      ``c[perm[:n]]``.

    Args:
        fixation (Tensor | np.ndarray): Binary fixation maps ``[B, H, W]``;
            only the number of fixations per map is used.
        other_map (Tensor | np.ndarray): Binary maps ``[B, H, W]`` of the
            fixations on other frames (MIT uses the union of 10 frames).
        n_splits (int): Number of random splits. Defaults to 100.
        seed (int | Sequence[int]): One seed per sample, or an int ``s``
            that gives sample ``b`` the seed ``s + b``. Defaults to 0.

    Returns:
        tuple[Tensor, Tensor]: ``[B, n_splits, max(1, max n)]`` int64 flat
        indices (padding is 0) and the ``[B]`` counts ``n``, both on the
        device of ``fixation``.
    """
    fixation = _as_batch(fixation, 'fixation')
    other_map = _as_batch(other_map, 'other_map')
    if other_map.shape != fixation.shape:
        raise ValueError(
            f'other_map {tuple(other_map.shape)} and fixation '
            f'{tuple(fixation.shape)} must have the same shape'
        )
    batch = fixation.shape[0]
    device = fixation.device
    seeds = _sample_seeds(seed, batch)
    n_fix = torch.bincount(_nonzero(_binary(fixation))[0], minlength=batch)
    rows, cols = _nonzero(_binary(other_map.to(device)))
    candidates, n_cand = _pack_rows(rows, cols, batch, 0)
    counts = torch.minimum(n_fix, n_cand)
    counts_cpu = counts.tolist()
    width = max(max(counts_cpu, default=0), 1)
    u = torch.zeros(batch, n_splits, width, dtype=torch.float64)
    for b, n in enumerate(counts_cpu):
        if n:
            generator = torch.Generator().manual_seed(seeds[b])
            u[b, :, :n] = torch.rand(
                n_splits, n, dtype=torch.float64, generator=generator
            )
    u = u.to(device)
    k_max = candidates.shape[1]
    # The permutations hold batch * n_splits * K integers: on the CPU a few
    # samples at a time keep them in cache.
    step = batch
    if device.type == 'cpu':
        step = max(1, 4 * _CPU_CHUNK_ELEMENTS // (n_splits * k_max))
    chosen = [
        _partial_shuffle(u[i : i + step], n_cand[i : i + step], k_max)
        for i in range(0, batch, step)
    ]
    chosen = (
        torch.cat(chosen)
        if chosen
        else torch.zeros(0, n_splits, width, dtype=torch.long, device=device)
    )
    indices = candidates.gather(1, chosen.flatten(1)).view(chosen.shape)
    pad = torch.arange(width, device=device).view(1, 1, -1)
    indices.masked_fill_(pad >= counts.view(-1, 1, 1), 0)
    return indices, counts


def _partial_shuffle(u: Tensor, n_cand: Tensor, k_max: int) -> Tensor:
    """First entries of partial Fisher-Yates shuffles of ``0, ..., K - 1``.

    Args:
        u (Tensor): ``[B, S, W]`` uniform draws; sample ``b`` uses the first
            ``n_b`` of each row and has zeros after them.
        n_cand (Tensor): ``[B]`` numbers of candidates ``K >= n``.
        k_max (int): Width of the permutations, >= every ``K``.

    Returns:
        Tensor: ``[B, S, W]`` int64 positions, meaningful for the first
        ``n_b`` entries of each row.
    """
    batch, n_splits, width = u.shape
    device = u.device
    j = torch.arange(width, device=device)
    # Every swap target at once, since none depends on the permutation.
    # Past n_b, u is 0 and the target is j itself: a no-op swap.
    target = j + _to(u * (n_cand.view(-1, 1, 1) - j), torch.long)
    target = torch.maximum(target, j).clamp_(max=k_max - 1)
    perm = torch.arange(k_max, dtype=torch.int32, device=device)
    perm = perm.repeat(batch, n_splits, 1)
    for step in range(width):
        to = target[:, :, step : step + 1]
        here = perm[:, :, step : step + 1].clone()
        perm[:, :, step : step + 1] = perm.gather(2, to)
        perm.scatter_(2, to, here)
    return perm[:, :, :width].long()


def _split_thresholds(step_size: float, device: torch.device) -> Tensor:
    """Thresholds ``k * step_size``, ``k = 0, 1, ...``, up to 1."""
    if step_size <= 0:
        raise ValueError(f'step_size must be > 0, got {step_size}')
    k_max = math.floor(1.0 / step_size)
    while k_max * step_size > 1.0:
        k_max -= 1
    while (k_max + 1) * step_size <= 1.0:
        k_max += 1
    k = torch.arange(k_max + 1, dtype=torch.float64, device=device)
    return k * step_size


def _rate_above(values: Tensor, thresholds: Tensor, n: Tensor) -> Tensor:
    """``sum(values >= t) / n`` for each threshold, along the last dim.

    Padding must be negative, below every threshold.
    """
    n_thr = thresholds.numel()
    # How many thresholds each value reaches.
    passed = torch.bucketize(values, thresholds, right=True)
    hist = torch.zeros(
        *values.shape[:-1], n_thr + 1, dtype=torch.long, device=values.device
    )
    hist.scatter_add_(-1, passed, torch.ones_like(passed))
    # values >= thresholds[k] <=> passed > k
    at_least = hist.flip(-1).cumsum(-1).flip(-1)[..., 1:]
    return at_least.to(torch.float64) / n.to(torch.float64)


def auc_shuffled(
    pred: MapLike,
    fixation: MapLike,
    other_map: MapLike | None,
    n_splits: int = 100,
    step_size: float = 0.1,
    seed: int | Sequence[int] = 0,
    negatives: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Shuffled AUC (MIT ``AUC_shuffled.m``).

    The prediction is resized to the fixation map and min-max normalised.
    Positives are its values at the fixated pixels; each of ``n_splits``
    splits draws as many negatives (at most) from the fixations of other
    frames (``shuffled_auc_negatives``). Per split, the ROC curve is swept
    at thresholds ``k * step_size`` from high to low, between ``(0, 0)``
    and ``(1, 1)``, and integrated by the trapezoidal rule; the score is
    the mean over splits. MATLAB stops the sweep at the split's largest
    value; thresholds above it only add points at ``(0, 0)``, so sweeping
    every ``k * step_size <= 1`` gives the same area.

    Args:
        pred (Tensor | np.ndarray): Predicted maps ``[B, h, w]``.
        fixation (Tensor | np.ndarray): Binary fixation maps ``[B, H, W]``.
        other_map (Tensor | np.ndarray, optional): Binary maps
            ``[B, H, W]`` of the fixations on other frames, built by the
            caller (MIT: the union of 10 other frames). Unused, and may be
            None, when ``negatives`` is given.
        n_splits (int): Number of random splits. Defaults to 100.
        step_size (float): Threshold step. Defaults to 0.1.
        seed (int | Sequence[int]): Seeds of the negative draw, see
            ``shuffled_auc_negatives``. Defaults to 0.
        negatives (tuple[Tensor, Tensor], optional): A draw returned by
            ``shuffled_auc_negatives``, used instead of drawing one.

    Returns:
        Tensor: ``[B]`` scores in ``[0, 1]``; 0.5 for a constant prediction,
        NaN where there is no fixation or ``other_map`` is empty.
    """
    pred, fixation = _check_pair(pred, fixation)
    if negatives is None:
        if other_map is None:
            raise ValueError('auc_shuffled needs other_map or negatives')
        negatives = shuffled_auc_negatives(fixation, other_map, n_splits, seed)
    indices, n_neg = (t.to(pred.device) for t in negatives)
    thresholds = _split_thresholds(step_size, pred.device)

    def core(pred: Tensor, fixation: Tensor, indices: Tensor, n_neg: Tensor):
        return _auc_shuffled(pred, fixation, indices, n_neg, thresholds)

    return _map_chunks(core, pred, fixation, indices, n_neg)


def _auc_shuffled(
    pred: Tensor,
    fixation: Tensor,
    indices: Tensor,
    n_neg: Tensor,
    thresholds: Tensor,
) -> Tensor:
    batch = fixation.shape[0]
    s = _pred_at(pred, fixation.shape[-2:]).flatten(1)
    lo, hi = _extrema(s)
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    rows, cols = _nonzero(_binary(fixation))
    # Only the sampled values need normalising, with the same arithmetic
    # as the whole map, element by element.
    pos = (s[rows, cols] - lo[rows]) / span[rows]
    pos, n_fix = _pack_rows(rows, pos, batch, -1.0)
    neg = s.gather(1, indices.flatten(1)).view(indices.shape)
    neg = (neg - lo.view(-1, 1, 1)) / span.view(-1, 1, 1)
    pad = torch.arange(indices.shape[2], device=s.device).view(1, 1, -1)
    neg.masked_fill_(pad >= n_neg.view(-1, 1, 1), -1.0)
    tp = _rate_above(pos, thresholds, n_fix.unsqueeze(1))
    fp = _rate_above(neg, thresholds, n_neg.view(-1, 1, 1))
    # Sweep from the highest threshold down.
    tp = tp.flip(-1).unsqueeze(1).expand_as(fp)
    scores = _trapz_from_origin(fp.flip(-1), tp).mean(1)
    return _nan_where(scores, (n_fix == 0) | (n_neg == 0))
