"""Run a Mask2Former member for a Bi-KD step.

A Mask2Former member predicts queries (class scores and a mask each), not
per-pixel logits. One forward pass gives its own losses (exactly what the
stock ``model.loss`` returns, deep supervision included) and, from the last
decoder layer of the same pass, its per-pixel class distribution (see
:func:`bikd_mm.core.mask_classification_log_probs`), which the KD term
compares with the other members'.
"""

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix
from torch import Tensor

from bikd_mm.core import mask_classification_log_probs
from bikd_mm.models.base_bikd_model import MemberOutput
from bikd_mm.models.segmentors.member_adapters import auxiliary_losses
from bikd_mm.patches import local_mask_count


class Mask2FormerAdapter:
    """Adapter for ``EncoderDecoder`` members with a ``Mask2FormerHead``.

    The "logits" it hands to the KD term are the log-probabilities of the
    member's per-pixel class distribution at the resolution of its mask
    predictions (1/4 of the input for the stock heads): a log-softmax of
    them is the identity, so the KD term, the per-pixel cross-entropy and
    the resizing to the KD resolution treat them as any member's logits.
    Resizing them bilinearly and renormalising is what a per-pixel member's
    logits go through (bilinear logits, then a softmax); the masks are
    not upsampled before the sum over queries, as mmseg's ``predict`` does
    for its output, which would cost a ``[B, Q, H, W]`` map at full size.

    Patched inside :meth:`image_task_losses`: mmdet's ``reduce_mean`` of
    the Mask2Former head is the identity there
    (:func:`bikd_mm.patches.local_mask_count`), so that each image is
    normalised by its own matched masks; see the table in
    :mod:`bikd_mm.patches`.

    Args:
        model (EncoderDecoder): The member.
    """

    mask_classification = True
    # Mask2Former predicts C classes (+ "no object"), never one sigmoid
    # channel, and its losses are not a per-pixel cross-entropy.
    binary = False
    shareable_ce = None

    def __init__(self, model: EncoderDecoder):
        self.model = model
        head = model.decode_head
        self.num_classes = head.num_classes
        self.ignore_index = head.ignore_index
        self.align_corners = head.align_corners

    def forward_train(
        self,
        inputs: Tensor,
        data_samples: list,
        decode_loss: bool = True,
        image_task_loss: bool = False,
    ) -> MemberOutput:
        """Own losses and per-pixel class log-probabilities of one batch.

        Args:
            inputs (Tensor): The member's preprocessed images.
            data_samples (list[SegDataSample]): Its samples.
            decode_loss (bool): Compute the decode head's losses.
                Defaults to True.
            image_task_loss (bool): Also compute each image's total task
                loss ``[B]`` (see :meth:`image_task_losses`); else the
                output's ``image_task_loss`` is None. Defaults to False.

        Returns:
            MemberOutput: The losses that ``model.loss`` would return
            (``decode.loss_cls``, ``decode.loss_mask``, ``decode.loss_dice``,
            ``decode.d<i>.*`` for the intermediate decoder layers,
            ``aux.*``) and log-probabilities
            ``[B, C, h, w]`` at the mask predictions' resolution.
        """
        model = self.model
        head = model.decode_head
        feats = model.extract_feat(inputs)
        # The order of the stock loss(), so that both draw the same random
        # points for the mask losses.
        gt_instances, img_metas = head._seg_data_to_instance_data(data_samples)
        all_cls, all_masks = head(feats, data_samples)
        losses = {}
        if decode_loss:
            losses = add_prefix(
                head.loss_by_feat(all_cls, all_masks, gt_instances, img_metas),
                'decode',
            )
        losses.update(auxiliary_losses(model, feats, data_samples))
        task = (
            self.image_task_losses(all_cls, all_masks, gt_instances, img_metas)
            if image_task_loss
            else None
        )
        log_probs = mask_classification_log_probs(all_cls[-1], all_masks[-1])
        return MemberOutput(losses, log_probs, task)

    @torch.no_grad()
    def image_task_losses(
        self,
        all_cls: list,
        all_masks: list,
        gt_instances: list,
        img_metas: list,
    ) -> Tensor:
        """Each image's total decode loss, for teacher selection only.

        The stock loss averages over the batch (its normaliser is the
        number of matched masks in the whole batch), so it has no per-image
        value. Here ``loss_by_feat`` runs on each image's slice of the
        outputs already computed: the sum of its class, mask and Dice
        losses over every decoder layer, with the member's loss weights,
        normalised by that image's own matches. No forward pass, no
        gradient; the matching and the sampled points are drawn anew.
        mmdet's ``reduce_mean`` is the identity meanwhile
        (:func:`bikd_mm.patches.local_mask_count`): a collective per image
        would hang ranks whose batches differ in size.

        Args:
            all_cls (list[Tensor]): Class logits per decoder layer,
                ``[B, Q, C + 1]`` each.
            all_masks (list[Tensor]): Mask logits per decoder layer,
                ``[B, Q, h, w]`` each.
            gt_instances (list[InstanceData]): Per-image class masks.
            img_metas (list[dict]): Per-image meta information.

        Returns:
            Tensor: ``[B]`` total losses.
        """
        head = self.model.decode_head
        totals = []
        with local_mask_count():
            for i in range(len(gt_instances)):
                losses = head.loss_by_feat(
                    [cls[i : i + 1] for cls in all_cls],
                    [masks[i : i + 1] for masks in all_masks],
                    gt_instances[i : i + 1],
                    img_metas[i : i + 1],
                )
                # Some terms come as [1]-shaped tensors (mmdet's normaliser).
                totals.append(
                    sum(v.sum() for k, v in losses.items() if 'loss' in k)
                )
        return torch.stack(totals)

    def forward_tensor(self, inputs: Tensor, data_samples: list | None):
        """The head's raw outputs: class and mask logits of every decoder
        layer (a stock ``EncoderDecoder`` has no tensor mode for a
        Mask2Former head)."""
        model = self.model
        return model.decode_head(model.extract_feat(inputs), data_samples)
