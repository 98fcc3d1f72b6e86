"""SaliencyMetric end to end on fake frames of two videos."""

import math

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement, PixelData

from bikd_mm.evaluation import SaliencyMetric
from bikd_mm.evaluation.saliency import (
    auc_judd,
    auc_shuffled,
    cc,
    gaussian_blur,
    kld,
    nss,
    resize_maps,
    sim,
)
from bikd_mm.registry import METRICS

H, W = 20, 28
NAMES = ('CC', 'KLD', 'SIM', 'NSS', 'AUC_J', 'sAUC')


def _frames():
    """Three frames of video 'a' (the last without fixations, so NaN for
    NSS and the AUCs) and three of video 'b', one with a smaller
    prediction."""
    rng = np.random.default_rng(0)
    frames = []
    for i, video in enumerate(['a', 'a', 'a', 'b', 'b', 'b']):
        size = (10, 14) if i == 4 else (H, W)
        fixation = torch.as_tensor(rng.random((H, W)) < 0.05)
        if i == 2:
            fixation[:] = False
        frames.append(
            dict(
                pred_saliency=torch.rand(1, *size, dtype=torch.float32),
                gt_saliency=torch.as_tensor(rng.random((H, W))),
                gt_fixation=fixation,
                other_fixation=torch.as_tensor(rng.random((H, W)) < 0.1),
                video=video,
            )
        )
    return frames


def _expected_per_frame(frames, blur_sigma=None):
    """Each frame scored alone with the metric functions."""
    scores = []
    for k, f in enumerate(frames):
        pred = resize_maps(f['pred_saliency'].double(), (H, W))
        if blur_sigma is not None:
            pred = gaussian_blur(pred, blur_sigma)
        gt = f['gt_saliency'][None]
        fix = f['gt_fixation'][None]
        other = f['other_fixation'][None]
        scores.append(
            dict(
                CC=cc(pred, gt).item(),
                KLD=kld(pred, gt).item(),
                SIM=sim(pred, gt).item(),
                NSS=nss(pred, fix).item(),
                AUC_J=auc_judd(pred, fix, seed=0).item(),
                # The k-th frame seen gets the seed 0 + k.
                sAUC=auc_shuffled(pred, fix, other, seed=k).item(),
            )
        )
    return scores


def _mean(values):
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values)


@pytest.mark.parametrize(
    'blur_sigma, resize_pred', [(None, True), (1.5, True), (None, False)]
)
def test_pooled_and_per_video_averages(blur_sigma, resize_pred):
    frames = _frames()
    metric = METRICS.build(
        dict(
            # Scoped: other tests may leave another default scope set.
            type='bikd_mm.SaliencyMetric',
            prefix='member',
            blur_sigma=blur_sigma,
            resize_pred=resize_pred,
        )
    )
    # Batches of two frames, split further by map size; without resizing,
    # the metric functions resize the smaller prediction themselves.
    for start in (0, 2, 4):
        metric.process(None, frames[start : start + 2])
    results = metric.evaluate(len(frames))

    per_frame = _expected_per_frame(frames, blur_sigma)
    assert math.isnan(per_frame[2]['NSS'])
    for name in NAMES:
        values = [s[name] for s in per_frame]
        pooled = _mean(values)
        # video a: frames 0-2, video b: frames 3-5
        per_video = (_mean(values[:3]) + _mean(values[3:])) / 2
        assert results[f'member/{name}'] == pytest.approx(pooled, abs=1e-9)
        assert results[f'member/{name}_per_video'] == pytest.approx(
            per_video, abs=1e-9
        )
    assert len(results) == 2 * len(NAMES)
    # Frames with NaN are skipped, so pooled and per-video means differ.
    assert results['member/NSS'] != pytest.approx(
        results['member/NSS_per_video']
    )


def test_seeds_restart_after_evaluate():
    frames = _frames()
    metric = SaliencyMetric(metrics=['sAUC'])
    metric.process(None, frames)
    first = metric.evaluate(len(frames))
    metric.process(None, frames)
    assert metric.evaluate(len(frames)) == first
    assert set(first) == {'sAUC', 'sAUC_per_video'}


