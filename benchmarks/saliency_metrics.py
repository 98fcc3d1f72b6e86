"""Benchmark the batched saliency metrics against a NumPy frame loop.

Scores ``--frames`` synthetic frames (default 100 at 360x640) with the six
metrics of ``bikd_mm.evaluation.saliency`` in one batched call each, and
with the frame-by-frame NumPy transcription of ``saliency_numpy.py``;
prints a table (metric, ours ms, numpy ms, ratio, max abs diff) and writes
it as JSON (``--out``) and optionally as Markdown (``--md``).

Both sides get the same inputs: float32 predictions and ground-truth maps,
binary fixation maps, and for sAUC the union of the fixations of the next
10 frames. The AUC-Judd jitter map and the sAUC negatives (100 splits) are
drawn by ``bikd_mm`` and handed to NumPy, so the NumPy times leave out
these draws while ours include them. Times are the best of ``--repeats``
runs after one warm-up run of ours.

Example::

    python benchmarks/saliency_metrics.py --frames 20 --repeats 2
"""

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import saliency_numpy as ref  # noqa: E402

from bikd_mm.evaluation.saliency import (  # noqa: E402
    auc_judd,
    auc_shuffled,
    cc,
    judd_jitter,
    kld,
    nss,
    shuffled_auc_negatives,
    sim,
)

METRICS = ('CC', 'KLD', 'SIM', 'NSS', 'AUC_J', 'sAUC')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=100)
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument(
        '--fixations', type=int, default=60, help='mean fixations per frame'
    )
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--threads', type=int, default=None, help='torch CPU threads'
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--out',
        default=str(REPO / 'benchmarks/results/saliency_metrics_cpu.json'),
    )
    parser.add_argument('--md', default=None, help='also write a table here')
    return parser.parse_args()


