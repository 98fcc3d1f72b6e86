"""A 2D OpenMMLab backbone applied to every frame of a clip."""

import copy
from collections.abc import Sequence

from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS


@MODELS.register_module()
class FrameWiseBackbone(BaseModule):
    """Any mmpretrain backbone, applied to each frame independently.

    The cheap way to start from an OpenMMLab 2D checkpoint: the frames of a
    clip are folded into the batch, the 2D backbone runs once on them, and
    each of its outputs is unfolded into a clip feature
    ``[B, C_i, T, H_i, W_i]``; the temporal decoder that follows models
    time. The 2D backbone is built from ``mmpretrain.registry.MODELS`` when
    this class is instantiated, so this module imports without mmpretrain.
    Its weights are ``net.*``; load a classifier checkpoint with the 2D
    backbone's own ``init_cfg=dict(type='Pretrained', checkpoint=...,
    prefix='backbone.')``.

    Args:
        backbone (dict): The mmpretrain backbone config, e.g.
            ``dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3))``.
        out_channels (Sequence[int], optional): Channels of its outputs,
            reported by :attr:`out_channels` for the decoder config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        backbone: dict,
        out_channels: Sequence[int] | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        try:
            from mmpretrain.registry import MODELS as PRETRAIN_MODELS
        except ImportError as err:
            raise ImportError(
                'FrameWiseBackbone needs mmpretrain (and mmcv) to build '
                f'{backbone.get("type")!r}'
            ) from err
        cfg = copy.deepcopy(dict(backbone))
        cfg.setdefault('_scope_', 'mmpretrain')
        self.net = PRETRAIN_MODELS.build(cfg)
        self._out_channels = (
            list(out_channels) if out_channels is not None else None
        )

    @property
    def out_channels(self) -> list[int] | None:
        """Channels of each output, as given to the constructor."""
        return self._out_channels

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """Features of a clip.

        Args:
            x (Tensor): Clip ``[B, C, T, H, W]``.

        Returns:
            tuple[Tensor]: ``[B, C_i, T, H_i, W_i]`` per 2D output.
        """
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        feats = self.net(frames)
        if isinstance(feats, Tensor):
            feats = (feats,)
        return tuple(
            f.reshape(b, t, *f.shape[1:]).transpose(1, 2).contiguous()
            for f in feats
            if f.dim() == 4
        )
