"""The idx file format of (Fashion-)MNIST, read and written with numpy.

An idx file holds one array: two zero bytes, a type code (``0x08`` for
unsigned bytes), the number of dimensions, each dimension as a big-endian
32-bit integer, then the values in C order. The files may be gzipped
(Debian's package ``dataset-fashion-mnist`` installs them as
``*-ubyte.gz``, the official download unpacks to ``*-ubyte``); both are
read.
"""

import gzip
import os
import os.path as osp

import numpy as np

#: Where Debian's ``dataset-fashion-mnist`` installs the four files.
DATA_ROOT = '/usr/share/datasets/fashion-mnist'
#: Environment variable that overrides :data:`DATA_ROOT`.
DATA_ROOT_ENV = 'BIKD_FASHION_MNIST'
APT_PACKAGE = 'dataset-fashion-mnist'
FASHION_CLASSES = (
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
)
_FILES = dict(
    train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test=('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
)
_UBYTE = 0x08


def fashion_mnist_root(data_root: str | None = None) -> str:
    """The folder of the idx files: ``data_root``, else
    ``$BIKD_FASHION_MNIST``, else :data:`DATA_ROOT`."""
    if data_root:
        return data_root
    return os.environ.get(DATA_ROOT_ENV) or DATA_ROOT


def fashion_mnist_available(data_root: str | None = None) -> bool:
    """Whether all four idx files (plain or gzipped) are in the folder
    :func:`fashion_mnist_root` gives."""
    root = fashion_mnist_root(data_root)
    return all(
        osp.isfile(osp.join(root, name))
        or osp.isfile(osp.join(root, name + '.gz'))
        for pair in _FILES.values()
        for name in pair
    )


def read_idx(path: str) -> np.ndarray:
    """Read one idx file of unsigned bytes (gzipped or not).

    Args:
        path (str): The file.

    Returns:
        np.ndarray: uint8 array of the shape the header states.

    Raises:
        ValueError: If the header is not an idx header of unsigned bytes
            or the file is shorter or longer than its header says.
    """
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _UBYTE:
        raise ValueError(
            f"'{path}' is not an idx file of unsigned bytes (header "
            f'{data[:4].hex() or "empty"}, expected 0000 08 <ndim>).'
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], 'big') for i in range(ndim)
    )
    size = int(np.prod(shape)) if shape else 1
    if len(data) != header + size:
        raise ValueError(
            f"'{path}': the header states shape {shape} ({size} values) "
            f'but the file holds {len(data) - header}.'
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def write_idx(path: str, array: np.ndarray) -> None:
    """Write a uint8 array as an idx file (gzipped if path ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    head = bytes([0, 0, _UBYTE, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape
    )
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(head + array.tobytes())


def _find(root: str, name: str) -> str:
    for candidate in (osp.join(root, name), osp.join(root, name + '.gz')):
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"Fashion-MNIST: neither '{osp.join(root, name)}' nor its .gz is "
        f"there (data_root '{root}'). Install the data with `apt-get "
        f'install {APT_PACKAGE}` (Debian/Ubuntu, as root, after apt-get '
        'update; it puts the four idx files under '
        f"'{DATA_ROOT}'), or download them from "
        'https://github.com/zalandoresearch/fashion-mnist and point '
        f'data_root (or ${DATA_ROOT_ENV}) at their folder.'
    )


def load_fashion_mnist(
    data_root: str | None = None, split: str = 'train'
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split.

    Args:
        data_root (str, optional): Folder of the idx files; see
            :func:`fashion_mnist_root`.
        split (str): ``'train'`` (60,000 images) or ``'test'`` (10,000).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(N, 28, 28)`` uint8 images and
        ``(N,)`` int64 labels in ``[0, 10)``.
    """
    if split not in _FILES:
        raise ValueError(
            f'Fashion-MNIST split must be one of {sorted(_FILES)}, got '
            f'{split!r}.'
        )
    root = fashion_mnist_root(data_root)
    image_file = _find(root, _FILES[split][0])
    label_file = _find(root, _FILES[split][1])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"Fashion-MNIST: '{image_file}' holds shape {images.shape} and "
            f"'{label_file}' shape {labels.shape}; expected (N, H, W) "
            'images and N labels.'
        )
    if labels.size and labels.max() >= len(FASHION_CLASSES):
        raise ValueError(
            f"Fashion-MNIST: '{label_file}' holds label {labels.max()}, "
            f'outside [0, {len(FASHION_CLASSES)}).'
        )
    return images, labels.astype(np.int64)
