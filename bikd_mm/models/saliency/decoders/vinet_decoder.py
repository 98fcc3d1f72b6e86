"""bikd_mm's decoder in the manner of ViNet: 3D convolutions, upsampling,
temporal skips."""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS

from .utils import (
    activate,
    check_activation,
    collapse_time,
    pad_time,
    resize_3d,
    upsample_2x,
)


def _conv(c_in: int, c_out: int, stride: int, spatial: int = 3) -> nn.Conv3d:
    return nn.Conv3d(
        c_in,
        c_out,
        (stride, spatial, spatial),
        stride=(stride, 1, 1),
        padding=(0, spatial // 2, spatial // 2),
        bias=False,
    )


@MODELS.register_module()
class ViNetDecoder(BaseModule):
    """bikd_mm's decoder after ViNet (Jain et al., IROS 2021), for any clip
    length and widths. It is not a released ViNet decoder (see
    :class:`ViNetSDecoder` and :class:`ViNetADecoder` for those).

    From the deepest of ``L`` features ``[B, C_i, T_i, H_i, W_i]``
    (shallow to deep), each step convolves to the channels of the next
    shallower feature with a temporal stride, upsamples to its spatial
    size and concatenates it **along time**, as ViNet does. A head of three
    strided temporal convolutions (two followed by 2x upsampling) and a
    ``1 x 1 x 1`` convolution gives one map per clip.

    ``temporal_strides`` holds the ``L - 1`` strides of the steps then the
    3 of the head; the defaults ``(1, 3, 5, 5, 2, 2)`` with the S3D
    features of a 32-frame clip reproduce ViNet's shapes. Other lengths
    are padded by repeating the last frame, and frames left at the end are
    averaged.

    Output: ``[B, 1, H, W]``, ``'sigmoid'`` (as ViNet, values in
    ``(0, 1)``), ``'softmax'`` (sums to 1 over the pixels) or ``None``
    (logits).

    Args:
        in_channels (Sequence[int]): Channels of each level. Defaults to
            the S3D levels ``(192, 480, 832, 1024)``.
        head_channels (Sequence[int]): Channels of the three head
            convolutions. Defaults to ``(64, 32, 32)``.
        temporal_strides (Sequence[int]): ``L + 2`` temporal strides.
            Defaults to ``(1, 3, 5, 5, 2, 2)``.
        activation (str, optional): ``'sigmoid'``, ``'softmax'`` or None.
            Defaults to ``'sigmoid'``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (192, 480, 832, 1024),
        head_channels: Sequence[int] = (64, 32, 32),
        temporal_strides: Sequence[int] = (1, 3, 5, 5, 2, 2),
        activation: str | None = 'sigmoid',
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = tuple(in_channels)
        self.num_levels = len(self.in_channels)
        if len(temporal_strides) != self.num_levels + 2:
            raise ValueError(
                f'temporal_strides needs {self.num_levels + 2} values '
                f'({self.num_levels} levels), got {len(temporal_strides)}'
            )
        if len(head_channels) != 3:
            raise ValueError('head_channels needs 3 values')
        self.temporal_strides = tuple(temporal_strides)
        self.activation = check_activation(activation)
        c = self.in_channels
        self.up_convs = nn.ModuleList(
            _conv(c[i + 1], c[i], self.temporal_strides[k])
            for k, i in enumerate(reversed(range(self.num_levels - 1)))
        )
        s = self.temporal_strides[self.num_levels - 1 :]
        h = tuple(head_channels)
        self.head_convs = nn.ModuleList(
            [_conv(c[0], h[0], s[0]), _conv(h[0], h[1], s[1])]
        )
        self.temporal_conv = _conv(h[1], h[2], s[2], spatial=1)
        self.conv_out = nn.Conv3d(h[2], 1, 1)

    def forward(
        self, feats: Sequence[Tensor], out_size: tuple | None = None
    ) -> Tensor:
        """Decode one map per clip.

        Args:
            feats (Sequence[Tensor]): ``L`` features, shallow to deep.
            out_size (tuple, optional): Output ``(H, W)``. Defaults to
                four times the first level's size.

        Returns:
            Tensor: ``[B, 1, H, W]``.
        """
        if len(feats) != self.num_levels:
            raise ValueError(
                f'expected {self.num_levels} feature levels, got {len(feats)}'
            )
        z = feats[-1]
        levels = reversed(range(self.num_levels - 1))
        for k, (conv, i) in enumerate(zip(self.up_convs, levels)):
            skip = feats[i]
            z = F.relu(conv(pad_time(z, self.temporal_strides[k])))
            z = resize_3d(z, (z.shape[2], *skip.shape[3:]))
            z = torch.cat([z, skip], 2)
        s = self.temporal_strides[self.num_levels - 1 :]
        for conv, stride in zip(self.head_convs, s):
            z = upsample_2x(F.relu(conv(pad_time(z, stride))))
        z = F.relu(self.temporal_conv(pad_time(z, s[2])))
        z = collapse_time(self.conv_out(z))
        if out_size is not None and tuple(z.shape[-2:]) != tuple(out_size):
            z = F.interpolate(
                z, size=tuple(out_size), mode='bilinear', align_corners=False
            )
        return activate(z, self.activation)
