"""Bi-KD between mmseg segmentors, and the checks of their batches."""

import logging
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.registry import MODELS
from torch import Tensor

from bikd_mm.core import (
    LowestScoreRule,
    kd_terms,
    per_image_mean,
    select_teachers,
)
from bikd_mm.core.ce_masked_kl import MAX_TRITON_MEMBERS
from bikd_mm.core.kd_term import KERNEL_NAMES
from bikd_mm.models.base_bikd_model import BaseBiKDModel, MemberOutput
from bikd_mm.models.bikd_options import BiKDOptions, choice, flag, positive
from bikd_mm.models.losses.bce_dice_loss import BCEDiceLoss
from bikd_mm.models.segmentors.member_adapters import build_adapter
from bikd_mm.patches import sync_free_accuracy

GRANULARITIES = ('pixel', 'image')
SELECTION_LOSSES = ('ce', 'bce_dice', 'task_loss')
KD_RESOLUTIONS = ('logits', 'labels')


@dataclass
class SegmentorOptions(BiKDOptions):
    """:class:`BiKDOptions` and those of segmentation pairs (see
    :class:`BiKDSegmentor`)."""

    granularity: str = choice('pixel', GRANULARITIES)
    kd_resolution: str = choice('logits', KD_RESOLUTIONS)
    temperature: float = positive(1.0)
    selection_loss: str = choice('ce', SELECTION_LOSSES)
    share_decode_ce: bool = flag(True)
    kd_kernel: str = choice('auto', KERNEL_NAMES)
    sync_free_accuracy: bool = flag(True)


def annotation_of(sample) -> str:
    """The annotation file of ``sample`` (its image when unknown)."""
    meta = sample.metainfo
    return str(meta.get('seg_map_path', meta.get('img_path', '?')))


class UnlabelledBatches:
    """Counts training batches without a labelled pixel and warns.

    The warning names the files of the batch; it is given for the 1st,
    10th, 100th, ... such batch, with the count, so a split whose labels
    are all ``ignore_index`` is reported without flooding the log.

    Args:
        owner (str): Who checks, for the message.
    """

    def __init__(self, owner: str):
        self.owner = owner
        self.count = 0

    def add(self, data_samples: list, ignore_index: int) -> None:
        """Count one batch without a labelled pixel."""
        self.count += 1
        if str(self.count).rstrip('0') != '1':  # 1, 10, 100, ...
            return
        files = [annotation_of(s) for s in data_samples]
        print_log(
            f'{self.owner}: {self.count} training batch(es) so far without '
            f'a labelled pixel; in this one every label of {files[:8]}'
            f'{" ..." if len(files) > 8 else ""} is ignore_index '
            f'{ignore_index}, so it adds no task loss and no KD term. If '
            'every batch is like this the training split trains nothing: '
            'check its annotations (label values, reduce_zero_label, '
            'a palette PNG saved as colours)',
            logger='current',
            level=logging.WARNING,
        )


def _padding(model: nn.Module) -> tuple:
    pre = model.data_preprocessor
    size = getattr(pre, 'size', None)
    return (
        tuple(size) if size is not None else None,
        getattr(pre, 'size_divisor', None),
        getattr(pre, 'seg_pad_val', None),
    )