def _blobs(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """Sums of a few separable Gaussian blobs plus a little noise."""
    maps = np.zeros((n, h, w), dtype=np.float32)
    y = np.arange(h, dtype=np.float32)
    x = np.arange(w, dtype=np.float32)
    for b in range(n):
        for _ in range(4):
            sigma = rng.uniform(0.04, 0.12) * h
            gy = np.exp(-((y - rng.uniform(0, h)) ** 2) / (2 * sigma**2))
            gx = np.exp(-((x - rng.uniform(0, w)) ** 2) / (2 * sigma**2))
            maps[b] += rng.uniform(0.3, 1.0) * np.outer(gy, gx)
    maps += 0.02 * rng.random((n, h, w), dtype=np.float32)
    return maps


def make_data(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    n, h, w = args.frames, args.height, args.width
    pred = _blobs(rng, n, h, w)
    gt = _blobs(rng, n, h, w)
    fix = np.zeros((n, h, w), dtype=bool)
    for b in range(n):
        # Fixations follow the ground-truth density.
        density = gt[b].ravel().astype(np.float64)
        count = max(1, rng.poisson(args.fixations))
        where = rng.choice(h * w, size=count, p=density / density.sum())
        fix[b].ravel()[where] = True
    other = np.zeros_like(fix)
    for b in range(n):
        for k in range(1, 11):
            other[b] |= fix[(b + k) % n]
    return dict(pred=pred, gt=gt, fix=fix, other=other)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _best_time(fn, repeats: int, device: torch.device | None = None):
    best, out = math.inf, None
    for _ in range(repeats):
        if device is not None:
            _sync(device)
        start = time.perf_counter()
        out = fn()
        if device is not None:
            _sync(device)
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = make_data(args)
    t = {k: torch.as_tensor(v).to(device) for k, v in data.items()}
    noise = judd_jitter((args.height, args.width), args.seed).numpy()
    indices, counts = shuffled_auc_negatives(
        t['fix'], t['other'], 100, args.seed
    )
    negatives = [
        indices[b, :, : counts[b]].cpu().numpy() for b in range(args.frames)
    ]

    ours = {
        'CC': lambda: cc(t['pred'], t['gt']),
        'KLD': lambda: kld(t['pred'], t['gt']),
        'SIM': lambda: sim(t['pred'], t['gt']),
        'NSS': lambda: nss(t['pred'], t['fix']),
        'AUC_J': lambda: auc_judd(t['pred'], t['fix'], seed=args.seed),
        'sAUC': lambda: auc_shuffled(
            t['pred'], t['fix'], t['other'], seed=args.seed
        ),
    }
    frames = range(args.frames)
    p, g, f = data['pred'], data['gt'], data['fix']
    numpy = {
        'CC': lambda: [ref.cc(p[b], g[b]) for b in frames],
        'KLD': lambda: [ref.kld(p[b], g[b]) for b in frames],
        'SIM': lambda: [ref.sim(p[b], g[b]) for b in frames],
        'NSS': lambda: [ref.nss(p[b], f[b]) for b in frames],
        'AUC_J': lambda: [ref.auc_judd(p[b], f[b], noise) for b in frames],
        'sAUC': lambda: [
            ref.auc_shuffled(p[b], f[b], negatives[b]) for b in frames
        ],
    }

    rows = []
    for name in METRICS:
        ours[name]()  # warm-up
        t_ours, scores = _best_time(ours[name], args.repeats, device)
        t_np, expected = _best_time(numpy[name], args.repeats)
        diff = np.nanmax(np.abs(scores.cpu().numpy() - np.array(expected)))
        rows.append(
            dict(
                metric=name,
                ours_ms=1e3 * t_ours,
                numpy_ms=1e3 * t_np,
                ratio=t_np / t_ours,
                max_abs_diff=float(diff),
                mean_score=float(np.nanmean(expected)),
            )
        )
    total_ours = sum(r['ours_ms'] for r in rows)
    total_np = sum(r['numpy_ms'] for r in rows)
    rows.append(
        dict(
            metric='all six',
            ours_ms=total_ours,
            numpy_ms=total_np,
            ratio=total_np / total_ours,
            max_abs_diff=max(r['max_abs_diff'] for r in rows),
            mean_score=math.nan,
        )
    )

    config = dict(
        frames=args.frames,
        height=args.height,
        width=args.width,
        mean_fixations=args.fixations,
        mean_other_fixations=float(data['other'].sum((1, 2)).mean()),
        device=str(device),
        device_name=(
            torch.cuda.get_device_name(device)
            if device.type == 'cuda'
            else platform.processor() or platform.machine()
        ),
        torch_threads=torch.get_num_threads(),
        repeats=args.repeats,
        torch=torch.__version__,
        numpy=np.__version__,
        command=shlex.join([_python(), *sys.argv]),
    )
    table = _table(rows, config)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(config=config, results=rows), indent=2))
    if args.md:
        md = Path(args.md)
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(f'```\n{config["command"]}\n```\n\n{table}\n')


def _python() -> str:
    """The interpreter as typed: relative when under the working dir."""
    relative = os.path.relpath(sys.executable)
    return relative if not relative.startswith('..') else 'python'


def _table(rows: list[dict], config: dict) -> str:
    lines = [
        f'{config["frames"]} frames of {config["height"]}x{config["width"]} '
        f'on {config["device"]} ({config["device_name"]}), '
        f'{config["torch_threads"]} torch threads, '
        f'best of {config["repeats"]}; about {config["mean_fixations"]} '
        f'fixations per frame, {config["mean_other_fixations"]:.0f} '
        'other-frame fixations for sAUC, 100 sAUC splits.',
        '',
        '| metric | ours ms | numpy ms | ratio | max abs diff |',
        '| --- | ---: | ---: | ---: | ---: |',
    ]
    for r in rows:
        lines.append(
            f'| {r["metric"]} | {r["ours_ms"]:.1f} | {r["numpy_ms"]:.1f} | '
            f'{r["ratio"]:.1f}x | {r["max_abs_diff"]:.1e} |'
        )
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
