"""Does Bi-KD improve both members? Compare transfer regimes on one pair.

For one pair config, every regime fine-tunes the same pretrained members
for the same iterations with the same optimizers, data and seeds; only who
teaches whom differs:

==============  =========================================================
independent     no KD term (``kd_weight=0``): each member alone
dml             Deep Mutual Learning: every member distils into every
                other on every element, the teacher side detached as in
                the DML paper (``selection='all', detach_teacher=True``)
bikd_image      Bi-KD, per image: the member with the lower mean loss on
                the image teaches (segmentation's reference)
bikd_sample     Bi-KD, per sample: the more confident member teaches
                (classification's reference)
bikd_pixel      Bi-KD, per pixel (segmentation)
one_way         classic teacher-student: the member that is better at the
                start teaches everywhere and stays frozen
                (``fixed_teacher``)
==============  =========================================================

Every run evaluates each member every ``val_interval`` iterations; the
result is a JSON of all runs, a Markdown table (each member's final metric,
mean and standard deviation over seeds) and PNG plots of the metric and of
the teach share over iterations.
"""

from .compare import compare_transfer
from .plots import write_plots
from .regimes import REGIME_TITLES, TASKS, regime_options
from .report import (
    markdown_table,
    paired_differences,
    paired_interval,
    summarise,
    write_outputs,
)
from .runs import evaluate, read_scalars, run_config, run_regime

__all__ = [
    'REGIME_TITLES',
    'TASKS',
    'run_config',
    'compare_transfer',
    'evaluate',
    'markdown_table',
    'read_scalars',
    'regime_options',
    'run_regime',
    'paired_differences',
    'paired_interval',
    'summarise',
    'write_outputs',
    'write_plots',
]
