"""The auxiliary-head losses of an ``EncoderDecoder`` member."""

import torch.nn as nn
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix


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
