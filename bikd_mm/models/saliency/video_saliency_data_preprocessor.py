"""Data preprocessor of the video saliency models."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from bikd_mm.registry import MODELS


@MODELS.register_module()
class VideoSaliencyDataPreprocessor(BaseDataPreprocessor):
    """Stack, normalise and resize clips for a video saliency model.

    Takes the ``inputs`` of :class:`PackSaliencyInputs` (a list of
    ``[T, 3, H, W]`` clips, or a ``[B, T, 3, H, W]`` tensor, ``uint8`` or
    float) and returns float clips ``[B, 3, T, H', W']``, normalised by
    ``mean`` and ``std`` (channel order as loaded, RGB by default) and
    resized to ``size``. The data samples are moved to the device
    unchanged: losses and predictions are resized to the ground truth, so
    each member of a Bi-KD pair can see the clip at its own input size.

    Args:
        mean (Sequence[float], optional): Per-channel mean, in the units
            of the inputs (0-255 for ``uint8`` clips). None skips
            normalisation. Defaults to the ImageNet mean.
        std (Sequence[float], optional): Per-channel standard deviation.
            Defaults to the ImageNet standard deviation.
        size (Sequence[int], optional): Input ``(height, width)`` of the
            model; None keeps the clip size.
        non_blocking (bool): Non-blocking copies to the device.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = (123.675, 116.28, 103.53),
        std: Sequence[float] | None = (58.395, 57.12, 57.375),
        size: Sequence[int] | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking=non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer(
                'mean', torch.tensor(mean).view(1, 1, -1, 1, 1), False
            )
            self.register_buffer(
                'std', torch.tensor(std).view(1, 1, -1, 1, 1), False
            )
        if size is not None and len(size) != 2:
            raise ValueError(f'size must be (height, width), got {size}')
        self.size = tuple(size) if size is not None else None

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a batch.

        Args:
            data (dict): ``inputs`` and ``data_samples`` from the
                dataloader.
            training (bool): Unused; the same steps run in both modes.

        Returns:
            dict: ``inputs`` ``[B, 3, T, H', W']`` and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 5:
            raise ValueError(
                'inputs must be clips [B, T, C, H, W], got shape '
                f'{tuple(inputs.shape)}'
            )
        x = inputs.float()
        if self.normalize:
            x = (x - self.mean) / self.std
        b, t, c, h, w = x.shape
        if self.size is not None and self.size != (h, w):
            x = F.interpolate(
                x.reshape(b * t, c, h, w),
                size=self.size,
                mode='bilinear',
                align_corners=False,
            ).view(b, t, c, *self.size)
        x = x.permute(0, 2, 1, 3, 4).contiguous()
        return dict(inputs=x, data_samples=data.get('data_samples'))
