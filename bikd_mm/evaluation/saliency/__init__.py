"""Video saliency metrics (MIT saliency benchmark definitions)."""

from .functional import (
    EPS,
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
from .saliency_metric import SaliencyMetric

__all__ = [
    'EPS',
    'SaliencyMetric',
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
