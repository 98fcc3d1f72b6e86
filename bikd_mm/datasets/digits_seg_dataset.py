"""Segmentation dataset of handwritten digits on textured canvases."""

import os.path as osp

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .digits import SEG_CLASSES, digits_seg_root, prepare_digits_seg
from .digits.storage import count_files, is_empty_dir


@DATASETS.register_module()
class DigitsSegDataset(BaseSegDataset):
    """Handwritten digits on textured, noisy RGB canvases (11 classes).

    Labels are ``background`` (0) and the digits ``0`` to ``9`` (1 to 10);
    255 marks the blurred ring around every digit and is ignored. The data
    are generated from scikit-learn's bundled scans by
    :func:`bikd_mm.datasets.digits.prepare_digits_seg`, which documents the
    rendering, the split and the folder layout::

        data_root/img_dir/{train,val}/*.png
        data_root/ann_dir/{train,val}/*.png

    The dataset generates its data when ``data_root`` is None (the shared
    cache, see :func:`prepare_digits_seg`), missing or an empty folder and
    ``auto_generate`` is True. An existing, non-empty ``data_root`` is used
    as it is.

    Args:
        data_root (str, optional): Dataset folder, or None for the cache
            folder. Defaults to None.
        data_prefix (dict, optional): Image and annotation folders relative
            to ``data_root``. Defaults to None, the train split
            (``img_dir/train`` and ``ann_dir/train``).
        img_suffix (str): Image suffix. Defaults to '.png'.
        seg_map_suffix (str): Annotation suffix. Defaults to '.png'.
        reduce_zero_label (bool): Whether to turn label 0 into the ignore
            index. Defaults to False, as background is a real class here.
        auto_generate (bool): Whether to generate missing data. Defaults to
            True.
        generate_cfg (dict, optional): Keyword arguments of
            :func:`prepare_digits_seg` used when generating, e.g.
            ``dict(num_train=50, seed=1)``. Defaults to None.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = dict(
        classes=SEG_CLASSES,
        palette=[
            [0, 0, 0],
            [31, 119, 180],
            [255, 127, 14],
            [44, 160, 44],
            [214, 39, 40],
            [148, 103, 189],
            [140, 86, 75],
            [227, 119, 194],
            [127, 127, 127],
            [188, 189, 34],
            [23, 190, 207],
        ],
    )

    def __init__(
        self,
        data_root: str | None = None,
        data_prefix: dict | None = None,
        img_suffix: str = '.png',
        seg_map_suffix: str = '.png',
        reduce_zero_label: bool = False,
        auto_generate: bool = True,
        generate_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        if data_prefix is None:
            data_prefix = dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'
            )
        generate_cfg = dict(generate_cfg or {})
        if data_root is None:
            data_root = digits_seg_root(**generate_cfg)
        if not osp.exists(data_root) or is_empty_dir(data_root):
            if not auto_generate:
                raise FileNotFoundError(
                    f"{type(self).__name__}: data_root '{data_root}' is "
                    'missing or empty and auto_generate is False.'
                )
            data_root = prepare_digits_seg(data_root, **generate_cfg)
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        """Check the split folders, then list the image/annotation pairs.

        Returns:
            list[dict]: One record per image.
        """
        img_dir = self.data_prefix.get('img_path')
        ann_dir = self.data_prefix.get('seg_map_path')
        for folder, suffix in (
            (img_dir, self.img_suffix),
            (ann_dir, self.seg_map_suffix),
        ):
            # The base class would silently return an empty list.
            if folder and count_files(folder, suffix) <= 0:
                raise FileNotFoundError(
                    f"{type(self).__name__}: folder '{folder}' is missing or "
                    f"holds no '*{suffix}' file, so data_root "
                    f"'{self.data_root}' is not a complete digits "
                    'segmentation dataset. Delete it to have it generated '
                    'again, or point data_root at another folder.'
                )
        data_list = super().load_data_list()
        if ann_dir:
            for info in data_list:
                if not osp.isfile(info['seg_map_path']):
                    raise FileNotFoundError(
                        f'{type(self).__name__}: annotation '
                        f"'{info['seg_map_path']}' of image "
                        f"'{info['img_path']}' is missing in folder "
                        f"'{ann_dir}'."
                    )
        return data_list
