"""S3D in the layout of the ViNet-S release (``base1`` ... ``base4``)."""

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS

from .s3d import _MIXED, _BasicConv3d, _Mixed, _pad_short, _SepConv3d


def _mixed_stage(in_channels: int, names: tuple) -> tuple[nn.Sequential, int]:
    blocks = []
    for name in names:
        block = _Mixed(in_channels, _MIXED[name])
        blocks.append(block)
        in_channels = block.out_channels
    return nn.Sequential(*blocks), in_channels


@MODELS.register_module()
class ViNetS3D(BaseModule):
    """S3D (Xie et al., ECCV 2018) grouped as the ViNet-S release groups it.

    The same network as :class:`S3D`, with its modules in four sequences
    ``base1`` (stem), ``base2`` (mixed 3b-3c), ``base3`` (4b-4f) and
    ``base4`` (5b-5c) separated by max-pooling, so that the released
    ViNet-S checkpoints load without renaming. The release pools its
    inception branches and between the sequences with 2D poolings over
    reshaped tensors; separable max-pooling over a box is the same as one
    3D max-pooling, which is what runs here.

    Output, shallow to deep, for a clip ``[B, 3, T, H, W]``:

    - ``base1``: 192 channels, ``(T/2, H/4, W/4)``;
    - ``base2``: 480, ``(T/2, H/8, W/8)``;
    - ``base3``: 832, ``(T/4, H/16, W/16)``;
    - ``base4``: 1024, ``(T/8, H/32, W/32)``.

    Args:
        bn_momentum (float): Momentum of the BatchNorm running statistics.
            Defaults to 0.001 (the release's).
        norm_eval (bool): Keep BatchNorm in eval mode while training.
            Defaults to False (the reference trains in train mode).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        bn_momentum: float = 0.001,
        norm_eval: bool = False,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.norm_eval = norm_eval
        self.base1 = nn.Sequential(
            _SepConv3d(3, 64, 7, 2, 3),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            _BasicConv3d(64, 64),
            _SepConv3d(64, 192, 3, 1, 1),
        )
        self.maxp2 = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.base2, c2 = _mixed_stage(192, ('3b', '3c'))
        self.maxp3 = nn.MaxPool3d(3, 2, 1)
        self.base3, c3 = _mixed_stage(c2, ('4b', '4c', '4d', '4e', '4f'))
        self.maxp4 = nn.MaxPool3d(2, 2, 0)
        self.base4, c4 = _mixed_stage(c3, ('5b', '5c'))
        self.out_channels = [192, c2, c3, c4]
        for module in self.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.momentum = bn_momentum

    def train(self, mode: bool = True) -> 'ViNetS3D':
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm3d):
                    module.eval()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """The four levels of a clip (see the class doc)."""
        outs = []
        x = self.base1(x)
        outs.append(x)
        for pool, stage in (
            (self.maxp2, self.base2),
            (self.maxp3, self.base3),
            (self.maxp4, self.base4),
        ):
            x = stage(pool(_pad_short(x, pool)))
            outs.append(x)
        return tuple(outs)
