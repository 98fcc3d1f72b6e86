"""Video saliency evaluation as an mmengine metric."""

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from torch import Tensor

from bikd_mm.registry import METRICS

from .functional import (
    auc_judd,
    auc_shuffled,
    cc,
    gaussian_blur,
    kld,
    nss,
    resize_maps,
    sim,
)

#: Metric names, in reporting order, with the ground truth each one needs.
METRIC_INPUTS = {
    'CC': 'gt_saliency',
    'KLD': 'gt_saliency',
    'KLD_CC': 'gt_saliency',
    'SIM': 'gt_saliency',
    'NSS': 'gt_fixation',
    'AUC_J': 'gt_fixation',
    'sAUC': 'gt_fixation',
}
#: The MIT benchmark's metrics, the default set.
BENCHMARK_METRICS = ('CC', 'KLD', 'SIM', 'NSS', 'AUC_J', 'sAUC')


@METRICS.register_module()
class SaliencyMetric(BaseMetric):
    """Video saliency metrics of the MIT saliency benchmark.

    Computes CC, KLD, SIM, NSS, AUC-Judd (``AUC_J``) and shuffled AUC
    (``sAUC``) per frame with the functions of
    ``bikd_mm.evaluation.saliency.functional``, and on request ``KLD_CC``
    (KLD - CC, the training loss, by which the Bi-KD reference keeps each
    member's best checkpoint: lower is better), and reports two averages
    of each:

    - ``'<name>'``: the mean over all frames of the set, pooled across
      videos (the DHF1K / ACLNet convention);
    - ``'<name>_per_video'``: the mean over videos of the per-video means.

    Frames whose score is NaN (nothing to predict: an all-zero ground-truth
    map, no fixation, or no ``other_fixation`` for sAUC) are left out of
    both averages, and a video with no valid frame is left out of the
    per-video one; an average over nothing is NaN. With ``prefix``, every
    key becomes ``'<prefix>/<key>'``, e.g. ``'member/CC'``.

    ``process`` reads these keys from each data sample, a dict or a data
    element with ``get``:

    - ``pred_saliency`` (Tensor): predicted map, ``[H, W]`` or
      ``[1, H, W]``.
    - ``gt_saliency`` (Tensor | np.ndarray): continuous ground-truth map
      ``[H, W]``; needed by CC, KLD and SIM.
    - ``gt_fixation`` (Tensor | np.ndarray): binary fixation map
      ``[H, W]``, fixated where > 0; needed by NSS, AUC_J and sAUC.
    - ``other_fixation`` (Tensor | np.ndarray, optional): binary map of the
      fixations of other frames (the union over 10 other frames, in the MIT
      protocol) at the size of ``gt_fixation``, for sAUC.
    - ``video`` (str): id of the video the frame belongs to.

    Reference post-processing of the prediction, in this order: resizing to
    the ground-truth size (``resize_pred``) and a Gaussian blur
    (``blur_sigma``). Without ``resize_pred``, the blur runs at the
    prediction's own size and the metric functions resize the result.

    Random draws are seeded per frame: the sAUC negatives of the ``k``-th
    frame processed since the last ``evaluate`` use the seed ``seed + k``,
    and the AUC-Judd jitter uses ``seed``, so the scores do not depend on
    how the frames are batched.

    Args:
        metrics (Sequence[str]): Metrics to report, among ``'CC'``,
            ``'KLD'``, ``'KLD_CC'``, ``'SIM'``, ``'NSS'``, ``'AUC_J'`` and
            ``'sAUC'``. Defaults to the six benchmark metrics.
        resize_pred (bool): Resize the prediction to the ground-truth size
            before post-processing. Defaults to True.
        blur_sigma (float, optional): Standard deviation, in pixels, of a
            Gaussian blur of the prediction; None for no blur. Defaults to
            None.
        blur_kernel_size (int): Size of the blur kernel. Defaults to 11.
        judd_jitter (bool): Jitter the prediction in AUC-Judd, as MIT does
            by default. Defaults to True.
        sauc_splits (int): Random splits of sAUC. Defaults to 100.
        sauc_step (float): Threshold step of sAUC. Defaults to 0.1.
        seed (int): Base seed of the random draws. Defaults to 0.
        collect_device (str): Device used to gather results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the reported keys. Defaults to
            None.
        collect_dir (str, optional): Directory used to gather results
            across ranks when ``collect_device`` is ``'cpu'``. Defaults to
            None.
    """

    def __init__(
        self,
        metrics: Sequence[str] = BENCHMARK_METRICS,
        resize_pred: bool = True,
        blur_sigma: float | None = None,
        blur_kernel_size: int = 11,
        judd_jitter: bool = True,
        sauc_splits: int = 100,
        sauc_step: float = 0.1,
        seed: int = 0,
        collect_device: str = 'cpu',
        prefix: str | None = None,
        collect_dir: str | None = None,
    ) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir,
        )
        if isinstance(metrics, str):
            metrics = [metrics]
        unknown = [m for m in metrics if m not in METRIC_INPUTS]
        if unknown or not metrics:
            raise ValueError(
                f'unknown saliency metrics {unknown}; choose among '
                f'{list(METRIC_INPUTS)}'
            )
        if blur_sigma is not None and blur_sigma <= 0:
            raise ValueError(f'blur_sigma must be > 0, got {blur_sigma}')
        self.metrics = [m for m in METRIC_INPUTS if m in metrics]
        self.resize_pred = resize_pred
        self.blur_sigma = blur_sigma
        self.blur_kernel_size = blur_kernel_size
        self.judd_jitter = judd_jitter
        self.sauc_splits = sauc_splits
        self.sauc_step = sauc_step
        self.seed = seed
        self._frames_seen = 0
        self._warned_no_other = False

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Score each frame of a batch and store its scores.

        Frames whose maps share a size are scored together.

        Args:
            data_batch (Any): A batch from the dataloader (unused).
            data_samples (Sequence[Any]): The model's outputs, each a dict
                or a data element with the keys of the class docstring.
        """
        frames = []
        for sample in data_samples:
            frames.append(self._read_sample(sample))
        groups = defaultdict(list)
        for index, frame in enumerate(frames):
            key = tuple(
                (name, tuple(value.shape), value.device)
                for name, value in frame.items()
                if isinstance(value, Tensor)
            )
            groups[key].append(index)
        scores: list[dict] = [{} for _ in frames]
        for indices in groups.values():
            group = [frames[i] for i in indices]
            for name, values in self._score_group(group).items():
                for i, value in zip(indices, values):
                    scores[i][name] = value
        for frame, frame_scores in zip(frames, scores):
            self.results.append(dict(video=frame['video'], **frame_scores))

    def _read_sample(self, sample: Any) -> dict:
        """Read one sample's maps, video id and random seed."""
        pred = _unwrap(sample.get('pred_saliency'))
        if pred is None:
            raise KeyError('data sample has no pred_saliency')
        pred = torch.as_tensor(pred)
        if pred.dim() == 3 and pred.shape[0] == 1:
            pred = pred[0]
        if pred.dim() != 2:
            raise ValueError(
                f'pred_saliency must be [H, W] or [1, H, W], got '
                f'{tuple(pred.shape)}'
            )
        video = sample.get('video')
        if video is None:
            raise KeyError('data sample has no video')
        frame = dict(video=str(video), seed=self.seed + self._frames_seen)
        self._frames_seen += 1
        needed = {METRIC_INPUTS[m] for m in self.metrics}
        if 'sAUC' in self.metrics:
            needed.add('other_fixation')
        for key in sorted(needed):
            value = _unwrap(sample.get(key))
            if value is None:
                if key == 'other_fixation':
                    self._warn_no_other()
                    continue
                raise KeyError(f'data sample has no {key}')
            value = torch.as_tensor(value).to(pred.device)
            if value.dim() == 3 and value.shape[0] == 1:
                value = value[0]
            frame[key] = value
        gt = frame.get('gt_fixation', frame.get('gt_saliency'))
        # float64 like the metrics, so that resizing here or inside them
        # gives the same map.
        pred = pred.to(torch.float64)
        if self.resize_pred:
            pred = resize_maps(pred[None], tuple(gt.shape[-2:]))[0]
        if self.blur_sigma is not None:
            pred = gaussian_blur(
                pred[None], self.blur_sigma, self.blur_kernel_size
            )[0]
        frame['pred_saliency'] = pred
        return frame

    def _warn_no_other(self) -> None:
        if not self._warned_no_other:
            print_log(
                'SaliencyMetric: data sample has no other_fixation, its '
                'sAUC is NaN and left out of the averages.',
                logger='current',
                level=logging.WARNING,
            )
            self._warned_no_other = True

    def _score_group(self, group: list[dict]) -> dict[str, list[float]]:
        """Score frames whose maps have the same sizes, as one batch."""

        maps = {
            key: torch.stack([frame[key] for frame in group])
            for key, value in group[0].items()
            if isinstance(value, Tensor)
        }
        pred = maps['pred_saliency']
        functions: dict[str, Callable[[], Tensor]] = {
            'CC': lambda: cc(pred, maps['gt_saliency']),
            'KLD': lambda: kld(pred, maps['gt_saliency']),
            'KLD_CC': lambda: (
                kld(pred, maps['gt_saliency']) - cc(pred, maps['gt_saliency'])
            ),
            'SIM': lambda: sim(pred, maps['gt_saliency']),
            'NSS': lambda: nss(pred, maps['gt_fixation']),
            'AUC_J': lambda: auc_judd(
                pred,
                maps['gt_fixation'],
                jitter=self.judd_jitter,
                seed=self.seed,
            ),
            'sAUC': lambda: auc_shuffled(
                pred,
                maps['gt_fixation'],
                maps['other_fixation'],
                n_splits=self.sauc_splits,
                step_size=self.sauc_step,
                seed=[frame['seed'] for frame in group],
            ),
        }
        scores = {}
        for name in self.metrics:
            if name == 'sAUC' and 'other_fixation' not in group[0]:
                scores[name] = [math.nan] * len(group)
            else:
                scores[name] = functions[name]().tolist()
        return scores

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Average the per-frame scores.

        Args:
            results (list): Per-frame dicts with ``'video'`` and one score
                per metric.

        Returns:
            dict[str, float]: ``'<name>'`` (pooled over frames) and
            ``'<name>_per_video'`` (mean of per-video means) per metric.
        """
        metrics = {}
        for name in self.metrics:
            by_video = defaultdict(list)
            for result in results:
                by_video[result['video']].append(result[name])
            frames = [s for r in results if not math.isnan(s := r[name])]
            videos = [_nanmean(scores) for scores in by_video.values()]
            metrics[name] = _nanmean(frames)
            metrics[f'{name}_per_video'] = _nanmean(videos)
        return metrics

    def evaluate(self, size: int) -> dict:
        """Average the processed frames and start a new round of seeds.

        Args:
            size (int): Length of the whole validation set.

        Returns:
            dict: The averages of ``compute_metrics``, with the prefix.
        """
        metrics = super().evaluate(size)
        self._frames_seen = 0
        return metrics


def _unwrap(value: Any) -> Any:
    """The tensor inside a data element (``PixelData``) or the value."""
    if value is not None and not isinstance(value, (Tensor, np.ndarray)):
        data = getattr(value, 'data', None)
        if isinstance(data, (Tensor, np.ndarray)):
            return data
    return value


def _nanmean(values: Sequence[float]) -> float:
    valid = [v for v in values if not math.isnan(v)]
    return float(sum(valid) / len(valid)) if valid else math.nan
