"""Complementarity of members before training: where each is right and
the others wrong, and what an oracle ensemble of them would reach."""

from .metrics import SHARES, Complementarity, complementarity, mean_iou
from .report import markdown_table, write_plot, write_report
from .run import evaluate_members, with_members

__all__ = [
    'SHARES',
    'Complementarity',
    'complementarity',
    'evaluate_members',
    'markdown_table',
    'mean_iou',
    'with_members',
    'write_plot',
    'write_report',
]