@MODELS.register_module()
class BiKDSegmentor(BaseBiKDModel):
    """Two or more segmentors that teach each other (Bi-KD).

    Every member is a stock mmseg segmentor built from its own config, with
    its own data preprocessor and checkpoint: per-pixel heads (UPerNet,
    FCN, ...) and Mask2Former, in any combination. One training step::

        loss(): check_labels (shapes, values, unlabelled batches)
                for each member m:
                    member_m.data_preprocessor(batch)
                    adapter.forward_train(member_m) -> own losses, logits_m
                    (Mask2Former: the log of its per-pixel class
                    distribution, from the same forward), inside
                    bikd_mm.patches.sync_free_accuracy
                -> _align_to_labels (the KD resolution)
                -> kd_terms(labels=...), in one chunked pass over the
                   logits: per-pixel CE of each member (also the decode
                   loss of plain-CE members at label resolution),
                   select_teachers (lowest loss teaches, per pixel or
                   image; selection_loss='task_loss': each Mask2Former
                   member's total loss per image), KL(p_t || p_s) where
                   t teaches
        train_step(): sum of all losses -> one backward
                      -> every member's optimizer steps (together every
                      accumulative_counts-th iteration)

    Args:
        members (list[dict]): Member descriptions: ``name``, ``config`` (a
            file or ``'mmseg::...'`` path) or an inline ``model`` dict,
            optional ``checkpoint`` (path or URL), ``cfg_options`` and
            ``strict``.
        granularity (str): ``'pixel'`` selects the teacher per pixel by its
            cross-entropy; ``'image'`` per image by its mean
            cross-entropy (the reference). Defaults to ``'pixel'``.
        kd_resolution (str): ``'labels'`` computes selection and KD on
            logits upsampled to the label size; ``'logits'`` on logits
            resized to the largest member logit size, with labels
            downsampled by nearest neighbour. Defaults to ``'logits'``.
        kd_weight (float): Weight of the KD term; 0 skips it entirely (the
            members then train independently on the same batches).
            Defaults to 1.0.
        temperature (float): Softmax temperature of the KD term (the loss
            is multiplied by T^2). Defaults to 1.0 (the reference).
        normalize (str): ``'all'`` averages the KD term over every valid
            pixel (the reference), ``'masked'`` over taught pixels only.
        detach_teacher (bool): Stop the KD gradient into the teaching
            member. Defaults to False (the reference).
        selection_loss (str): The task loss that picks teachers: ``'ce'``
            (cross-entropy of the softmax, or of the sigmoid for binary
            one-channel members, or of a Mask2Former member's per-pixel
            class distribution; per image its mean over valid pixels),
            ``'bce_dice'`` (:class:`BCEDiceLoss` on the raw logits, for
            members trained with it: per pixel its BCE, per image BCE +
            Dice) or ``'task_loss'`` (with ``granularity='image'`` and
            Mask2Former members only: each image's total task loss, class
            + mask + Dice over all decoder layers, the reference for
            Mask2Former pairs). Defaults to ``'ce'``.
        share_decode_ce (bool): With ``kd_resolution='labels'``, compute
            the decode cross-entropy of members whose decode loss is one
            plain ``CrossEntropyLoss`` from the log-probabilities the KD
            term uses: the same loss and accuracy values, one upsampling
            and one log-softmax of the full-size logits less per member.
            Defaults to True.
        tie (str): Tie rule of :func:`bikd_mm.core.select_teachers`.
            Defaults to ``'auto'`` (the reference).
        selection (str): ``'best'``: per pixel or image the member with the
            lowest loss teaches (Bi-KD); ``'all'``: every member teaches
            every other on every valid pixel (Deep Mutual Learning, usually
            with ``detach_teacher=True``). Defaults to ``'best'``.
        fixed_teacher (str, optional): Name of a member that teaches every
            valid pixel and is frozen (one-way distillation from a fixed
            teacher). Defaults to None.
        kd_kernel (str): How the CE, teachers and KL are computed:
            ``'chunked'`` (or ``'torch'``; chunked PyTorch, every case),
            ``'triton'`` (fused Triton kernels: 2 to 4 members, every
            selection; an error otherwise), ``'auto'`` (the kernels where
            they apply to CUDA logits, else chunked PyTorch) or
            ``'reference'`` (the plain formula, for checking). See
            :func:`bikd_mm.core.kd_terms`. Defaults to ``'auto'``.
        sync_free_accuracy (bool): Members' decode and auxiliary heads log
            their top-1 ``acc_seg`` with ``argmax`` and masked sums instead
            of mmseg's ``accuracy`` (``topk`` and boolean indexing, which
            waits for the GPU): the same value, except where a pixel's top
            scores tie exactly. See
            :func:`bikd_mm.patches.sync_free_accuracy`. Defaults
            to True.
        data_preprocessor (dict, optional): Preprocessor of the pair; it
            only moves data to the device, each member normalises itself.
        init_cfg (dict, optional): Initialisation config.
    """

    member_registry = MODELS
    member_adapter = staticmethod(build_adapter)

    def __init__(
        self,
        members: list,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
        **options,
    ):
        options = SegmentorOptions.of(type(self).__name__, **options)
        super().__init__(members, options, data_preprocessor, init_cfg)
        # Set by TeacherMapVisualizationHook for the steps it draws.
        self.record_kd_maps = False
        self.last_kd_maps: dict | None = None
        self.ignore_index = self._same_value(
            {n: a.ignore_index for n, a in self.adapters.items()},
            'members must share one ignore_index; got ',
        )
        self._check_same_padding()
        self.unlabelled_batches = UnlabelledBatches(type(self).__name__)
        self._check_selection_loss()
        self._check_kd_kernel()

    def _check_same_padding(self) -> None:
        """Refuse members whose preprocessors pad the batch differently.

        The KD term compares the members' predictions pixel by pixel, so
        their padded labels must have one shape; padded label pixels take
        ``seg_pad_val``, which must be the ``ignore_index``, or they would
        count as a class. Either would only show at the first step.

        Raises:
            ValueError: Naming the members and their ``size`` /
                ``size_divisor`` / ``seg_pad_val``.
        """
        pads = {name: _padding(m) for name, m in self.members.items()}
        for name, (_, _, seg_pad_val) in pads.items():
            if seg_pad_val is not None and seg_pad_val != self.ignore_index:
                raise ValueError(
                    f'member {name!r}: data_preprocessor.seg_pad_val='
                    f'{seg_pad_val} differs from its ignore_index='
                    f'{self.ignore_index}; padded label pixels would count '
                    'as a class. Set seg_pad_val to the ignore_index'
                )
        sizes = {n: p[0] for n, p in pads.items() if p[0] is not None}
        if len(set(sizes.values())) > 1:
            raise ValueError(
                'members pad the batch to different sizes: '
                + ', '.join(f'{n} size={s}' for n, s in sizes.items())
                + '; give every member the same data_preprocessor size'
            )
        if not sizes:
            return
        size = next(iter(sizes.values()))
        for name, (own, divisor, _) in pads.items():
            if own is None and divisor and any(s % divisor for s in size):
                raise ValueError(
                    f'members pad the batch to different sizes: '
                    f'{next(iter(sizes))!r} to size={size}, {name!r} to '
                    f'multiples of size_divisor={divisor}; give every member '
                    'the same data_preprocessor size'
                )

    def _check_kd_kernel(self) -> None:
        """``kd_kernel='triton'`` only where the kernels apply."""
        num = len(self.member_names)
        if self.kd_kernel == 'triton' and num > MAX_TRITON_MEMBERS:
            raise ValueError(
                f"kd_kernel='triton' takes 2 to {MAX_TRITON_MEMBERS} "
                f"members, got {num} (use kd_kernel='auto' or 'torch')"
            )

    def _check_selection_loss(self) -> None:
        per_pixel = [
            n
            for n in self.member_names
            if not self.adapters[n].mask_classification
        ]
        queries = [n for n in self.member_names if n not in per_pixel]
        if self.selection_loss == 'bce_dice' and queries:
            raise ValueError(
                "selection_loss='bce_dice' needs per-pixel logits; "
                f"Mask2Former members {queries} have none (use 'ce')"
            )
        if self.selection_loss != 'task_loss':
            return
        if self.granularity != 'image':
            raise ValueError(
                "selection_loss='task_loss' selects per image: set "
                "granularity='image'"
            )
        if per_pixel:
            raise ValueError(
                "selection_loss='task_loss' compares the members' own "
                'total losses, which only Mask2Former members share on one '
                f'scale; members {per_pixel} have per-pixel heads (use '
                "selection_loss='ce', the per-image mean cross-entropy of "
                'every member, Mask2Former ones included)'
            )

    def _prepare_batch(self, inputs, data_samples: list) -> tuple:
        """Refuse labels that do not fit the images or the classes."""
        self.check_labels(inputs, data_samples)
        return inputs, data_samples

    def check_labels(self, inputs, data_samples: list) -> None:
        """Refuse label maps that do not fit their images or the classes;
        count a batch without a labelled pixel.

        A stock pipeline may resize an image and its label map together;
        when it does not, a label map of another size would be silently
        resized by the loss, or fail in ``torch.stack`` naming no file. A
        three-channel (RGB) label PNG fails in the cross-entropy naming
        nothing; labels outside the classes fail with an index error. Each
        is refused with the annotation file. A batch whose every label is
        ``ignore_index`` adds no task loss and no KD term; it is reported
        (:class:`UnlabelledBatches`), since a split whose labels are all
        ignored trains nothing.

        Args:
            inputs (list[Tensor] | Tensor): The batch images ``[C, H, W]``.
            data_samples (list[SegDataSample]): Their samples.

        Raises:
            ValueError: Naming the annotation file and what is wrong.
        """
        for image, sample in zip(inputs, data_samples):
            label = sample.gt_sem_seg.data
            where = annotation_of(sample)
            if label.ndim != 3 or label.shape[0] != 1:
                raise ValueError(
                    f'annotation {where}: a label map holds one class index '
                    f'per pixel, got an array of shape {tuple(label.shape)}'
                    ': is it an RGB or RGBA (colour) PNG? Save the class '
                    'indices as a one-channel (grayscale or palette) PNG'
                )
            if tuple(label.shape[-2:]) != tuple(image.shape[-2:]):
                height, width = label.shape[-2:]
                raise ValueError(
                    f'annotation {where}: label map of {height}x{width} for '
                    f'the image {sample.metainfo.get("img_path", "?")} of '
                    f'{image.shape[-2]}x{image.shape[-1]} (height x width); '
                    'the labels would not line up with the pixels. Resize '
                    'both in the pipeline (transforms after LoadAnnotations '
                    'resize the labels too) or fix the annotation'
                )
        if not data_samples:
            return
        labelled = self._check_label_values(
            [s.gt_sem_seg.data for s in data_samples],
            data_samples,
            lambda sample: f'annotation {annotation_of(sample)}',
            'check the dataset classes and reduce_zero_label',
            self.ignore_index,
        )
        if not labelled:
            self.unlabelled_batches.add(data_samples, self.ignore_index)

    def _member_forward(
        self, name: str, inputs, data_samples: list
    ) -> MemberOutput:
        """One member's own losses and logits (its decode CE left to the
        KD pass where it is shared; each image's task loss where it
        selects teachers)."""
        options = {}
        if self.kd_weight and self.selection_loss == 'task_loss':
            options = dict(image_task_loss=True)
        with sync_free_accuracy(self.sync_free_accuracy):
            return self.adapters[name].forward_train(
                inputs,
                data_samples,
                decode_loss=name not in self._shared_ce_members(),
                **options,
            )

    def _transfer(
        self, outputs: dict, member_samples: dict, data_samples: list
    ) -> dict:
        """KD terms, teach shares and the shared decode losses.

        Returns:
            dict: ``kd.loss_<t>_to_<s>`` for each direction,
            ``<member>.teach_share`` and, for members whose decode CE
            comes from the KD pass, ``<member>.decode.*``; empty with
            ``kd_weight=0``.
        """
        labels = None
        first = self.member_names[0]
        for name, samples in member_samples.items():
            size = tuple(samples[0].gt_sem_seg.data.shape[-2:])
            if labels is None:
                labels = torch.stack(
                    [s.gt_sem_seg.data[0] for s in samples]
                ).long()
            elif size != tuple(labels.shape[-2:]):
                raise ValueError(
                    f'members pad the batch differently: {name!r} labels '
                    f'{size} vs {first!r} {tuple(labels.shape[-2:])}; '
                    'give every member the same data_preprocessor size'
                )
        if not self.kd_weight:
            return {}
        image_task_loss = {
            n: o.image_task_loss
            for n, o in outputs.items()
            if o.image_task_loss is not None
        }
        return self._kd_losses(
            {n: o.logits for n, o in outputs.items()},
            labels,
            self._shared_ce_members(),
            image_task_loss,
        )

    def _shared_ce_members(self) -> set:
        """Members whose decode CE comes from the KD log-probabilities."""
        if not (
            self.share_decode_ce
            and self.kd_weight
            and self.kd_resolution == 'labels'
        ):
            return set()
        return {
            n
            for n in self.member_names
            if self.adapters[n].shareable_ce is not None
        }

    def _shared_decode_losses(
        self, name: str, preds: Tensor, ce: Tensor, labels: Tensor
    ) -> dict:
        """``decode.loss_ce`` and ``decode.acc_seg`` as ``loss_by_feat``
        computes them, from the top-1 predictions at label resolution and
        the per-pixel cross-entropy ``ce`` (0 on ignored pixels)."""
        loss = self.adapters[name].shareable_ce
        valid = labels != self.ignore_index
        # mmseg averages over every pixel unless avg_non_ignore is set.
        denom = valid.sum() if loss.avg_non_ignore else labels.numel()
        correct = (preds == labels) & valid
        return {
            f'{name}.decode.{loss.loss_name}': loss.loss_weight
            * ce.sum()
            / denom,
            # Shaped like mmseg's accuracy(): one value per top-k.
            f'{name}.decode.acc_seg': (
                correct.sum() * 100.0 / valid.sum().clamp(min=1)
            ).reshape(1),
        }

    def _kd_losses(
        self,
        logits: dict,
        labels: Tensor,
        shared: set = frozenset(),
        image_task_loss: dict | None = None,
    ) -> dict:
        """The KD terms, teach shares and shared decode losses.

        Args:
            logits (dict): Each member's logits (log-probabilities for
                Mask2Former members) ``[B, C, h, w]``.
            labels (Tensor): Labels ``[B, H, W]``.
            shared (set): Members whose decode CE is computed here.
            image_task_loss (dict, optional): Each member's per-image total
                task loss ``[B]``, for ``selection_loss='task_loss'``.
        """
        names = self.member_names
        aligned, labels = self._align_to_labels(logits, labels)
        class_logits = [
            self._class_logits(name, value)
            for name, value in zip(names, aligned)
        ]

        def select(ce: Tensor) -> Tensor:
            return self._select(ce, aligned, labels, image_task_loss)

        predict = [self.record_kd_maps or n in shared for n in names]
        ce, terms, teacher, preds, shares = self._best_teacher_terms(
            class_logits, labels, select, predict, shared
        )
        out = self._direction_losses(terms, self.kd_weight)
        for m, name in enumerate(names):
            if name in shared:
                out.update(
                    self._shared_decode_losses(name, preds[m], ce[m], labels)
                )
        if self.record_kd_maps:
            self.last_kd_maps = dict(
                labels=labels.detach(),
                teacher=teacher.detach(),
                preds={n: preds[m] for m, n in enumerate(names)},
            )
        out.update(shares)
        return out

    def _kl_options(self) -> dict:
        return dict(
            temperature=self.temperature,
            detach_teacher=self.detach_teacher,
            normalize=self.normalize,
        )

    def _best_teacher_terms(
        self, class_logits, labels, select, predict, shared
    ) -> tuple:
        """Bi-KD (and one-way KD): the best member teaches per pixel or
        image; with ``selection='all'`` (Deep Mutual Learning) every member
        teaches every other on every valid pixel. One pass over the logits
        gives every member's CE, the teachers and the KL; only the logits
        are kept for backward.

        Returns:
            tuple: Per-pixel CE ``[N, B, H, W]``, KD terms ``[N, N]``,
            teachers ``[B, H, W]``, top-1 predictions (per member, None
            where not in ``predict``) and teach shares.
        """
        per_element = self._selects_per_pixel()
        mutual = self.selection == 'all'
        terms, teacher, ce, preds = kd_terms(
            class_logits,
            self._pixel_rule() if per_element else select,
            labels=labels,
            ignore_index=self.ignore_index,
            per_element=per_element,
            predict=predict,
            kernel=self.kd_kernel,
            mutual=mutual,
            **self._kl_options(),
        )
        shares = self._teach_shares(teacher, labels != self.ignore_index)
        return ce, terms, teacher, preds, shares

    def _selects_per_pixel(self) -> bool:
        """Whether each pixel's teacher depends on that pixel alone."""
        return self.fixed_teacher is not None or (
            self.granularity == 'pixel' and self.selection_loss == 'ce'
        )

    def _pixel_rule(self) -> LowestScoreRule:
        """The teacher of each pixel from the members' CE there, as a
        declared rule (the Triton kernels apply it themselves)."""
        fixed = self.fixed_teacher
        return LowestScoreRule(
            tie=self.tie,
            fixed=None if fixed is None else self.member_names.index(fixed),
        )

    def _select(
        self,
        ce: Tensor,
        aligned: list,
        labels: Tensor,
        image_task_loss: dict | None,
    ) -> Tensor:
        """The teacher per pixel (``-1``: none) from the members' per-pixel
        CE ``[N, B, H, W]`` or the configured selection loss."""
        names = self.member_names
        valid = labels != self.ignore_index
        if self._selects_per_pixel():
            return self._pixel_rule()(ce).masked_fill(~valid, -1)
        if self.selection_loss == 'task_loss':
            if not image_task_loss:
                raise ValueError(
                    "selection_loss='task_loss' needs every member's "
                    'per-image task loss (image_task_loss)'
                )
            task = torch.stack([image_task_loss[n] for n in names])
        else:
            task = self._selection_scores(aligned, ce, labels)
        if self.granularity == 'pixel':  # by BCE (selection_loss='bce_dice')
            return select_teachers(
                task, higher_is_better=False, valid=valid, tie=self.tie
            )
        teacher = select_teachers(
            task,
            higher_is_better=False,
            valid=valid.flatten(1).any(1),
            tie=self.tie,
        )
        teacher = teacher[:, None, None].expand_as(labels)
        return teacher.masked_fill(~valid, -1)

    def _class_logits(self, name: str, logits: Tensor) -> Tensor:
        """Logits over classes: a binary member's one sigmoid channel x
        becomes ``[0, x]``, whose softmax is ``[1 - sigmoid(x),
        sigmoid(x)]`` (class 1 is the foreground, as in mmseg)."""
        if self.adapters[name].binary:
            return torch.cat([torch.zeros_like(logits), logits], dim=1)
        return logits

    def _selection_scores(
        self, aligned: list, ce: Tensor, labels: Tensor
    ) -> Tensor:
        """Task loss of every member, ``[N, B, H, W]`` or ``[N, B]``.

        Args:
            aligned (list[Tensor]): Raw logits at the KD resolution.
            ce (Tensor): Their per-pixel cross-entropy ``[N, B, H, W]``.
            labels (Tensor): Labels at the KD resolution.
        """
        valid = labels != self.ignore_index
        if self.selection_loss == 'bce_dice':
            reduction = 'image' if self.granularity == 'image' else 'none'
            loss = BCEDiceLoss(reduction=reduction)
            return torch.stack(
                [
                    loss(value, labels, ignore_index=self.ignore_index)
                    for value in aligned
                ]
            )
        if self.granularity == 'image':
            return torch.stack([per_image_mean(t, valid) for t in ce])
        return ce

    def _align_to_labels(self, logits: dict, labels: Tensor) -> tuple:
        """Every member's logits and the labels at the KD resolution: the
        labels' size, or the largest logits' (labels downsampled by nearest
        neighbour)."""
        size = None
        if self.kd_resolution == 'labels':
            size = tuple(labels.shape[-2:])
        aligned, size = self._align(
            logits,
            size,
            {n: a.align_corners for n, a in self.adapters.items()},
        )
        if size != tuple(labels.shape[-2:]):
            labels = F.interpolate(
                labels[:, None].float(), size=size, mode='nearest'
            )[:, 0].long()
        return aligned, labels

    def _member_tensor(self, name: str, inputs, data_samples):
        """A member's raw network output; for Mask2Former members the class
        and mask logits of every decoder layer."""
        adapter = self.adapters[name]
        if adapter.mask_classification:
            return adapter.forward_tensor(inputs, data_samples)
        return super()._member_tensor(name, inputs, data_samples)
