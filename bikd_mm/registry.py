"""Registries of bikd_mm.

Components that extend a stock OpenMMLab library register in that library's
registry, so a config under its scope finds them by bare name:

- segmentation (``BiKDSegmentor``, ``BCEDiceLoss``, the digits segmentation
  dataset, segmentation hooks) live in ``mmseg.registry``;
- classification (``BiKDClassifier``, the digits classification dataset) live
  in ``mmpretrain.registry``.

Components that belong to no stock library (video saliency models, datasets,
transforms and metrics, generic hooks) live in the registries below, under the
``bikd_mm`` scope. A config reaches them with ``default_scope='bikd_mm'`` or
with a ``bikd_mm.`` prefix on ``type``.
"""

from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='bikd_mm',
    locations=['bikd_mm.models'],
)
DATASETS = Registry(
    'dataset',
    parent=MMENGINE_DATASETS,
    scope='bikd_mm',
    locations=['bikd_mm.datasets'],
)
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    scope='bikd_mm',
    locations=['bikd_mm.datasets'],
)
METRICS = Registry(
    'metric',
    parent=MMENGINE_METRICS,
    scope='bikd_mm',
    locations=['bikd_mm.evaluation'],
)
HOOKS = Registry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope='bikd_mm',
    locations=['bikd_mm.engine'],
)
