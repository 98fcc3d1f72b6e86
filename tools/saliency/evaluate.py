"""Score a folder of predicted saliency maps against a dataset split.

Predictions are looked up as ``<pred_dir>/<video>/<name>.<png|jpg|jpeg>``,
where ``<name>`` is the file stem of the frame (or, failing that, of its
ground-truth map), e.g. ``0601/0001.png`` for DHF1K. A missing prediction
is an error. Every labelled frame of the split is scored by
:class:`bikd_mm.evaluation.saliency.SaliencyMetric` at the resolution of
its ground-truth map (predictions of another size are resized): CC, KLD,
SIM, NSS, AUC-Judd (``AUC_J``) and shuffled AUC (``sAUC``). The negatives
of the shuffled AUC are the fixations of ``--sauc-frames`` random frames
of other videos (other frames of the same video if the split has one
video).

Frames where a metric is undefined (e.g. no fixation: NSS and the AUCs are
NaN) are left out of that metric's averages; their count is reported.
Two averages are given: over all frames, and over videos (the mean of the
per-video means). The table goes to stdout, progress bars to stderr and
the JSON (NaN written as null) to ``--out``.

Usage::

    python tools/saliency/evaluate.py PRED_DIR DATA_ROOT \\
        --dataset DHF1KDataset --split val [--out results.json]
"""

import argparse
import json
import math
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import DictAction
from tqdm import tqdm

from bikd_mm.datasets import saliency as saliency_datasets
from bikd_mm.datasets.saliency import (
    BaseVideoSaliencyDataset,
    read_fixation_map,
    read_saliency_map,
    rescale_fixations,
)
from bikd_mm.evaluation.saliency import SaliencyMetric

PRED_EXTENSIONS = ('.png', '.jpg', '.jpeg')


def dataset_classes() -> dict:
    """The video saliency dataset classes, by class name."""
    return {
        name: cls
        for name, cls in vars(saliency_datasets).items()
        if isinstance(cls, type)
        and issubclass(cls, BaseVideoSaliencyDataset)
        and cls is not BaseVideoSaliencyDataset
    }


def build_dataset(name: str, data_root: str, split: str, options: dict):
    """One sample per frame: a sliding window of a single frame."""
    classes = dataset_classes()
    if name not in classes:
        raise ValueError(
            f'Unknown dataset {name!r}; choose from {sorted(classes)}'
        )
    kwargs = dict(
        data_root=data_root,
        split=split,
        clip_len=1,
        sampling='sliding',
        serialize_data=False,
    )
    kwargs.update(options)
    return classes[name](**kwargs)


def find_prediction(pred_dir: str, info: dict) -> str:
    """Path of the prediction of a sample; raise naming what was tried."""
    stems = [info['frame_name']]
    map_stem = osp.splitext(osp.basename(info['map_path']))[0]
    if map_stem not in stems:
        stems.append(map_stem)
    tried = []
    for stem in stems:
        for ext in PRED_EXTENSIONS:
            path = osp.join(pred_dir, info['video'], stem + ext)
            if osp.isfile(path):
                return path
            tried.append(path)
    raise FileNotFoundError(
        f'No prediction for video {info["video"]} frame '
        f'{info["frame_name"]}: tried {", ".join(tried)}'
    )


def fixation_points(fix: np.ndarray) -> tuple:
    """Sparse form of a binary map: ``(ys, xs, shape)``.

    A split's fixation maps are kept for the shuffled-AUC negatives of
    other frames; dense maps of a whole DHF1K split would not fit in
    memory, their fixations easily do.
    """
    ys, xs = np.nonzero(fix)
    return ys.astype(np.int32), xs.astype(np.int32), fix.shape


def rasterize(points: tuple, shape: tuple | None = None) -> np.ndarray:
    """Binary ``float32`` map of ``fixation_points``, at ``shape``."""
    ys, xs, own = points
    fix = np.zeros(own, dtype=np.float32)
    fix[ys, xs] = 1.0
    if shape is None or tuple(shape) == tuple(own):
        return fix
    return rescale_fixations(fix, shape)


def shuffled_negatives(
    frame: int,
    owners: np.ndarray,
    fixations: list,
    shape: tuple,
    num_frames: int,
    seed: int,
) -> np.ndarray:
    """Union of the fixations of random frames of other videos.

    Args:
        frame (int): Index of the scored frame among the labelled frames.
        owners (np.ndarray): Video index of every labelled frame.
        fixations (list): ``fixation_points`` of every labelled frame.
        shape (tuple): ``(H, W)`` of the scored frame's ground truth.
        num_frames (int): Frames to draw.
        seed (int): Seed; the draw depends only on it and ``frame``.

    Returns:
        np.ndarray: ``float32`` binary map of shape ``shape``.
    """
    candidates = np.flatnonzero(owners != owners[frame])
    if len(candidates) == 0:
        candidates = np.flatnonzero(np.arange(len(owners)) != frame)
    other = np.zeros(shape, dtype=np.float32)
    if len(candidates) == 0:
        return other
    rng = np.random.default_rng([seed, frame])
    picks = rng.choice(
        candidates, size=min(num_frames, len(candidates)), replace=False
    )
    for pick in picks:
        np.maximum(other, rasterize(fixations[pick], shape), out=other)
    return other


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).all():
        return math.nan
    return float(np.nanmean(values))


