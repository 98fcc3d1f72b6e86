"""SlowFast-R50 with the skip outputs of ViNet-A, in its release's layout."""

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS


class _Bottleneck3d(nn.Module):
    """ResNet bottleneck with a temporal (``3x1x1``) or pointwise first
    convolution and a spatial ``1x3x3`` second one."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        temporal: bool = False,
        downsample: bool = False,
    ) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        kernel, pad = ((3, 1, 1), (1, 0, 0)) if temporal else (1, 0)
        self.conv1 = nn.Conv3d(
            in_channels, planes, kernel, padding=pad, bias=False
        )
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(
            planes,
            planes,
            (1, 3, 3),
            stride=(1, stride, stride),
            padding=(0, dilation, dilation),
            dilation=(1, dilation, dilation),
            bias=False,
        )
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if downsample:
            # Keys ``downsample.0`` and ``downsample_bn`` as released.
            self.downsample = nn.Sequential(
                nn.Conv3d(
                    in_channels,
                    out_channels,
                    1,
                    stride=(1, stride, stride),
                    bias=False,
                )
            )
            self.downsample_bn = nn.BatchNorm3d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x
        if self.downsample is not None:
            identity = self.downsample_bn(self.downsample(x))
        return self.relu(out + identity)


def _stage(
    in_channels: int,
    planes: int,
    blocks: int,
    stride: int,
    dilation: int,
    temporal: bool,
) -> nn.Sequential:
    out_channels = planes * _Bottleneck3d.expansion
    layers = [
        _Bottleneck3d(
            in_channels,
            planes,
            stride,
            dilation,
            temporal,
            downsample=stride != 1 or in_channels != out_channels,
        )
    ]
    layers += [
        _Bottleneck3d(out_channels, planes, 1, dilation, temporal)
        for _ in range(1, blocks)
    ]
    return nn.Sequential(*layers)


@MODELS.register_module()
class SlowFast(BaseModule):
    """SlowFast network (Feichtenhofer et al., ICCV 2019) as ViNet-A uses it.

    A fast pathway sees every frame with ``beta`` times the channels; a slow
    one sees every ``alpha``-th frame. Before each slow stage, a strided
    temporal convolution of the fast features (``Tconv1`` ... ``Tconv4``)
    is concatenated to the slow features. The last stage is dilated instead
    of strided (output stride 16). Parameter names are those of the ViNet-A
    release (``fast_res1.0.conv1``, ``slow_res3.2.bn2``, ``Tconv4``, ...),
    so its checkpoints load without renaming.

    Output, for a clip ``[B, 3, T, H, W]`` with the defaults (``T = 32`` at
    256x456 in ViNet-A):

    - slow features ``[B, 2048, T/4, H/16, W/16]``;
    - fast features ``[B, 256, T, H/16, W/16]``;
    - four skips, the slow-pathway inputs of the four stages with their
      fused fast features: 80 channels at ``H/4``, 320 at ``H/4``, 640 at
      ``H/8`` and 1280 at ``H/16``, all with ``T/4`` frames.

    Args:
        layers (Sequence[int]): Blocks per stage. Defaults to ``(3, 4, 6,
            3)`` (ResNet-50).
        alpha (int): Frame rate ratio of the pathways. Defaults to 4.
        beta (float): Channel ratio of the fast pathway. Defaults to 0.125.
        fuse_kernel_size (int): Temporal kernel of the lateral
            convolutions. Defaults to 5.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        alpha: int = 4,
        beta: float = 0.125,
        fuse_kernel_size: int = 5,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(layers) != 4:
            raise ValueError(f'layers must have 4 stages, got {layers}')
        self.alpha = alpha
        fast = int(64 * beta)
        expansion = _Bottleneck3d.expansion
        self.fast_conv1 = nn.Conv3d(
            3, fast, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False
        )
        self.fast_bn1 = nn.BatchNorm3d(fast)
        self.fast_relu = nn.ReLU(inplace=True)
        self.fast_maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        strides, dilations = (1, 2, 2, 1), (1, 1, 1, 2)
        in_ch = fast
        for i, planes in enumerate((64, 128, 256, 512)):
            p = int(planes * beta)
            setattr(
                self,
                f'fast_res{i + 1}',
                _stage(in_ch, p, layers[i], strides[i], dilations[i], True),
            )
            in_ch = p * expansion

        self.slow_conv1 = nn.Conv3d(
            3, 64, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False
        )
        self.slow_bn1 = nn.BatchNorm3d(64)
        self.slow_relu = nn.ReLU(inplace=True)
        self.slow_maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        # The fused input of each slow stage: its own channels plus twice
        # beta times as many from the fast pathway.
        slow_in = 64
        for i, planes in enumerate((64, 128, 256, 512)):
            fused = slow_in + 2 * int(slow_in * beta)
            setattr(
                self,
                f'slow_res{i + 1}',
                _stage(
                    fused,
                    planes,
                    layers[i],
                    strides[i],
                    dilations[i],
                    temporal=i >= 2,
                ),
            )
            slow_in = planes * expansion

        pad = fuse_kernel_size // 2
        fast_out = [fast] + [int(p * beta) * expansion for p in (64, 128, 256)]
        for i, c in enumerate(fast_out):
            setattr(
                self,
                f'Tconv{i + 1}',
                nn.Conv3d(
                    c,
                    2 * c,
                    (fuse_kernel_size, 1, 1),
                    stride=(alpha, 1, 1),
                    padding=(pad, 0, 0),
                    bias=False,
                ),
            )
        self.out_channels = [
            slow_in,
            in_ch,
            64 + 2 * fast,
            256 + 2 * fast_out[1],
            512 + 2 * fast_out[2],
            1024 + 2 * fast_out[3],
        ]

    def _fast(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        x = self.fast_maxpool(
            self.fast_relu(self.fast_bn1(self.fast_conv1(x)))
        )
        laterals = []
        for i in range(4):
            laterals.append(getattr(self, f'Tconv{i + 1}')(x))
            x = getattr(self, f'fast_res{i + 1}')(x)
        return x, laterals

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """Slow, fast and skip features of a clip (see the class doc)."""
        fast, laterals = self._fast(x)
        y = x[:, :, :: self.alpha]
        y = self.slow_maxpool(
            self.slow_relu(self.slow_bn1(self.slow_conv1(y)))
        )
        skips = []
        for i in range(4):
            y = torch.cat([y, laterals[i]], dim=1)
            skips.append(y)
            y = getattr(self, f'slow_res{i + 1}')(y)
        return (y, fast, *skips)
