"""Demo datasets generated from scikit-learn's bundled handwritten digits."""

from .generate import (
    CLS_CLASSES,
    CLS_VERSION,
    IGNORE_INDEX,
    SEG_CLASSES,
    SEG_VERSION,
    SPLIT_RANGES,
    TRAIN_RANGE,
    VAL_RANGE,
    digits_cls_root,
    digits_seg_root,
    is_complete_digits_cls,
    is_complete_digits_seg,
    load_digit_source,
    prepare_digits_cls,
    prepare_digits_seg,
)
from .storage import DATA_ROOT_ENV

__all__ = [
    'CLS_CLASSES',
    'CLS_VERSION',
    'DATA_ROOT_ENV',
    'IGNORE_INDEX',
    'SEG_CLASSES',
    'SEG_VERSION',
    'SPLIT_RANGES',
    'TRAIN_RANGE',
    'VAL_RANGE',
    'digits_cls_root',
    'digits_seg_root',
    'is_complete_digits_cls',
    'is_complete_digits_seg',
    'load_digit_source',
    'prepare_digits_cls',
    'prepare_digits_seg',
]
