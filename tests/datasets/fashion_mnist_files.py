"""Small synthetic Fashion-MNIST idx files, so tests never need the
installed data."""

import os.path as osp

import numpy as np

from bikd_mm.datasets.fashion_mnist import write_idx

FILES = dict(
    train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test=('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'),
)
#: Per split: the intensity of its items and their classes. Train items
#: are classes 0-4 at 250, test items classes 5-9 at 60, so a scene that
#: shows an item of the other split is seen in its labels and pixels.
MARKERS = dict(train=(250, range(0, 5)), test=(60, range(5, 10)))
#: Rows and columns of the block each synthetic item fills.
BLOCK = (slice(4, 24), slice(6, 22))


def item_image(value: int) -> np.ndarray:
    """A 28x28 item: a 20x16 block of ``value`` on 0."""
    image = np.zeros((28, 28), np.uint8)
    image[BLOCK] = value
    return image


def write_fashion_mnist(root: str, per_class: int = 4) -> str:
    """Write the four idx files (train plain, test gzipped) to ``root``.

    Args:
        root (str): An existing folder.
        per_class (int): Items per class. Defaults to 4.

    Returns:
        str: ``root``.
    """
    for split, (image_file, label_file) in FILES.items():
        value, classes = MARKERS[split]
        labels = np.repeat(np.array(list(classes), np.uint8), per_class)
        write_idx(
            osp.join(root, image_file),
            np.stack([item_image(value)] * len(labels)),
        )
        write_idx(osp.join(root, label_file), labels)
    return root
