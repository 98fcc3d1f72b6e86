"""Datasets of bikd_mm.

Importing this package registers ``DigitsSegDataset`` and
``FashionScenesDataset`` in ``mmseg.registry``, and ``DigitsClsDataset``
and ``FashionMNISTDataset`` in ``mmpretrain.registry``.
"""

from .digits import prepare_digits_cls, prepare_digits_seg
from .digits_cls_dataset import DigitsClsDataset
from .digits_seg_dataset import DigitsSegDataset
from .fashion_mnist_dataset import FashionMNISTDataset
from .fashion_scenes import prepare_fashion_scenes
from .fashion_scenes_dataset import FashionScenesDataset
from .saliency import *  # noqa: F401,F403
from .saliency import __all__ as _saliency_all

__all__ = [
    *_saliency_all,
    'DigitsClsDataset',
    'DigitsSegDataset',
    'FashionMNISTDataset',
    'FashionScenesDataset',
    'prepare_digits_cls',
    'prepare_digits_seg',
    'prepare_fashion_scenes',
]
