"""Fashion-MNIST classification, read from its idx files."""

from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .fashion_mnist import (
    FASHION_CLASSES,
    fashion_mnist_root,
    load_fashion_mnist,
)


@DATASETS.register_module()
class FashionMNISTDataset(BaseDataset):
    """Fashion-MNIST: 28x28 grayscale images of 10 clothing classes.

    Reads the four idx files (gzipped or not) from ``data_root``, which
    defaults to ``$BIKD_FASHION_MNIST``, else
    ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist``). Nothing is downloaded: a missing file
    raises an error that names the path and the package. Samples carry the
    image as a ``(28, 28)`` uint8 array under ``img``, so pipelines start
    without ``LoadImageFromFile`` (``PackInputs`` makes it 1-channel).

    Unlike ``mmpretrain.datasets.FashionMNIST``, the split is chosen by
    ``split`` (not by ``test_mode``), gzipped files are read as they are,
    and ``num_samples`` takes a fixed subset (the first samples) for quick
    runs.

    Args:
        data_root (str, optional): Folder of the idx files. Defaults to
            None (see above).
        split (str): ``'train'`` (60,000) or ``'test'`` (10,000). Defaults
            to ``'train'``.
        num_samples (int, optional): Keep only the first ``num_samples``.
            Defaults to None (all).
        **kwargs: Other arguments of :class:`mmpretrain.datasets.
            BaseDataset` (``pipeline``, ``test_mode``, ...).
    """

    METAINFO = dict(classes=FASHION_CLASSES)

    def __init__(
        self,
        data_root: str | None = None,
        split: str = 'train',
        num_samples: int | None = None,
        **kwargs,
    ) -> None:
        if num_samples is not None and num_samples < 1:
            raise ValueError(
                f'{type(self).__name__}: num_samples must be >= 1, got '
                f'{num_samples}.'
            )
        self.split = split
        self.num_samples = num_samples
        super().__init__(
            ann_file='', data_root=fashion_mnist_root(data_root), **kwargs
        )

    def load_data_list(self) -> list[dict]:
        """One record per image: ``img`` (uint8 28x28) and ``gt_label``."""
        images, labels = load_fashion_mnist(self.data_root, self.split)
        if self.num_samples is not None:
            images = images[: self.num_samples]
            labels = labels[: self.num_samples]
        return [
            dict(img=image, gt_label=int(label))
            for image, label in zip(images, labels)
        ]
