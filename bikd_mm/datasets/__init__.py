"""Datasets of bikd_mm.

Importing this package registers ``DigitsSegDataset`` in ``mmseg.registry``
and ``DigitsClsDataset`` and ``FashionMNISTDataset`` in
``mmpretrain.registry``.
"""

from .digits import prepare_digits_cls, prepare_digits_seg
from .digits_cls_dataset import DigitsClsDataset
from .digits_seg_dataset import DigitsSegDataset
from .fashion_mnist_dataset import FashionMNISTDataset
from .saliency import *  # noqa: F401,F403
from .saliency import __all__ as _saliency_all

__all__ = [
    *_saliency_all,
    'DigitsClsDataset',
    'DigitsSegDataset',
    'FashionMNISTDataset',
    'prepare_digits_cls',
    'prepare_digits_seg',
]
