"""Decoder of TMFI-Net, in its release's layout."""

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS


class SpatialGate(nn.Module):
    """``x * sigmoid(gate(x)) + x`` with a ``1x3x3`` convolution ``gate``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gate = nn.Conv3d(channels, channels, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.gate(x)) + x


def _up(factor: int) -> nn.Upsample:
    return nn.Upsample(scale_factor=(1, factor, factor), mode='trilinear')


def _head(in_channels: int, num_up: int, final_up: int) -> nn.Sequential:
    """Three temporally strided ``2x3x3`` convolutions, the first
    ``num_up`` gaps upsampling 2x, a ``1x3x3`` convolution to one channel,
    an optional final upsampling and a sigmoid."""
    layers: list[nn.Module] = []
    c = in_channels
    for i in range(3):
        if i:
            layers.append(nn.ReLU())
            if i <= num_up:
                layers.append(_up(2))
        layers.append(
            nn.Conv3d(
                c >> i,
                c >> (i + 1),
                (2, 3, 3),
                stride=(2, 1, 1),
                padding=(0, 1, 1),
                bias=False,
            )
        )
    layers.append(nn.ReLU())
    if num_up > 2:
        layers.append(_up(2))
    layers.append(
        nn.Conv3d(c // 8, 1, (1, 3, 3), padding=(0, 1, 1), bias=False)
    )
    if final_up > 1:
        layers.append(_up(final_up))
    layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


@MODELS.register_module()
class TMFINetDecoder(BaseModule):
    """TMFI-Net's decoder (Zhou et al., 2023) over the four Video Swin
    stages.

    1. Each stage ``i`` goes through a temporal ``2x1x1`` convolution of
       stride 2 to ``channels`` (``conv1`` ... ``conv4``).
    2. Top-down fusion: ``t3 = up2(y4) + y3``, ``t2 = up2(t3) + y2 +
       up4(y4)``, ``t1 = up2(t2) + y1 + up8(y4)``, each smoothed by a
       ``1x3x3`` convolution (``convs3``, ``convs2``, ``convs1``).
    3. Each of the four levels is gated (:class:`SpatialGate`) and decoded
       by its own head (``convtsp1`` ... ``convtsp4``): three temporally
       strided convolutions (halving channels), upsampling to the input
       size, one channel and a sigmoid.
    4. The four maps are concatenated and fused by a ``1x3x3`` convolution
       and a sigmoid (``convout``).

    Upsampling is trilinear (``align_corners=False``) by 2 in space, as
    released. Input: the four stages ``[B, C_i, T, H / 2**(i+2), W /
    2**(i+2)]`` (``T = 16`` for 32 frames); output: maps ``[B, 1, H,
    W]``.

    Args:
        in_channels (Sequence[int]): Channels of the four stages.
            Defaults to ``(96, 192, 384, 768)`` (Video Swin-S).
        channels (int): Channels after the temporal convolutions.
            Defaults to 192.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (96, 192, 384, 768),
        channels: int = 192,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 4:
            raise ValueError(
                f'TMFINetDecoder needs 4 stages, got {len(in_channels)}'
            )
        for i, c in enumerate(in_channels):
            setattr(
                self,
                f'conv{i + 1}',
                nn.Conv3d(c, channels, (2, 1, 1), stride=(2, 1, 1)),
            )
        for i in range(3):
            setattr(
                self,
                f'convs{i + 1}',
                nn.Conv3d(
                    channels,
                    channels,
                    (1, 3, 3),
                    padding=(0, 1, 1),
                    bias=False,
                ),
            )
        # Heads of levels 1-4: levels 2-4 upsample in every gap (and
        # levels 3 and 4 once more at the end, 2x and 4x).
        self.convtsp1 = _head(channels, num_up=2, final_up=1)
        self.convtsp2 = _head(channels, num_up=3, final_up=1)
        self.convtsp3 = _head(channels, num_up=3, final_up=2)
        self.convtsp4 = _head(channels, num_up=3, final_up=4)
        self.convout = nn.Sequential(
            nn.Conv3d(4, 1, (1, 3, 3), padding=(0, 1, 1)), nn.Sigmoid()
        )
        for i in range(4):
            setattr(self, f'gate{i + 1}', SpatialGate(channels))
        self.up2, self.up4, self.up8 = _up(2), _up(4), _up(8)

    def forward(
        self, feats: Sequence[Tensor], out_size: Sequence[int] | None = None
    ) -> Tensor:
        """Maps ``[B, 1, H, W]`` of the four stages.

        Args:
            feats (Sequence[Tensor]): Stages, shallow to deep.
            out_size (Sequence[int], optional): Unused; the map comes at
                four times the size of the shallowest stage.
        """
        y1, y2, y3, y4 = (
            getattr(self, f'conv{i + 1}')(f) for i, f in enumerate(feats)
        )
        t3 = self.up2(y4) + y3
        t2 = self.up2(t3) + y2 + self.up4(y4)
        t1 = self.up2(t2) + y1 + self.up8(y4)
        levels = (self.convs1(t1), self.convs2(t2), self.convs3(t3), y4)
        maps = [
            getattr(self, f'convtsp{i + 1}')(getattr(self, f'gate{i + 1}')(y))
            for i, y in enumerate(levels)
        ]
        out = self.convout(torch.cat(maps, 1))
        if out.shape[2] != 1:
            raise ValueError(
                f'TMFINetDecoder: {out.shape[2]} frames left at the output; '
                'it needs 16 frames per stage (32 input frames)'
            )
        return out[:, :, 0]
