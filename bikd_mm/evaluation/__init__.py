"""Evaluation components of bikd_mm; importing registers the metrics."""

from .metrics import MemberMetric
from .saliency import *  # noqa: F401,F403
from .saliency import __all__ as _saliency_all

__all__ = ['MemberMetric', *_saliency_all]
