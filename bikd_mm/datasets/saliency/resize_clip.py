"""Resizing transform of the video saliency datasets."""

from collections.abc import Sequence

import cv2
import numpy as np

from bikd_mm.registry import TRANSFORMS

from .io_utils import rescale_fixations

_INTERPOLATIONS = dict(
    nearest=cv2.INTER_NEAREST,
    bilinear=cv2.INTER_LINEAR,
    bicubic=cv2.INTER_CUBIC,
    area=cv2.INTER_AREA,
)


@TRANSFORMS.register_module()
class ResizeClip:
    """Resize every frame of a clip, and its maps, to a fixed size.

    The aspect ratio is not kept, as in the reference pipelines.
    Saliency maps are interpolated like the frames; fixation maps move
    each fixation to the cell that contains it, so none is lost.

    Required keys: ``imgs``; ``gt_saliency``, ``gt_fixation``,
    ``other_fixation`` if present.
    Modified keys: ``imgs``, ``img_shape``, and with ``resize_gt``
    ``gt_saliency``, ``gt_fixation``, ``gt_shape``.

    Args:
        size (Sequence[int]): Output ``(height, width)``. Defaults to
            ``(224, 384)``.
        interpolation (str): ``'bilinear'`` (default), ``'area'``,
            ``'bicubic'`` or ``'nearest'``.
        resize_gt (bool): Also resize the maps (training). Keep False to
            evaluate against the maps at their original resolution.
    """

    def __init__(
        self,
        size: Sequence[int] = (224, 384),
        interpolation: str = 'bilinear',
        resize_gt: bool = True,
    ) -> None:
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f'size must be (height, width) > 0, got {size!r}')
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f'interpolation must be one of '
                f'{sorted(_INTERPOLATIONS)}, got '
                f'{interpolation!r}'
            )
        self.size = (int(size[0]), int(size[1]))
        self.interpolation = interpolation
        self.resize_gt = resize_gt

    def _resize(self, img: np.ndarray) -> np.ndarray:
        h, w = self.size
        if img.shape[:2] == (h, w):
            return img
        return cv2.resize(
            img, (w, h), interpolation=_INTERPOLATIONS[self.interpolation]
        )

    def __call__(self, results: dict) -> dict:
        """Resize the clip and, with ``resize_gt``, its maps.

        Args:
            results (dict): Output of :class:`LoadSaliencyClip`.

        Returns:
            dict: ``results``, resized.
        """
        results['imgs'] = np.stack([self._resize(f) for f in results['imgs']])
        results['img_shape'] = self.size
        if self.resize_gt:
            if 'gt_saliency' in results:
                sal = self._resize(results['gt_saliency'])
                # Bicubic interpolation overshoots.
                results['gt_saliency'] = np.clip(sal, 0.0, 1.0)
                results['gt_shape'] = self.size
            for key in ('gt_fixation', 'other_fixation'):
                if key in results:
                    results[key] = rescale_fixations(results[key], self.size)
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(size={self.size}, interpolation='
            f'{self.interpolation!r}, resize_gt={self.resize_gt})'
        )
