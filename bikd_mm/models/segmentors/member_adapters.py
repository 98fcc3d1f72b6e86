"""Run one member segmentor through its public API for a Bi-KD step.

An adapter returns, from a single forward pass, a
:class:`~bikd_mm.models.base_bikd_model.MemberOutput`: the member's own
losses (exactly what the stock ``model.loss`` returns) and the per-pixel
class logits that the KD term compares across members.
"""

import torch.nn as nn
from mmseg.models.decode_heads import Mask2FormerHead, MaskFormerHead
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix
from torch import Tensor

from bikd_mm.models.base_bikd_model import MemberOutput


def auxiliary_losses(
    model: EncoderDecoder, feats: tuple, data_samples: list
) -> dict:
    """What ``model.loss`` adds for its auxiliary heads (``aux.*`` or
    ``aux_<i>.*``), from backbone features already computed.

    Args:
        model (EncoderDecoder): The member.
        feats (tuple[Tensor]): Its ``extract_feat`` output.
        data_samples (list[SegDataSample]): The batch's samples.

    Returns:
        dict: The auxiliary losses; empty without auxiliary heads.
    """
    losses = {}
    if not model.with_auxiliary_head:
        return losses
    heads = model.auxiliary_head
    if isinstance(heads, nn.ModuleList):
        for idx, head in enumerate(heads):
            losses.update(
                add_prefix(
                    head.loss(feats, data_samples, model.train_cfg),
                    f'aux_{idx}',
                )
            )
    else:
        losses.update(
            add_prefix(heads.loss(feats, data_samples, model.train_cfg), 'aux')
        )
    return losses


class EncoderDecoderAdapter:
    """Adapter for ``EncoderDecoder`` members with per-pixel decode heads.

    Args:
        model (EncoderDecoder): The member.
    """

    # Per-pixel logits, not query predictions (see Mask2FormerAdapter).
    mask_classification = False

    def __init__(self, model: EncoderDecoder):
        self.model = model
        head = model.decode_head
        self.num_classes = head.num_classes
        # mmseg's binary heads predict one sigmoid channel for 2 classes.
        self.binary = head.out_channels == 1
        self.ignore_index = head.ignore_index
        self.align_corners = head.align_corners

    @property
    def shareable_ce(self) -> CrossEntropyLoss | None:
        """The decode loss when it is one plain softmax cross-entropy.

        Such a loss can be computed from the log-probabilities that the KD
        term already has at label resolution, with the same value as
        ``loss_by_feat``; any other decode loss returns None.
        """
        head = self.model.decode_head
        loss = head.loss_decode
        if isinstance(loss, nn.ModuleList):
            if len(loss) != 1:
                return None
            loss = loss[0]
        plain = (
            type(loss) is CrossEntropyLoss
            and not loss.use_sigmoid
            and not loss.use_mask
            and loss.class_weight is None
            and head.sampler is None
            and not self.binary
        )
        return loss if plain else None

    def forward_train(
        self, inputs: Tensor, data_samples: list, decode_loss: bool = True
    ) -> MemberOutput:
        """Own losses and decode logits of one batch.

        Args:
            inputs (Tensor): The member's preprocessed images.
            data_samples (list[SegDataSample]): Its samples.
            decode_loss (bool): Compute the decode head's losses; False
                when the caller computes them from shared log-probabilities
                (see :attr:`shareable_ce`).

        Returns:
            MemberOutput: The losses that ``model.loss`` would return
            (``decode.*``, ``aux.*``) and the decode head's logits
            ``[B, C, h, w]`` at the head's output resolution.
        """
        model = self.model
        feats = model.extract_feat(inputs)
        seg_logits = model.decode_head(feats)
        losses = {}
        if decode_loss:
            losses = add_prefix(
                model.decode_head.loss_by_feat(seg_logits, data_samples),
                'decode',
            )
        losses.update(auxiliary_losses(model, feats, data_samples))
        return MemberOutput(losses, seg_logits)


def build_adapter(model: nn.Module, name: str):
    """Pick the adapter for a member model.

    Returns:
        EncoderDecoderAdapter | Mask2FormerAdapter: The adapter.

    Raises:
        TypeError: If no adapter supports the member's class.
    """
    # Imported here: the Mask2Former adapter imports auxiliary_losses
    # from this module.
    from bikd_mm.models.segmentors.mask2former_adapter import (
        Mask2FormerAdapter,
    )

    if isinstance(model, EncoderDecoder) and not isinstance(
        model.decode_head, nn.ModuleList
    ):
        if isinstance(model.decode_head, Mask2FormerHead):
            return Mask2FormerAdapter(model)
        if not isinstance(model.decode_head, MaskFormerHead):
            return EncoderDecoderAdapter(model)
    head = getattr(model, 'decode_head', None)
    what = type(model).__name__
    if head is not None:
        what += f' with {type(head).__name__}'
    raise TypeError(
        f'member {name!r}: {what} is not supported as a '
        'Bi-KD segmentation member (supported: EncoderDecoder with one '
        'decode head, per-pixel or Mask2FormerHead; not MaskFormerHead)'
    )
