"""Resizing transform of the video saliency datasets."""

from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from bikd_mm.registry import TRANSFORMS

from .io_utils import rescale_fixations

_INTERPOLATIONS = dict(
    nearest=cv2.INTER_NEAREST,
    bilinear=cv2.INTER_LINEAR,
    bicubic=cv2.INTER_CUBIC,
    area=cv2.INTER_AREA,
    pil_bilinear=None,
)


def resize_image(img: np.ndarray, size: Sequence[int], how: str) -> np.ndarray:
    """Resize an ``[H, W(, C)]`` image to ``size`` ``(height, width)``.

    ``how`` is a key of the interpolations of :class:`ResizeClip`;
    ``'pil_bilinear'`` is Pillow's bilinear filter, widened when shrinking
    (what ``torchvision.transforms.Resize`` does to PIL images, so the
    frames the published saliency models were trained on), for ``uint8``
    frames; float maps fall back to OpenCV's bilinear.
    """
    h, w = size
    if img.shape[:2] == (h, w):
        return img
    if how == 'pil_bilinear':
        if img.dtype == np.uint8:
            return np.asarray(
                Image.fromarray(img).resize((w, h), Image.BILINEAR)
            )
        how = 'bilinear'
    return cv2.resize(img, (w, h), interpolation=_INTERPOLATIONS[how])


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
            ``'bicubic'``, ``'nearest'`` or ``'pil_bilinear'`` (Pillow's,
            see :func:`resize_image`; maps use OpenCV's bilinear).
        resize_gt (bool): Also resize the maps (training). Keep False to
            evaluate against the maps at their original resolution.
        resize_imgs (bool): Resize the frames. False resizes the maps only
            (the frames of each member are resized by
            :class:`SplitMemberClips`). Defaults to True.
    """

    def __init__(
        self,
        size: Sequence[int] = (224, 384),
        interpolation: str = 'bilinear',
        resize_gt: bool = True,
        resize_imgs: bool = True,
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
        self.resize_imgs = resize_imgs

    def _resize(self, img: np.ndarray) -> np.ndarray:
        return resize_image(img, self.size, self.interpolation)

    def __call__(self, results: dict) -> dict:
        """Resize the clip and, with ``resize_gt``, its maps.

        Args:
            results (dict): Output of :class:`LoadSaliencyClip`.

        Returns:
            dict: ``results``, resized.
        """
        if self.resize_imgs:
            results['imgs'] = np.stack(
                [self._resize(f) for f in results['imgs']]
            )
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
            f'{self.interpolation!r}, resize_gt={self.resize_gt}, '
            f'resize_imgs={self.resize_imgs})'
        )
