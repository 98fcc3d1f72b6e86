"""Segmentation dataset of Fashion-MNIST items composed into scenes."""

import os.path as osp

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .digits.storage import is_empty_dir, read_meta
from .fashion_scenes import (
    SCENE_CLASSES,
    array_path,
    fashion_scenes_root,
    is_complete_fashion_scenes,
    prepare_fashion_scenes,
)
from .fashion_scenes.generate import SPLITS

# Transforms that read files: the in-memory records already carry what
# they would load.
_FILE_LOADERS = ('LoadImageFromFile', 'LoadAnnotations')


@DATASETS.register_module()
class FashionScenesDataset(BaseSegDataset):
    """Scenes of 1 to 4 Fashion-MNIST items on mild textures (11 classes).

    Labels are ``background`` (0) and the 10 Fashion-MNIST classes (1 to
    10); 255 marks a thin ring on each item's border (``ignore_width`` of
    the generation options; 0 gives clean labels) and is ignored. Train
    scenes are made of Fashion-MNIST train items only, test scenes of test
    items only. :mod:`bikd_mm.datasets.fashion_scenes.generate` documents
    the rendering and the folder layout::

        data_root/img_dir/{train,test}/*.png
        data_root/ann_dir/{train,test}/*.png
        data_root/arrays/{train,test}_{images,labels,items}.npy

    With ``in_memory=True`` (the default) every sample comes from the
    memory-mapped arrays: it carries ``img`` (BGR, as
    ``LoadImageFromFile`` gives it), ``gt_seg_map`` and the shapes, so the
    pipeline starts after loading (e.g. ``[dict(type='RandomFlip', ...),
    dict(type='PackSegInputs')]``) and no image is decoded. With
    ``in_memory=False`` the records name the PNG files only, for the stock
    ``LoadImageFromFile`` / ``LoadAnnotations`` pipeline. Both give the
    same pixels.

    The scenes are generated on first use when ``data_root`` is None (the
    cache folder of the options, see :func:`bikd_mm.datasets.
    fashion_scenes.fashion_scenes_root`), missing or an empty folder and
    ``auto_generate`` is True; generating reads the Fashion-MNIST idx files
    from ``fashion_root``. An existing complete ``data_root`` is used as it
    is.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        data_root (str, optional): Dataset folder, or None for the cache
            folder. Defaults to None.
        fashion_root (str, optional): Folder of the Fashion-MNIST idx
            files; None: ``$BIKD_FASHION_MNIST``, else
            ``/usr/share/datasets/fashion-mnist``. Defaults to None.
        in_memory (bool): Whether samples carry their arrays (see above).
            Defaults to True.
        auto_generate (bool): Whether to generate missing scenes. Defaults
            to True.
        generate_cfg (dict, optional): Generation options of
            :func:`bikd_mm.datasets.fashion_scenes.prepare_fashion_scenes`,
            e.g. ``dict(num_train=500, ignore_width=0)``. Defaults to None.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`
            (``pipeline``, ``indices``, ``test_mode``, ...).
    """

    METAINFO = dict(
        classes=SCENE_CLASSES,
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
        split: str = 'train',
        data_root: str | None = None,
        fashion_root: str | None = None,
        in_memory: bool = True,
        auto_generate: bool = True,
        generate_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        name = type(self).__name__
        if split not in SPLITS:
            raise ValueError(
                f'{name}: split must be one of {SPLITS}, got {split!r}'
            )
        if kwargs.get('reduce_zero_label'):
            raise ValueError(
                f'{name}: reduce_zero_label must be False; background (0) '
                'is a class of these scenes'
            )
        if in_memory:
            _check_pipeline(name, kwargs.get('pipeline') or [])
        self.split = split
        self.in_memory = in_memory
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        generate_cfg = dict(generate_cfg or {})
        if data_root is None:
            data_root = fashion_scenes_root(**generate_cfg)
        data_root = osp.abspath(osp.expanduser(data_root))
        if not is_complete_fashion_scenes(data_root):
            if osp.lexists(data_root) and not is_empty_dir(data_root):
                raise FileNotFoundError(
                    f"{name}: data_root '{data_root}' is not a complete "
                    'Fashion scenes dataset (meta.json, PNG files or arrays '
                    'missing). Delete it to have it generated again, or '
                    'point data_root at another folder.'
                )
            if not auto_generate:
                raise FileNotFoundError(
                    f"{name}: data_root '{data_root}' is missing or empty "
                    'and auto_generate is False.'
                )
            try:
                prepare_fashion_scenes(
                    data_root, fashion_root=fashion_root, **generate_cfg
                )
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f"{name}: cannot generate the scenes in '{data_root}': "
                    f'{err}'
                ) from err
        kwargs.setdefault(
            'data_prefix',
            dict(
                img_path=osp.join('img_dir', split),
                seg_map_path=osp.join('ann_dir', split),
            ),
        )
        kwargs.setdefault('img_suffix', '.png')
        kwargs.setdefault('seg_map_suffix', '.png')
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        """One record per scene of the split, in scene order.

        Returns:
            list[dict]: ``scene_index``, ``img_path`` and ``seg_map_path``
            per scene (the arrays join in :meth:`get_data_info`).
        """
        meta = read_meta(self.data_root) or {}
        num = meta['splits'][self.split]['num_images']
        img_dir = self.data_prefix['img_path']
        ann_dir = self.data_prefix['seg_map_path']
        return [
            dict(
                scene_index=i,
                img_path=osp.join(img_dir, f'{i:05d}{self.img_suffix}'),
                seg_map_path=osp.join(
                    ann_dir, f'{i:05d}{self.seg_map_suffix}'
                ),
                label_map=self.label_map,
                reduce_zero_label=False,
                seg_fields=[],
            )
            for i in range(num)
        ]

    def get_data_info(self, idx: int) -> dict:
        """The record of sample ``idx``, with its arrays when in memory.

        Args:
            idx (int): Sample index.

        Returns:
            dict: The record; in memory also ``img`` (BGR uint8 ``(H, W,
            3)``), ``gt_seg_map`` (uint8 ``(H, W)``), ``img_shape`` and
            ``ori_shape``.
        """
        info = super().get_data_info(idx)
        if self.in_memory:
            images, labels = self._scene_arrays()
            i = info['scene_index']
            info['img'] = np.ascontiguousarray(images[i][..., ::-1])
            info['gt_seg_map'] = np.array(labels[i])
            info['seg_fields'] = ['gt_seg_map']
            info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        return info

    def _scene_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        # Opened on first use in each process (a dataloader worker maps the
        # files itself rather than receiving the arrays pickled).
        if self._arrays is None:
            self._arrays = tuple(
                np.load(array_path(self.data_root, self.split, kind), 'r')
                for kind in ('images', 'labels')
            )
        return self._arrays

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_arrays'] = None
        return state


def _check_pipeline(name: str, pipeline: list) -> None:
    for step in pipeline:
        kind = step.get('type') if isinstance(step, dict) else type(step)
        kind = getattr(kind, '__name__', kind)
        if isinstance(kind, str) and kind.split('.')[-1] in _FILE_LOADERS:
            raise ValueError(
                f'{name}: with in_memory=True every sample already carries '
                f'img and gt_seg_map, so the pipeline must not start with '
                f'{kind}; drop it, or set in_memory=False to load the PNG '
                'files'
            )
