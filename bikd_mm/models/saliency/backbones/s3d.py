"""S3D backbone with the key layout of the public Kinetics-400 weights."""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS

from .pretrained import load_backbone_weights, select_backbone_keys

#: Output channels of the four branches of each mixed block, and the
#: bottleneck channels of branches 1 and 2.
_MIXED = {
    '3b': (64, (96, 128), (16, 32), 32),
    '3c': (128, (128, 192), (32, 96), 64),
    '4b': (192, (96, 208), (16, 48), 64),
    '4c': (160, (112, 224), (24, 64), 64),
    '4d': (128, (128, 256), (24, 64), 64),
    '4e': (112, (144, 288), (32, 64), 64),
    '4f': (256, (160, 320), (32, 128), 128),
    '5b': (256, (160, 320), (32, 128), 128),
    '5c': (384, (192, 384), (48, 128), 128),
}


def _bn(channels: int, momentum: float = 0.001) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=1e-3, momentum=momentum, affine=True)


class _BasicConv3d(nn.Module):
    """Conv3d (no bias), BatchNorm, ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            bias=False,
        )
        self.bn = _bn(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class _SepConv3d(nn.Module):
    """A ``k x k`` spatial convolution followed by a ``k`` temporal one."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        k, s, p = kernel_size, stride, padding
        self.conv_s = nn.Conv3d(
            in_channels,
            out_channels,
            (1, k, k),
            (1, s, s),
            (0, p, p),
            bias=False,
        )
        self.bn_s = _bn(out_channels)
        self.relu_s = nn.ReLU()
        self.conv_t = nn.Conv3d(
            out_channels,
            out_channels,
            (k, 1, 1),
            (s, 1, 1),
            (p, 0, 0),
            bias=False,
        )
        self.bn_t = _bn(out_channels)
        self.relu_t = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu_s(self.bn_s(self.conv_s(x)))
        return self.relu_t(self.bn_t(self.conv_t(x)))


class _Mixed(nn.Module):
    """Inception block: 1x1, 1x1 + sep 3x3, 1x1 + sep 3x3, pool + 1x1."""

    def __init__(self, in_channels: int, spec: tuple) -> None:
        super().__init__()
        c0, (b1, c1), (b2, c2), c3 = spec
        self.branch0 = nn.Sequential(_BasicConv3d(in_channels, c0))
        self.branch1 = nn.Sequential(
            _BasicConv3d(in_channels, b1), _SepConv3d(b1, c1, 3, 1, 1)
        )
        self.branch2 = nn.Sequential(
            _BasicConv3d(in_channels, b2), _SepConv3d(b2, c2, 3, 1, 1)
        )
        self.branch3 = nn.Sequential(
            nn.MaxPool3d(3, stride=1, padding=1),
            _BasicConv3d(in_channels, c3),
        )
        self.out_channels = c0 + c1 + c2 + c3

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch0(x),
                self.branch1(x),
                self.branch2(x),
                self.branch3(x),
            ],
            1,
        )


def _scaled(spec: tuple, ratio: float) -> tuple:
    def r(c: int) -> int:
        return max(1, round(c * ratio))

    c0, (b1, c1), (b2, c2), c3 = spec
    return r(c0), (r(b1), r(c1)), (r(b2), r(c2)), r(c3)


