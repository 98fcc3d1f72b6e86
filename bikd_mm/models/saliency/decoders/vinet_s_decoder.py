"""Grouped decoder of ViNet-S, in its release's layout."""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS


class FrameUpsample2x(nn.Module):
    """Double height and width of every frame of ``[B, C, T, H, W]``.

    Bilinear per frame with ``align_corners=True``, as the ViNet-S release
    upsamples (its ``BiCubic=True`` option).
    """

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        out = F.interpolate(
            x.reshape(b * c, t, h, w),
            size=(2 * h, 2 * w),
            mode='bilinear',
            align_corners=True,
        )
        return out.view(b, c, t, 2 * h, 2 * w)


def _conv(
    in_channels: int,
    out_channels: int,
    t: int,
    groups: int,
    spatial: int = 3,
) -> nn.Conv3d:
    pad = spatial // 2
    return nn.Conv3d(
        in_channels,
        out_channels,
        (t, spatial, spatial),
        stride=(t, 1, 1),
        padding=(0, pad, pad),
        groups=groups,
        bias=False,
    )


@MODELS.register_module()
class ViNetSDecoder(BaseModule):
    """ViNet-S's decoder: grouped 3D convolutions that fuse the S3D levels
    along time.

    From the deepest level up, each stage convolves (grouped, temporal
    kernel = temporal stride), upsamples 2x and is concatenated with the
    next shallower level **along time** (dim 2); a last stage reduces time
    to one frame and ends with a ``1x1x1`` convolution and a sigmoid.
    With S3D's levels of 32 frames (4, 8, 16 and 16 frames) the temporal
    kernels are 1, 3, 5, 5, 2, 2.

    Input: the four levels of :class:`ViNetS3D`, shallow to deep.
    Output: maps ``[B, 1, 4 * H_0, 4 * W_0]`` (``H_0``: height of the
    shallowest level; 224x384 for ViNet-S's input).

    Args:
        in_channels (Sequence[int]): Channels of the four levels, shallow
            to deep. Defaults to ``(192, 480, 832, 1024)``.
        groups (Sequence[int]): Groups of the six convolutions. Defaults to
            ``(32, 16, 8, 4, 2, 1)`` (the released ``root_grouping``
            model).
        temporal_kernels (Sequence[int]): Temporal kernel (and stride) of
            the six convolutions. Defaults to ``(1, 3, 5, 5, 2, 2)``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (192, 480, 832, 1024),
        groups: Sequence[int] = (32, 16, 8, 4, 2, 1),
        temporal_kernels: Sequence[int] = (1, 3, 5, 5, 2, 2),
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        c0, c1, c2, c3 = in_channels
        g, k = tuple(groups), tuple(temporal_kernels)
        if len(g) != 6 or len(k) != 6:
            raise ValueError('groups and temporal_kernels need 6 values each')
        up = FrameUpsample2x
        self.convtsp1 = nn.Sequential(
            _conv(c3, c2, k[0], g[0]), nn.ReLU(), up()
        )
        self.convtsp2 = nn.Sequential(
            _conv(c2, c1, k[1], g[1]), nn.ReLU(), up()
        )
        self.convtsp3 = nn.Sequential(
            _conv(c1, c0, k[2], g[2]), nn.ReLU(), up()
        )
        self.convtsp4 = nn.Sequential(
            _conv(c0, 64, k[3], g[3]),
            nn.ReLU(),
            up(),
            _conv(64, 32, k[4], g[4]),
            nn.ReLU(),
            up(),
            _conv(32, 32, k[5], g[5], spatial=1),
            nn.ReLU(),
            nn.Conv3d(32, 1, 1, bias=True),
            nn.Sigmoid(),
        )

    def forward(
        self, feats: Sequence[Tensor], out_size: Sequence[int] | None = None
    ) -> Tensor:
        """Maps ``[B, 1, H, W]`` of the four levels.

        Args:
            feats (Sequence[Tensor]): Levels, shallow to deep.
            out_size (Sequence[int], optional): Unused; the map comes at
                four times the size of the shallowest level.
        """
        y3, y2, y1, y0 = feats
        z = torch.cat([self.convtsp1(y0), y1], 2)
        z = torch.cat([self.convtsp2(z), y2], 2)
        z = torch.cat([self.convtsp3(z), y3], 2)
        z = self.convtsp4(z)
        if z.shape[2] != 1:
            raise ValueError(
                f'ViNetSDecoder: {z.shape[2]} frames left at the output; '
                'the temporal kernels do not fit this clip length'
            )
        return z[:, :, 0]