def test_missing_other_fixation_gives_nan_sauc():
    frames = _frames()
    for f in frames[3:]:
        del f['other_fixation']
    metric = SaliencyMetric(metrics=['NSS', 'sAUC'], prefix='m')
    metric.process(None, frames)
    results = metric.evaluate(len(frames))
    expected = _expected_per_frame(frames[:3])
    # Only video a has sAUC scores; its frame 2 has no fixation.
    sauc = _mean([s['sAUC'] for s in expected])
    assert results['m/sAUC'] == pytest.approx(sauc, abs=1e-9)
    assert results['m/sAUC_per_video'] == pytest.approx(sauc, abs=1e-9)
    assert not math.isnan(results['m/NSS'])


def test_all_nan_metric_is_nan():
    frames = _frames()[2:3]
    metric = SaliencyMetric(metrics=['NSS', 'CC'])
    metric.process(None, frames)
    results = metric.evaluate(1)
    assert math.isnan(results['NSS'])
    assert math.isnan(results['NSS_per_video'])
    assert not math.isnan(results['CC'])


def test_options_are_checked():
    with pytest.raises(ValueError, match='unknown saliency metrics'):
        SaliencyMetric(metrics=['CC', 'AUC'])
    with pytest.raises(ValueError, match='blur_sigma'):
        SaliencyMetric(blur_sigma=0)
    metric = SaliencyMetric(metrics=['CC'])
    with pytest.raises(KeyError, match='gt_saliency'):
        metric.process(None, [dict(pred_saliency=torch.rand(4, 4), video='a')])
    with pytest.raises(KeyError, match='video'):
        metric.process(None, [dict(pred_saliency=torch.rand(4, 4))])


def test_data_elements_are_read():
    """Model outputs as data elements, maps wrapped in PixelData."""
    frames = _frames()[:2]
    elements = [
        BaseDataElement(
            metainfo=dict(video=f['video']),
            pred_saliency=PixelData(data=f['pred_saliency']),
            gt_saliency=f['gt_saliency'],
            gt_fixation=PixelData(data=f['gt_fixation'][None]),
            other_fixation=f['other_fixation'],
        )
        for f in frames
    ]
    from_dicts = SaliencyMetric()
    from_dicts.process(None, frames)
    from_elements = SaliencyMetric()
    from_elements.process(None, elements)
    assert from_elements.evaluate(2) == from_dicts.evaluate(2)


def test_kld_cc_is_the_reference_validation_loss():
    """``KLD_CC`` with the reference blur: each frame's prediction blurred
    by OpenCV's 11x11 Gaussian with sigma 0 (2 for that size), then
    ``KLD - CC`` of the MIT formulas, averaged over frames."""
    import cv2

    rng = np.random.default_rng(3)
    eps = 2.2204e-16
    metric = SaliencyMetric(metrics=('KLD_CC', 'CC'), blur_sigma=2.0)
    expected = []
    for i in range(4):
        pred = rng.random((H, W))
        gt = rng.random((H, W)) ** 4
        metric.process(
            None,
            [
                dict(
                    pred_saliency=torch.as_tensor(pred, dtype=torch.float32),
                    gt_saliency=torch.as_tensor(gt),
                    video=str(i % 2),
                )
            ],
        )
        blurred = cv2.GaussianBlur(pred.astype(np.float32), (11, 11), 0)
        p = blurred.astype(np.float64).ravel()
        p, q = p / p.sum(), gt.ravel() / gt.sum()
        kld_value = np.sum(q * np.log(eps + q / (p + eps)))
        cc_value = np.corrcoef(blurred.ravel(), gt.ravel())[0, 1]
        expected.append(kld_value - cc_value)
    scores = metric.evaluate(4)
    assert scores['KLD_CC'] == pytest.approx(np.mean(expected), abs=1e-5)
    assert 'KLD' not in scores and 'CC' in scores
