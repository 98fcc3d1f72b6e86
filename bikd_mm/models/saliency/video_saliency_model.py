"""A video saliency model: clip in, one saliency map out."""

import copy
from collections.abc import Sequence

import torch.nn as nn
from mmengine.model import BaseModel
from torch import Tensor

from bikd_mm.models.base_bikd_model import MemberOutput
from bikd_mm.registry import MODELS

from .losses.functional import reduce_values
from .sample_utils import per_sample_loss, resize_maps, sample_get, sample_map


def _build(cfg):
    return MODELS.build(copy.deepcopy(cfg)) if isinstance(cfg, dict) else cfg


@MODELS.register_module()
class VideoSaliencyModel(BaseModel):
    """Backbone (+ neck) + decoder predicting the saliency map of a clip's
    target frame: bikd_mm's own combinations, and the published models
    (:class:`TMFINet`, :class:`ViNetA`, :class:`ViNetS`) as subclasses.

    Modes of :meth:`forward`:

    - ``'tensor'``: maps ``[B, 1, H, W]`` at the input size;
    - ``'loss'``: ``{loss_name: value}`` of every loss against the
      samples' ``gt_saliency`` (predictions resized to it);
    - ``'predict'``: one dict per sample: the sample's own keys plus
      ``pred_saliency`` ``[h, w]`` at the ground-truth size
      (``gt_saliency``), else at ``ori_shape``, else at the input size.

    Data samples are the plain dicts of :class:`PackSaliencyInputs` (data
    elements with the same fields work too).

    Args:
        backbone (dict): Backbone config, e.g. ``VideoSwinTransformer``,
            ``S3D`` or ``FrameWiseBackbone``; it returns a tuple of
            ``[B, C_i, T_i, H_i, W_i]`` features.
        decoder (dict): Decoder config (``TMFIDecoder``, ``ViNetDecoder``,
            ``TMFINetDecoder``, ...) taking those features and an output
            size.
        neck (dict, optional): Config of a module between backbone and
            decoder (``ViNetANeck``), features in, features out. None: the
            decoder reads the backbone features.
        loss (dict | list[dict], optional): Loss config(s). Defaults to
            ``SaliencyKLDCCLoss`` (KLD - CC, the reference).
        data_preprocessor (dict, optional): Defaults to
            :class:`VideoSaliencyDataPreprocessor` with ImageNet
            statistics.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
        self,
        backbone: dict,
        decoder: dict,
        loss: dict | Sequence[dict] | None = None,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | None = None,
        neck: dict | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='VideoSaliencyDataPreprocessor')
        # Built here, in bikd_mm's registry: mmengine's root registry does
        # not see it without a default scope.
        super().__init__(
            data_preprocessor=_build(data_preprocessor), init_cfg=init_cfg
        )
        self.backbone = _build(backbone)
        if neck is not None:
            self.neck = _build(neck)
        self.decoder = _build(decoder)
        if loss is None:
            loss = dict(type='SaliencyKLDCCLoss')
        losses = [loss] if isinstance(loss, (dict, nn.Module)) else loss
        self.losses = nn.ModuleList(_build(cfg) for cfg in losses)
        names = [m.loss_name for m in self.losses]
        if len(set(names)) != len(names):
            raise ValueError(f'loss names must be unique, got {names}')

    @property
    def with_neck(self) -> bool:
        """Whether the model has a neck."""
        return getattr(self, 'neck', None) is not None

    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """Backbone (and neck) features of clips ``[B, 3, T, H, W]``."""
        feats = self.backbone(inputs)
        return self.neck(feats) if self.with_neck else feats

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """Maps ``[B, 1, H, W]`` at the input size."""
        maps = self.decoder(
            self.extract_feat(inputs), tuple(inputs.shape[-2:])
        )
        return resize_maps(maps, inputs.shape[-2:])

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(
            f'invalid mode {mode!r}: use loss, predict or tensor'
        )

    def loss_by_maps(self, maps: Tensor, data_samples) -> dict:
        """Every loss of ``maps`` ``[B, 1, H, W]`` against the samples."""
        out = {}
        for m in self.losses:
            values = per_sample_loss(m, maps, data_samples)
            reduction = getattr(m, 'reduction', 'mean')
            out[m.loss_name] = reduce_values(
                values, 'mean' if reduction == 'none' else reduction
            )
        return out

    def loss(self, inputs: Tensor, data_samples) -> dict:
        """Losses of a batch (see the class docstring)."""
        return self.forward_train(inputs, data_samples).losses

    def forward_train(self, inputs: Tensor, data_samples) -> MemberOutput:
        """Losses and maps of a batch, as a Bi-KD pair needs them.

        Returns:
            MemberOutput: The loss dict and the maps ``[B, 1, H, W]``.
        """
        maps = self._forward(inputs, data_samples)
        return MemberOutput(self.loss_by_maps(maps, data_samples), maps)

    def predict(self, inputs: Tensor, data_samples=None) -> list[dict]:
        """Predicted map of every clip (see the class docstring)."""
        return self.postprocess(self._forward(inputs), data_samples)

    def postprocess(self, maps: Tensor, data_samples=None) -> list[dict]:
        """Samples with ``pred_saliency`` resized to their target size."""
        outputs = []
        for i in range(maps.shape[0]):
            sample = data_samples[i] if data_samples is not None else None
            gt = sample_map(sample, 'gt_saliency')
            if gt is not None:
                size = tuple(gt.shape[-2:])
            elif sample_get(sample, 'ori_shape') is not None:
                size = tuple(sample_get(sample, 'ori_shape')[:2])
            else:
                size = tuple(maps.shape[-2:])
            pred = resize_maps(maps[i : i + 1], size)[0, 0].detach()
            if isinstance(sample, dict):
                out = dict(sample)
            elif hasattr(sample, 'to_dict'):
                out = dict(sample.to_dict())
            else:
                out = {}
            out['pred_saliency'] = pred
            outputs.append(out)
        return outputs
