"""Classification dataset of upscaled handwritten digits."""

import os.path as osp

from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

from .digits import (
    CLS_CLASSES,
    SPLIT_RANGES,
    digits_cls_root,
    prepare_digits_cls,
)
from .digits.storage import count_files, is_empty_dir


@DATASETS.register_module()
class DigitsClsDataset(CustomDataset):
    """Handwritten digits ``0`` to ``9``, one upscaled scan per image.

    Images are 32x32 single-channel (grayscale) PNGs by default, white digit
    on black; the stock ``LoadImageFromFile`` reads them as 3-channel
    images. The data are generated from scikit-learn's bundled scans by
    :func:`bikd_mm.datasets.digits.prepare_digits_cls`, which documents the
    split and the folder layout::

        data_root/{train,val}/<digit>/<source index>.png

    The dataset generates its data when ``data_root`` is None (the shared
    cache, see :func:`prepare_digits_cls`), missing or an empty folder and
    ``auto_generate`` is True. An existing, non-empty ``data_root`` is used
    as it is.

    Args:
        data_root (str, optional): Dataset folder, or None for the cache
            folder. Defaults to None.
        split (str): ``'train'`` or ``'val'``. Defaults to ``'train'``.
        auto_generate (bool): Whether to generate missing data. Defaults to
            True.
        generate_cfg (dict, optional): Keyword arguments of
            :func:`prepare_digits_cls` used when generating, e.g.
            ``dict(image_size=28)``. Defaults to None.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.
            CustomDataset` except ``data_prefix``, which ``split`` sets.
    """

    METAINFO = dict(classes=CLS_CLASSES)

    def __init__(
        self,
        data_root: str | None = None,
        split: str = 'train',
        auto_generate: bool = True,
        generate_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        if split not in SPLIT_RANGES:
            raise ValueError(
                f'{type(self).__name__}: split must be one of '
                f'{sorted(SPLIT_RANGES)}, got {split!r}.'
            )
        self.split = split
        generate_cfg = dict(generate_cfg or {})
        if data_root is None:
            data_root = digits_cls_root(**generate_cfg)
        if not osp.exists(data_root) or is_empty_dir(data_root):
            if not auto_generate:
                raise FileNotFoundError(
                    f"{type(self).__name__}: data_root '{data_root}' is "
                    'missing or empty and auto_generate is False.'
                )
            data_root = prepare_digits_cls(data_root, **generate_cfg)
        super().__init__(data_root=data_root, data_prefix=split, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Check the class folders of the split, then list the samples.

        Returns:
            list[dict]: One record per image.
        """
        split_dir = self.img_prefix
        for digit in CLS_CLASSES:
            folder = osp.join(split_dir, digit)
            # CustomDataset would fail with a bare count mismatch instead.
            if count_files(folder, '.png') <= 0:
                raise FileNotFoundError(
                    f"{type(self).__name__}: folder '{folder}' is missing or "
                    "holds no '*.png' file, so data_root "
                    f"'{self.data_root}' is not a complete digits "
                    'classification dataset. Delete it to have it generated '
                    'again, or point data_root at another folder.'
                )
        return super().load_data_list()
