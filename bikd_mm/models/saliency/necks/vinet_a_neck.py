"""Neck of ViNet-A: fuse the SlowFast pathways, thin the skips."""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS


def _pointwise(in_channels: int, out_channels: int) -> nn.Sequential:
    # ``<name>.0.weight`` as released.
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, 1, bias=False), nn.ReLU()
    )


@MODELS.register_module()
class ViNetANeck(BaseModule):
    """ViNet-A's neck between :class:`SlowFast` and :class:`ViNetADecoder`.

    - The slow features go through a pointwise convolution + ReLU
      (``conv_slow``, 2048 to 1024 channels).
    - The fast features ``[B, C, T, H, W]`` are viewed as ``[B, C *
      fold, T / fold, H, W]`` (consecutive channel-time blocks, as the
      release reshapes them), max-pooled to the slow features' ``(T, H,
      W)`` and concatenated to them: 1024 + 512 = 1536 channels.
    - Each skip goes through a pointwise convolution + ReLU that halves its
      channels (``conv_skip1`` ... ``conv_skip4``).

    The release pools the fast features to a fixed ``(8, 16, 29)``, the
    slow features' size for 32 frames at 256x456; pooling to the slow
    features' size is the same there and lets other sizes run.

    Args:
        slow_channels (int): Slow feature channels. Defaults to 2048.
        skip_channels (Sequence[int]): Channels of the four skips.
            Defaults to ``(80, 320, 640, 1280)``.
        fast_fold (int): Frames folded into channels. Defaults to 2.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        slow_channels: int = 2048,
        skip_channels: Sequence[int] = (80, 320, 640, 1280),
        fast_fold: int = 2,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fast_fold = fast_fold
        self.conv_slow = _pointwise(slow_channels, slow_channels // 2)
        for i, c in enumerate(skip_channels):
            setattr(self, f'conv_skip{i + 1}', _pointwise(c, c // 2))
        self.num_skips = len(skip_channels)

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """``(slow, fast, *skips)`` to ``(fused, *thinned skips)``."""
        slow, fast, *skips = feats
        if len(skips) != self.num_skips:
            raise ValueError(
                f'ViNetANeck expects {self.num_skips} skips, got {len(skips)}'
            )
        b, c, t, h, w = fast.shape
        if t % self.fast_fold:
            raise ValueError(
                f'fast features have {t} frames, not a multiple of '
                f'fast_fold={self.fast_fold}'
            )
        fast = fast.reshape(b, c * self.fast_fold, t // self.fast_fold, h, w)
        fast = F.adaptive_max_pool3d(fast, tuple(slow.shape[2:]))
        fused = torch.cat([self.conv_slow(slow), fast], dim=1)
        thinned = [
            getattr(self, f'conv_skip{i + 1}')(s) for i, s in enumerate(skips)
        ]
        return (fused, *thinned)
