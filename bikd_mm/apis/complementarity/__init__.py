"""Complementarity of members before training: where each is right and
the others wrong, and what an oracle ensemble of them would reach."""

from .metrics import SHARES, Complementarity, complementarity, mean_iou
from .relation import relate_gains, relation_markdown
from .report import markdown_table, write_plot, write_report
from .run import evaluate_members, with_members

__all__ = [
    'SHARES',
    'Complementarity',
    'complementarity',
    'evaluate_members',
    'markdown_table',
    'mean_iou',
    'relate_gains',
    'relation_markdown',
    'with_members',
    'write_plot',
    'write_report',
]