def evaluate(
    pred_dir: str,
    dataset,
    sauc_frames: int = 10,
    seed: int = 0,
    blur_sigma: float | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> dict:
    """Score every labelled frame of ``dataset`` with ``SaliencyMetric``.

    Args:
        pred_dir (str): Folder of predictions.
        dataset (BaseVideoSaliencyDataset): One sample per frame.
        sauc_frames (int): Frames whose fixations form the shuffled-AUC
            negatives of a frame.
        seed (int): Seed of the random draws (shuffled-AUC negatives,
            AUC-Judd jitter).
        blur_sigma (float, optional): Gaussian blur of the predictions, in
            pixels, before scoring.
        batch_size (int): Frames scored together.
        progress (bool): Show progress bars.

    Returns:
        dict: Averages over frames (``metrics``) and over videos
        (``video_metrics``), NaN counts, per-video means and sizes.
    """
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    infos = [info for info in infos if info['map_path'] is not None]
    if not infos:
        raise ValueError(
            f'Split {dataset.split!r} of {dataset.data_root} has no '
            'ground-truth maps to evaluate against'
        )
    if any(info['fixation_path'] is None for info in infos):
        raise ValueError('Every labelled frame needs a fixation map')
    videos = sorted({info['video'] for info in infos})
    video_index = {video: k for k, video in enumerate(videos)}
    owners = np.array([video_index[info['video']] for info in infos])
    # Fixation maps are needed again as other frames' sAUC negatives.
    fixations = [
        fixation_points(
            read_fixation_map(info['fixation_path'], info['fixation_key'])
        )
        for info in tqdm(infos, desc='Reading fixations', disable=not progress)
    ]
    metric = SaliencyMetric(seed=seed, blur_sigma=blur_sigma)
    batch = []
    for k, info in enumerate(
        tqdm(infos, desc='Evaluating', disable=not progress)
    ):
        pred = read_saliency_map(find_prediction(pred_dir, info))
        sal = read_saliency_map(info['map_path'])
        fix = rasterize(fixations[k], sal.shape)
        other = shuffled_negatives(
            k, owners, fixations, sal.shape, sauc_frames, seed
        )
        batch.append(
            dict(
                pred_saliency=torch.from_numpy(pred),
                gt_saliency=torch.from_numpy(sal),
                gt_fixation=torch.from_numpy(fix),
                other_fixation=torch.from_numpy(other),
                video=info['video'],
            )
        )
        if len(batch) == batch_size or k == len(infos) - 1:
            metric.process(None, batch)
            batch = []
    frames = list(metric.results)
    averages = metric.compute_metrics(frames)
    names = metric.metrics
    per_video = {}
    for video in videos:
        rows = [r for r in frames if r['video'] == video]
        per_video[video] = {
            name: _nanmean([r[name] for r in rows]) for name in names
        }
        per_video[video]['num_frames'] = len(rows)
    return dict(
        num_videos=len(videos),
        num_frames=len(infos),
        metrics={name: averages[name] for name in names},
        video_metrics={name: averages[f'{name}_per_video'] for name in names},
        nan_frames={
            name: sum(math.isnan(r[name]) for r in frames) for name in names
        },
        per_video=per_video,
    )


def _fmt(value: float) -> str:
    # A KLD of -1e-13 should not print as -0.0000.
    return f'{value + 0.0:.4f}'.replace('-0.0000', '0.0000')


def format_table(results: dict) -> str:
    """Plain-text table of the averages."""
    rows = [('Metric', 'frames', 'videos', 'NaN frames')]
    for name in results['metrics']:
        rows.append(
            (
                name,
                _fmt(results['metrics'][name]),
                _fmt(results['video_metrics'][name]),
                str(results['nan_frames'][name]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        '  '.join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)


def _json_safe(value):
    """NaN is not valid JSON: write it as null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score predicted saliency maps (CC, KLD, SIM, NSS, '
        'AUC-Judd, shuffled AUC).'
    )
    parser.add_argument('pred_dir', help='folder of <video>/<frame>.png')
    parser.add_argument('data_root', help='dataset root folder')
    parser.add_argument(
        '--dataset',
        default='DHF1KDataset',
        help='dataset class, e.g. DHF1KDataset, Hollywood2Dataset, '
        'UCFSportsDataset, DIEMDataset (default: %(default)s)',
    )
    parser.add_argument(
        '--split', default='val', help='split (default: %(default)s)'
    )
    parser.add_argument(
        '--dataset-options',
        nargs='+',
        action=DictAction,
        default={},
        help='extra dataset arguments, e.g. fixation_format=mat',
    )
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument(
        '--sauc-frames',
        type=int,
        default=10,
        help='frames whose fixations are the shuffled-AUC negatives '
        '(default: %(default)s)',
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--blur-sigma',
        type=float,
        help='blur the predictions with this Gaussian sigma (pixels)',
    )
    parser.add_argument(
        '--batch-size',
        type=int,
        default=16,
        help='frames scored together (default: %(default)s)',
    )
    parser.add_argument(
        '--no-progress', action='store_true', help='hide progress bars'
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isdir(args.pred_dir):
        raise FileNotFoundError(
            f'Prediction folder not found: {args.pred_dir}'
        )
    dataset = build_dataset(
        args.dataset, args.data_root, args.split, args.dataset_options
    )
    results = evaluate(
        args.pred_dir,
        dataset,
        sauc_frames=args.sauc_frames,
        seed=args.seed,
        blur_sigma=args.blur_sigma,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    results = dict(
        dataset=args.dataset,
        data_root=args.data_root,
        split=args.split,
        pred_dir=args.pred_dir,
        **results,
    )
    print(
        f'{args.dataset} {args.split}: {results["num_frames"]} frames, '
        f'{results["num_videos"]} videos'
    )
    print(format_table(results))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(_json_safe(results), f, indent=2)
            f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
