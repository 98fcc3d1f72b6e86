"""Grouped decoder of ViNet-A, in its release's layout."""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``[B, C, T, H, W]`` across ``groups``."""
    b, c, t, h, w = x.shape
    return (
        x.view(b, groups, c // groups, t, h, w)
        .transpose(1, 2)
        .reshape(b, c, t, h, w)
    )


def _upsample_to(x: Tensor, size: Sequence[int]) -> Tensor:
    """Trilinear resize of ``[B, C, T, H, W]`` to ``size`` ``(T, H, W)``."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(
        x, size=tuple(size), mode='trilinear', align_corners=False
    )


def _conv(
    in_channels: int,
    out_channels: int,
    kernel: tuple,
    stride: tuple,
    padding: tuple,
    groups: int,
    bias: bool = False,
) -> nn.Conv3d:
    return nn.Conv3d(
        in_channels,
        out_channels,
        kernel,
        stride=stride,
        padding=padding,
        groups=groups,
        bias=bias,
    )


@MODELS.register_module()
class ViNetADecoder(BaseModule):
    """ViNet-A's decoder: grouped 3D convolutions over the fused SlowFast
    features, with the neck's skips concatenated on the way up.

    Stage ``k`` (``convtsp1`` ... ``convtsp4``) is a grouped ``3x3x3``
    convolution + ReLU whose output is concatenated with skip ``5 - k``
    and, where the next stage has at least 8 groups, channel-shuffled
    across them. ``convtsp2`` and ``convtsp3`` end by upsampling to the
    next skip's size (``2x``; the release's ``57/29`` factor between the
    ``H/16`` and ``H/8`` skips at 456 pixels wide). Then two temporally
    strided stages (``convtsp5``, ``convtsp6``) bring time to one frame
    and space to the input size, ending in ``1x1x1`` convolutions and a
    sigmoid. Groups halve from ``groups`` stage after stage (32, 16, 8, 8,
    4, 2, 1 by default).

    Input: ``(fused, skip1, skip2, skip3, skip4)`` of :class:`ViNetANeck`.
    Output: maps ``[B, 1, 4 * H_1, 4 * W_1]`` (``H_1``: height of
    ``skip1``; 256x456 for ViNet-A's input).

    Args:
        in_channels (int): Channels of the fused features. Defaults to
            1536.
        skip_channels (Sequence[int]): Channels of the four skips.
            Defaults to ``(40, 160, 320, 640)``.
        groups (int): Groups of the first convolution. Defaults to 32.
        channel_shuffle (bool): Shuffle channels before the grouped
            stages. Defaults to True.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        in_channels: int = 1536,
        skip_channels: Sequence[int] = (40, 160, 320, 640),
        groups: int = 32,
        channel_shuffle: bool = True,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        s1, s2, s3, s4 = skip_channels

        def g(div: int) -> int:
            return max(1, groups // div)

        k3, p1 = (3, 3, 3), (1, 1, 1)
        one = (1, 1, 1)
        self.convtsp1 = nn.Sequential(
            _conv(in_channels, s4, k3, one, p1, g(1)), nn.ReLU()
        )
        self.convtsp2 = nn.Sequential(
            _conv(2 * s4, s3, k3, one, p1, g(2)), nn.ReLU()
        )
        self.convtsp3 = nn.Sequential(
            _conv(2 * s3, s2, k3, one, p1, g(4)), nn.ReLU()
        )
        self.convtsp4 = nn.Sequential(
            _conv(2 * s2, s1, k3, one, p1, g(4)), nn.ReLU()
        )
        k2, s2t, p0 = (2, 3, 3), (2, 1, 1), (0, 1, 1)
        self.convtsp5 = nn.Sequential(
            _conv(2 * s1, 64, k2, s2t, p0, g(8)), nn.ReLU()
        )
        self.convtsp6 = nn.Sequential(
            _conv(64, 32, k2, s2t, p0, g(16)),
            nn.ReLU(),
            nn.Upsample(scale_factor=(1, 2, 2), mode='trilinear'),
            _conv(32, 16, k2, one, p0, g(32)),
            nn.ReLU(),
            nn.Conv3d(16, 16, 1, bias=False),
            nn.ReLU(),
            nn.Conv3d(16, 1, 1, bias=True),
            nn.Sigmoid(),
        )
        # Shuffle before a stage only where it has enough groups to mix.
        self.shuffle_groups = [
            gr if channel_shuffle and gr >= 8 else 0
            for gr in (g(1), g(2), g(4), g(8))
        ]

    def _shuffle(self, x: Tensor, k: int) -> Tensor:
        groups = self.shuffle_groups[k]
        return channel_shuffle(x, groups) if groups else x

    def forward(
        self, feats: Sequence[Tensor], out_size: Sequence[int] | None = None
    ) -> Tensor:
        """Maps ``[B, 1, H, W]`` of the neck's outputs.

        Args:
            feats (Sequence[Tensor]): ``(fused, skip1, ..., skip4)``.
            out_size (Sequence[int], optional): Unused; the map comes at
                four times the size of ``skip1``.
        """
        x, skip1, skip2, skip3, skip4 = feats
        z = torch.cat([self.convtsp1(x), skip4], 1)
        z = self._shuffle(z, 0)
        z = _upsample_to(self.convtsp2(z), skip3.shape[2:])
        z = self._shuffle(torch.cat([z, skip3], 1), 1)
        z = _upsample_to(self.convtsp3(z), skip2.shape[2:])
        z = self._shuffle(torch.cat([z, skip2], 1), 2)
        z = torch.cat([self.convtsp4(z), skip1], 1)
        z = self._shuffle(z, 3)
        z = self.convtsp5(z)
        t, h, w = z.shape[2:]
        z = _upsample_to(z, (t, 2 * h, 2 * w))
        z = self.convtsp6(z)
        if z.shape[2] != 1:
            raise ValueError(
                f'ViNetADecoder: {z.shape[2]} frames left at the output; '
                'the clip must give 8 slow-pathway frames (32 input frames)'
            )
        return z[:, :, 0]