@MODELS.register_module()
class S3D(BaseModule):
    """S3D (Xie et al., ECCV 2018) as a four-level feature pyramid.

    The layer names follow the public PyTorch S3D whose Kinetics-400
    weights (``S3D_kinetics400.pt``) TASED-Net and ViNet start from: one
    ``base`` sequence of 16 modules (``base.0.conv_s``, ``base.5.branch1.1
    .conv_t``, ...), so those weights load without renaming; a
    ``module.`` prefix and the ``fc`` classifier are skipped
    (:meth:`load_pretrained_state_dict`).

    Outputs, as ViNet reads them, for a clip ``[B, 3, T, H, W]`` and
    ``width_ratio=1`` (index: channels, size):

    - 0: 192, ``(T/2, H/4, W/4)`` (after ``base.3``);
    - 1: 480, ``(T/2, H/8, W/8)`` (after ``base.6``);
    - 2: 832, ``(T/4, H/16, W/16)`` (after ``base.12``);
    - 3: 1024, ``(T/8, H/32, W/32)`` (after ``base.15``).

    Clips too short for a pooling window are padded by repeating their
    last frame there, so short clips work.

    Args:
        width_ratio (float): Multiplier of every channel count, for tiny
            test and demo models (the pretrained weights need 1.0).
            Defaults to 1.0.
        out_indices (Sequence[int]): Levels to output. Defaults to
            ``(0, 1, 2, 3)``.
        frozen_stages (int): Freeze the first ``k`` levels (``-1``: none).
            Defaults to -1.
        norm_eval (bool): Keep BatchNorm in eval mode while training.
            Defaults to False.
        bn_momentum (float): Momentum of the BatchNorm running statistics.
            The public weights use 0.001, which keeps their statistics
            while fine-tuning; a model trained from scratch needs a larger
            value (e.g. 0.1) to estimate them. Defaults to 0.001.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=...)`` loads the public weights.
    """

    #: Index in ``base`` of the last module of each level.
    LEVEL_ENDS = (3, 6, 12, 15)

    def __init__(
        self,
        width_ratio: float = 1.0,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        bn_momentum: float = 0.001,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if any(not 0 <= i < 4 for i in out_indices):
            raise ValueError(
                f'out_indices must be in [0, 4), got {out_indices}'
            )
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        def r(c: int) -> int:
            return max(1, round(c * width_ratio))

        layers: list[nn.Module] = [
            _SepConv3d(3, r(64), 7, 2, 3),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            _BasicConv3d(r(64), r(64)),
            _SepConv3d(r(64), r(192), 3, 1, 1),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        ]
        channels = r(192)
        level_channels = [channels]
        for name in (
            '3b',
            '3c',
            None,
            '4b',
            '4c',
            '4d',
            '4e',
            '4f',
            None,
            '5b',
            '5c',
        ):
            if name is None:
                level_channels.append(channels)
                layers.append(
                    nn.MaxPool3d(3, 2, 1)
                    if len(level_channels) == 2
                    else nn.MaxPool3d(2, 2, 0)
                )
                continue
            block = _Mixed(channels, _scaled(_MIXED[name], width_ratio))
            layers.append(block)
            channels = block.out_channels
        level_channels.append(channels)
        self.base = nn.Sequential(*layers)
        for module in self.base.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.momentum = bn_momentum
        self._level_channels = level_channels
        self._freeze_stages()

    @property
    def out_channels(self) -> list[int]:
        """Channels of each output."""
        return [self._level_channels[i] for i in self.out_indices]

    def _freeze_stages(self) -> None:
        if self.frozen_stages <= 0:
            return
        last = self.LEVEL_ENDS[min(self.frozen_stages, 4) - 1]
        for module in list(self.base)[: last + 1]:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'S3D':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm3d):
                    module.eval()
        return self

    def init_weights(self) -> None:
        """Load ``init_cfg``'s checkpoint, or keep PyTorch's init."""
        if (
            self.init_cfg is not None
            and self.init_cfg.get('type') == 'Pretrained'
        ):
            load_backbone_weights(self, self.init_cfg, self._select)
            return
        super().init_weights()

    def _select(self, state_dict: dict) -> dict:
        return select_backbone_keys(
            state_dict,
            self,
            prefixes=('module.', 'backbone.'),
            heads=('fc.',),
        )

    def load_pretrained_state_dict(
        self, state_dict: dict, strict: bool = True
    ):
        """Load the public weights (``module.`` prefix optional, ``fc``
        skipped).

        Args:
            state_dict (dict): Weights of ``S3D_kinetics400.pt`` or of
                this backbone.
            strict (bool): Require every key to match. Defaults to True.

        Returns:
            NamedTuple: ``missing_keys`` and ``unexpected_keys``.
        """
        return self.load_state_dict(self._select(state_dict), strict=strict)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """Features of a clip ``[B, 3, T, H, W]`` (see the class doc)."""
        outs = []
        for index, module in enumerate(self.base):
            if isinstance(module, nn.MaxPool3d):
                x = _pad_short(x, module)
            x = module(x)
            if index in self.LEVEL_ENDS:
                level = self.LEVEL_ENDS.index(index)
                if level in self.out_indices:
                    outs.append(x)
                if level == max(self.out_indices):
                    break
        return tuple(outs)


def _pad_short(x: Tensor, pool: nn.MaxPool3d) -> Tensor:
    """Repeat the last frame/row/column where a dimension is shorter than
    the pooling window allows."""
    kernel = _triple(pool.kernel_size)
    padding = _triple(pool.padding)
    pad = []
    for size, k, p in zip(
        reversed(x.shape[2:]), reversed(kernel), reversed(padding)
    ):
        pad += [0, max(0, k - size - 2 * p)]
    if any(pad):
        x = F.pad(x, pad, mode='replicate')
    return x


def _triple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3
