"""Packing transform of the video saliency datasets."""

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from bikd_mm.registry import TRANSFORMS


def _to_tensor(imgs: np.ndarray) -> torch.Tensor:
    """``[T, H, W, 3]`` frames as a ``[T, 3, H, W]`` tensor."""
    imgs = np.ascontiguousarray(imgs)
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()


@TRANSFORMS.register_module()
class PackSaliencyInputs:
    """Pack a clip into ``inputs`` and a ``BaseDataElement`` data sample.

    Output::

        dict(inputs=Tensor[T, 3, H, W],
             data_samples=BaseDataElement(
                 gt_saliency=Tensor[h, w],    # data field, float32 [0, 1]
                 gt_fixation=Tensor[h, w],    # data field, float32 {0, 1}
                 metainfo=dict(video=str, frame=int, ...meta_keys)))

    ``inputs`` is ``uint8`` unless :class:`NormalizeClip` ran before
    (then ``float32``): normalisation is left to each model's data
    preprocessor. After :class:`SplitMemberClips`, ``inputs`` is a dict
    ``{member: Tensor[T_m, 3, h_m, w_m]}`` (batched to ``{member: list}``),
    from which :class:`BiKDSaliency` hands each member its own clips.
    Frames are RGB unless :class:`LoadSaliencyClip` was told otherwise.

    The data sample is a plain ``mmengine.structures.BaseDataElement``
    rather than a dict because mmengine's ``pseudo_collate`` would turn a
    batch of dicts into one dict of lists, while it keeps data elements as
    a list, one per clip, which is what models, ``BaseDataPreprocessor``
    (``.to(device)``) and metrics iterate over. Read it with
    ``sample.gt_saliency`` or ``sample.get('gt_saliency')`` (both work for
    the meta keys too, e.g. ``sample.video``); a model adds its output with
    ``sample.pred_saliency = ...``. Unlabelled samples have no ``gt_*``
    fields; meta keys missing from the results are left out.

    Args:
        meta_keys (Sequence[str]): Keys copied into the data sample besides
            the maps.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = (
            'video',
            'frame',
            'frame_name',
            'frame_indices',
            'num_frames',
            'sample_idx',
            'map_path',
            'ori_shape',
            'img_shape',
            'gt_shape',
            'flip',
        ),
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        """Pack.

        Args:
            results (dict): Output of the previous transforms.

        Returns:
            dict: ``inputs`` (Tensor) and ``data_samples``
            (BaseDataElement).
        """
        if 'member_imgs' in results:
            inputs = {
                name: _to_tensor(imgs)
                for name, imgs in results['member_imgs'].items()
            }
        else:
            inputs = _to_tensor(results['imgs'])
        metainfo = {k: results[k] for k in self.meta_keys if k in results}
        sample = BaseDataElement(metainfo=metainfo)
        for key in ('gt_saliency', 'gt_fixation', 'other_fixation'):
            if key in results:
                sample.set_data(
                    {
                        key: torch.from_numpy(
                            np.ascontiguousarray(results[key], np.float32)
                        )
                    }
                )
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
