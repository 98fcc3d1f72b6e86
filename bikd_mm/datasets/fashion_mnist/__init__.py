"""Fashion-MNIST read from its idx files (Zalando Research, MIT licence)."""

from .idx import (
    APT_PACKAGE,
    DATA_ROOT,
    DATA_ROOT_ENV,
    FASHION_CLASSES,
    fashion_mnist_available,
    fashion_mnist_root,
    load_fashion_mnist,
    read_idx,
    write_idx,
)

__all__ = [
    'APT_PACKAGE',
    'DATA_ROOT',
    'DATA_ROOT_ENV',
    'FASHION_CLASSES',
    'fashion_mnist_available',
    'fashion_mnist_root',
    'load_fashion_mnist',
    'read_idx',
    'write_idx',
]
