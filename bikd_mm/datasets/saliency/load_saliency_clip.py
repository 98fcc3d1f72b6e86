"""Loading transform of the video saliency datasets."""

import numpy as np

from bikd_mm.registry import TRANSFORMS

from .io_utils import (
    read_fixation_map,
    read_frame,
    read_saliency_map,
    rescale_fixations,
)


@TRANSFORMS.register_module()
class LoadSaliencyClip:
    """Read a clip's frames and its target saliency and fixation maps.

    Required keys: ``frame_paths``; ``map_path``, ``fixation_path`` and
    ``fixation_key`` when labelled (as set by the video saliency datasets).

    Added keys:

    - ``imgs`` (np.ndarray): ``uint8`` frames ``[T, H, W, 3]`` in
      ``channel_order``;
    - ``ori_shape``, ``img_shape`` (tuple[int, int]): frame ``(H, W)``;
    - ``gt_saliency`` (np.ndarray): ``float32`` map ``[h, w]`` in
      ``[0, 1]`` (labelled samples only);
    - ``gt_fixation`` (np.ndarray): ``float32`` binary map ``[h, w]``; all
      zeros when nobody fixated the frame: the sample is kept and the
      fixation-based metrics give NaN for it (labelled samples only);
    - ``gt_shape`` (tuple[int, int]): ``(h, w)`` of the maps, which need
      not match the frames. A fixation map of another size is moved onto
      the saliency map's grid.

    Args:
        channel_order (str): ``'rgb'`` (default, the order of video
            backbones' pretrained weights) or ``'bgr'``.
        with_gt (bool): Whether to read the maps. Without it, or when the
            sample has no ``map_path``, no ``gt_*`` key is added.
    """

    def __init__(
        self, channel_order: str = 'rgb', with_gt: bool = True
    ) -> None:
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(
                f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}"
            )
        self.channel_order = channel_order
        self.with_gt = with_gt

    def __call__(self, results: dict) -> dict:
        """Load the clip.

        Args:
            results (dict): A sample of a video saliency dataset.

        Returns:
            dict: ``results`` with the keys above.
        """
        frames = []
        for path in results['frame_paths']:
            frame = read_frame(path, self.channel_order)
            if frames and frame.shape != frames[0].shape:
                raise ValueError(
                    f'Frame {path} has shape {frame.shape[:2]}, other '
                    f'frames of the clip {frames[0].shape[:2]}'
                )
            frames.append(frame)
        results['imgs'] = np.stack(frames)
        results['ori_shape'] = results['img_shape'] = frames[0].shape[:2]
        if self.with_gt and results.get('map_path') is not None:
            sal = read_saliency_map(results['map_path'])
            results['gt_saliency'] = sal
            results['gt_shape'] = sal.shape
            if results.get('fixation_path') is not None:
                fix = read_fixation_map(
                    results['fixation_path'], results.get('fixation_key')
                )
                if fix.shape != sal.shape:
                    fix = rescale_fixations(fix, sal.shape)
                results['gt_fixation'] = fix
            if results.get('other_fixations'):
                # Shuffled-AUC negatives: the union of other frames'
                # fixations, on this sample's map grid.
                union = np.zeros(sal.shape, np.float32)
                for path, key in results['other_fixations']:
                    other = read_fixation_map(path, key)
                    if other.shape != sal.shape:
                        other = rescale_fixations(other, sal.shape)
                    union = np.maximum(union, other)
                results['other_fixation'] = union
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(channel_order='
            f'{self.channel_order!r}, with_gt={self.with_gt})'
        )
