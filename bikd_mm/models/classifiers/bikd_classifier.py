"""Bi-KD between mmpretrain classifiers."""

import copy
from dataclasses import dataclass

import torch
from mmengine.logging import MMLogger
from mmpretrain.models.utils.batch_augments import RandomBatchAugment
from mmpretrain.registry import MODELS
from mmpretrain.structures import batch_label_to_onehot, cat_batch_labels
from torch import Tensor

from bikd_mm.core import gt_confidence, select_teachers
from bikd_mm.models.base_bikd_model import BaseBiKDModel
from bikd_mm.models.bikd_options import BiKDOptions, positive
from bikd_mm.models.classifiers.member_adapters import build_adapter

FIRST_MEMBER = 'first'


@dataclass
class ClassifierOptions(BiKDOptions):
    """:class:`BiKDOptions` and the softmax temperature of the KD term."""

    temperature: float = positive(1.0)


@MODELS.register_module()
class BiKDClassifier(BaseBiKDModel):
    """Two or more image classifiers that teach each other (Bi-KD).

    Every member is a stock mmpretrain ``ImageClassifier`` built from its
    own config, with its own data preprocessor and checkpoint. One training
    step::

        loss(): batch augmentation (Mixup, CutMix), once for the pair
                for each member m:
                    member_m.data_preprocessor(batch)
                    adapter.forward_train(member_m) -> own losses, logits_m
                -> confidence of each member: p_m[y] (soft labels:
                   sum_c y_c p_m[c])
                -> select_teachers (most confident member teaches, per
                   sample)
                -> kd_terms(logits, teacher): KL(p_t || p_s)
        train_step(): sum of all losses -> one backward
                      -> every member's optimizer steps

    The teacher is chosen on the labels of the batch, before any loss
    transform: a member's label smoothing changes its own loss, not the
    selection.

    Batch augmentations. Stock configs put Mixup and CutMix in each
    member's data preprocessor (``train_cfg.augments``); members mixing
    separately would see different images and labels. The pair therefore
    switches them off in every member and mixes the raw batch once
    (``batch_augments``); all members then see the same mixed images and
    the same soft labels (``gt_score``). Mixing commutes with a member's
    channel order and per-channel normalisation, so this equals each member
    mixing its own normalised batch with a shared random draw. Mixing needs
    training images of one size (as produced by a crop to a fixed size).

    Args:
        members (list[dict]): Member descriptions: ``name``, ``config`` (a
            file or ``'mmpretrain::...'`` path) or an inline ``model``
            dict, optional ``checkpoint`` (path or URL), ``cfg_options``
            and ``strict``.
        kd_weight (float): Weight of the KD term. Defaults to 1.0.
        temperature (float): Softmax temperature of the KD term (the loss
            is multiplied by T^2). Defaults to 1.0 (the reference).
        normalize (str): ``'all'`` averages the KD term over the batch (the
            reference), ``'masked'`` over taught samples only.
        detach_teacher (bool): Stop the KD gradient into the teaching
            member. Defaults to False (the reference).
        tie (str): Tie rule of :func:`bikd_mm.core.select_teachers`.
            Defaults to ``'auto'`` (the reference).
        batch_augments (str | dict | None): Batch augmentation of the pair:
            ``'first'`` uses that of the first member (in member order) that
            has one; a dict (``augments``, ``probs``, as a member's
            ``train_cfg``) sets one for the pair; None mixes nothing.
            Members never mix on their own. Defaults to ``'first'``.
        data_preprocessor (dict, optional): Preprocessor of the pair; it
            only moves data to the device, each member normalises itself.
        init_cfg (dict, optional): Initialisation config.
    """

    member_registry = MODELS
    member_adapter = staticmethod(build_adapter)

    def __init__(
        self,
        members: list,
        batch_augments: str | dict | None = FIRST_MEMBER,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
        **options,
    ):
        options = ClassifierOptions.of(type(self).__name__, **options)
        super().__init__(members, options, data_preprocessor, init_cfg)
        self.batch_augments = self._take_batch_augments(batch_augments)

    def _take_batch_augments(self, option) -> RandomBatchAugment | None:
        """Switch the members' batch augmentations off; return the pair's."""
        own = {}
        for name, model in self.members.items():
            preprocessor = model.data_preprocessor
            if getattr(preprocessor, 'batch_augments', None) is not None:
                own[name] = preprocessor.batch_augments
                preprocessor.batch_augments = None
        if option == FIRST_MEMBER:
            if not own:
                return None
            source = next(iter(own))
            if len(own) > 1:
                MMLogger.get_current_instance().info(
                    f'BiKDClassifier: every member trains on the batch '
                    f'augmentations of member {source!r}; those of '
                    f'{list(own)[1:]} are off'
                )
            return own[source]
        if option is None:
            return None
        if isinstance(option, dict):
            return RandomBatchAugment(**option)
        raise ValueError(
            f'batch_augments must be {FIRST_MEMBER!r}, a dict (augments, '
            f'probs) or None, got {option!r}'
        )

    def _member_tensor(self, name: str, inputs, data_samples):
        return self.members[name](inputs, data_samples, mode='tensor')

    def mix(self, inputs, data_samples: list) -> tuple:
        """Apply the pair's batch augmentation to a raw training batch.

        Args:
            inputs (list[Tensor] | Tensor): Raw images (before any member's
                normalisation).
            data_samples (list[DataSample]): Their samples with
                ``gt_label``.

        Returns:
            tuple: Mixed float images ``[B, C, H, W]`` and the samples with
            the mixed soft labels in ``gt_score``; the inputs unchanged when
            the pair has no batch augmentation. The given samples are not
            modified.
        """
        if self.batch_augments is None:
            return inputs, data_samples
        data_samples = copy.deepcopy(data_samples)
        if not isinstance(inputs, Tensor):
            shapes = {tuple(img.shape) for img in inputs}
            if len(shapes) > 1:
                raise ValueError(
                    'batch augmentation needs training images of one size; '
                    f'got {sorted(shapes)}. Crop or resize them to a fixed '
                    'size in the train pipeline, or set batch_augments=None'
                )
            inputs = torch.stack(list(inputs))
        if 'gt_score' in data_samples[0]:
            scores = torch.stack([s.gt_score for s in data_samples])
        else:
            labels, indices = cat_batch_labels(
                [s.gt_label for s in data_samples]
            )
            scores = batch_label_to_onehot(labels, indices, self.num_classes)
        inputs, scores = self.batch_augments(
            inputs.float(), scores.to(inputs.device)
        )
        for sample, score in zip(data_samples, scores):
            sample.set_gt_score(score)
        return inputs, data_samples

    def _prepare_batch(self, inputs, data_samples: list) -> tuple:
        """Check the labels, then mix the batch once for every member."""
        self._check_labels(data_samples)
        return self.mix(inputs, data_samples)

    def _transfer(
        self, outputs: dict, member_samples: dict, data_samples: list
    ) -> dict:
        """KD terms, teach shares and training accuracy per sample.

        Returns:
            dict: ``kd.loss_<t>_to_<s>`` for each direction,
            ``<member>.teach_share`` (share of the batch it taught) and
            ``<member>.accuracy`` (top-1 training accuracy in percent,
            against the label, or the dominant label of a mixed sample).
        """
        logits = {n: o.logits for n, o in outputs.items()}
        target = self._targets(data_samples, next(iter(logits.values())))
        return self._kd_losses(logits, target)

    def _check_labels(self, data_samples: list) -> None:
        """Refuse class labels outside ``0 .. num_classes - 1``.

        Stock heads would fail on them with an index error (or a one-hot
        of the wrong width) that names neither the image nor the value.
        """
        labelled = [
            s for s in data_samples if 'gt_label' in s and s.gt_label.numel()
        ]
        self._check_label_values(
            [s.gt_label.reshape(-1) for s in labelled],
            labelled,
            lambda sample: f'image {sample.metainfo.get("img_path", "?")}',
            "check the dataset classes and the heads' num_classes",
        )

    def _targets(self, data_samples: list, logits: Tensor) -> Tensor:
        """The batch labels: ``[B]`` class indices or ``[B, C]`` scores."""
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
            if tuple(target.shape) != tuple(logits.shape):
                raise ValueError(
                    f'soft labels of shape {tuple(target.shape)} do not '
                    f'match the logits {tuple(logits.shape)}'
                )
            return target.to(device=logits.device, dtype=logits.dtype)
        labels = [s.gt_label for s in data_samples]
        if any(label.numel() != 1 for label in labels):
            raise ValueError(
                'BiKDClassifier needs one label per image; '
                'multi-label samples are not supported'
            )
        return (
            torch.cat([label.view(1) for label in labels])
            .to(logits.device)
            .long()
        )

    def _kd_losses(self, logits: dict, target: Tensor) -> dict:
        names = list(logits)
        # One log-softmax per member serves the selection and the KL.
        log_probs = [value.float().log_softmax(1) for value in logits.values()]
        target = target if not target.is_floating_point() else target.float()
        with torch.no_grad():
            confidence = torch.stack(
                [
                    gt_confidence(lp, target, from_log_probs=True)
                    for lp in log_probs
                ]
            )
        teacher = select_teachers(
            confidence, higher_is_better=True, tie=self.tie
        )
        terms, shares = self._transfer_terms(
            log_probs,
            teacher,
            None,
            temperature=self.temperature,
            detach_teacher=self.detach_teacher,
            normalize=self.normalize,
        )
        out = self._direction_losses(terms, self.kd_weight)
        hard = target.argmax(1) if target.is_floating_point() else target
        for t, t_name in enumerate(names):
            share = f'{t_name}.teach_share'
            out[share] = shares[share]
            correct = log_probs[t].detach().argmax(1) == hard
            out[f'{t_name}.accuracy'] = correct.float().mean() * 100
        return out
