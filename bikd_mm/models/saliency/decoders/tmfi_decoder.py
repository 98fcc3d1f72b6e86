"""bikd_mm's decoder in the manner of TMFI-Net: multi-scale fusion, then
temporal heads."""

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


class _Gate(nn.Module):
    """``x * sigmoid(conv(x)) + x``: a spatial attention residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv(x).sigmoid() + x


class _TemporalHead(nn.Module):
    """Convolutions that shrink time by their strides while upsampling
    space, ending in a one-channel map."""

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        strides: Sequence[int],
        num_upsample: int,
    ) -> None:
        super().__init__()
        self.strides = tuple(strides)
        self.num_upsample = num_upsample
        self.convs = nn.ModuleList()
        for c_out, s in zip(channels, strides):
            self.convs.append(
                nn.Conv3d(
                    in_channels,
                    c_out,
                    (s, 3, 3),
                    stride=(s, 1, 1),
                    padding=(0, 1, 1),
                    bias=False,
                )
            )
            in_channels = c_out
        self.conv_out = nn.Conv3d(
            in_channels, 1, (1, 3, 3), padding=(0, 1, 1), bias=False
        )

    def forward(self, x: Tensor, out_size: tuple) -> Tensor:
        for k, (conv, s) in enumerate(zip(self.convs, self.strides)):
            x = F.relu(conv(pad_time(x, s)))
            if k < self.num_upsample:
                x = upsample_2x(x)
        x = collapse_time(self.conv_out(x))
        x = F.interpolate(
            x, size=out_size, mode='bilinear', align_corners=False
        )
        return x.sigmoid()


@MODELS.register_module()
class TMFIDecoder(BaseModule):
    """bikd_mm's decoder after TMFI-Net (Zhou et al., 2023): temporal
    multi-level fusion for any number of levels, widths and clip lengths.
    It is not the released TMFI-Net decoder (its layers and names differ,
    see :class:`TMFINetDecoder` for that one).

    For features ``[B, C_i, T_i, H_i, W_i]`` of ``L`` levels (shallow to
    deep):

    1. each level goes through a lateral convolution of kernel and stride
       ``(s, 1, 1)``, ``s = lateral_temporal_stride``, to ``channels``
       (temporal fusion of neighbouring frames);
    2. top-down fusion: each level adds the fused level above and the
       deepest level, both resized to its size, then a ``1 x 3 x 3``
       convolution;
    3. a gate ``x * sigmoid(conv(x)) + x`` per level;
    4. per level, a head of strided temporal convolutions
       (``head_temporal_strides``) with two 2x upsamplings gives one
       sigmoid map at the output size;
    5. the ``L`` maps are fused by a ``3 x 3`` convolution and
       ``activation``.

    Clip lengths need not divide the strides: a clip is padded by
    repeating its last frame, and frames left after the heads are
    averaged. With the Video Swin features of a 32-frame clip and the
    defaults, its feature shapes follow TMFI-Net's.

    Output: one map per clip ``[B, 1, H, W]``: ``'sigmoid'`` (as TMFI-Net)
    gives values in ``(0, 1)``, ``'softmax'`` a map that sums to 1 over
    its pixels, ``None`` logits.

    Args:
        in_channels (Sequence[int]): Channels of each input level.
            Defaults to the Video Swin-T stages ``(96, 192, 384, 768)``.
        channels (int): Channels of the fused levels. Defaults to 192.
        head_channels (Sequence[int]): Channels of the head
            convolutions. Defaults to ``(96, 48, 24)``.
        lateral_temporal_stride (int): Temporal kernel and stride of the
            lateral convolutions. Defaults to 2.
        head_temporal_strides (Sequence[int]): Temporal stride of each
            head convolution. Defaults to ``(2, 2, 2)``.
        scale_factor (int): Output size over the first level's size, when
            no ``out_size`` is given to :meth:`forward`. Defaults to 4.
        activation (str, optional): ``'sigmoid'``, ``'softmax'`` or None.
            Defaults to ``'sigmoid'``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (96, 192, 384, 768),
        channels: int = 192,
        head_channels: Sequence[int] = (96, 48, 24),
        lateral_temporal_stride: int = 2,
        head_temporal_strides: Sequence[int] = (2, 2, 2),
        scale_factor: int = 4,
        activation: str | None = 'sigmoid',
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(head_channels) != len(head_temporal_strides):
            raise ValueError(
                'head_channels and head_temporal_strides must have one length'
            )
        self.in_channels = tuple(in_channels)
        self.num_levels = len(self.in_channels)
        self.lateral_temporal_stride = lateral_temporal_stride
        self.scale_factor = scale_factor
        self.activation = check_activation(activation)
        s = lateral_temporal_stride
        self.lateral_convs = nn.ModuleList(
            nn.Conv3d(c, channels, (s, 1, 1), stride=(s, 1, 1))
            for c in self.in_channels
        )
        self.fuse_convs = nn.ModuleList(
            nn.Conv3d(
                channels, channels, (1, 3, 3), padding=(0, 1, 1), bias=False
            )
            for _ in range(self.num_levels - 1)
        )
        self.gates = nn.ModuleList(
            _Gate(channels) for _ in range(self.num_levels)
        )
        self.heads = nn.ModuleList(
            _TemporalHead(
                channels,
                head_channels,
                head_temporal_strides,
                num_upsample=min(2, len(head_channels)),
            )
            for _ in range(self.num_levels)
        )
        self.conv_out = nn.Conv2d(self.num_levels, 1, 3, padding=1)

    def forward(
        self, feats: Sequence[Tensor], out_size: tuple | None = None
    ) -> Tensor:
        """Decode one map per clip.

        Args:
            feats (Sequence[Tensor]): ``L`` features ``[B, C_i, T_i, H_i,
                W_i]``, shallow to deep.
            out_size (tuple, optional): Output ``(H, W)``. Defaults to the
                first level's size times ``scale_factor``.

        Returns:
            Tensor: ``[B, 1, H, W]``.
        """
        if len(feats) != self.num_levels:
            raise ValueError(
                f'expected {self.num_levels} feature levels, got {len(feats)}'
            )
        if out_size is None:
            h, w = feats[0].shape[-2:]
            out_size = (h * self.scale_factor, w * self.scale_factor)
        s = self.lateral_temporal_stride
        lat = [
            conv(pad_time(f, s)) for conv, f in zip(self.lateral_convs, feats)
        ]
        top = lat[-1]
        fused = [None] * self.num_levels
        fused[-1] = top
        carry = top
        for i in reversed(range(self.num_levels - 1)):
            size = tuple(lat[i].shape[2:])
            carry = resize_3d(carry, size) + lat[i]
            if i < self.num_levels - 2:
                carry = carry + resize_3d(top, size)
            fused[i] = self.fuse_convs[i](carry)
        maps = [
            head(gate(f), tuple(out_size))
            for head, gate, f in zip(self.heads, self.gates, fused)
        ]
        out = self.conv_out(torch.cat(maps, 1))
        return activate(out, self.activation)
