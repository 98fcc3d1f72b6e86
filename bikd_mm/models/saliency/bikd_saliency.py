"""Bi-KD between video saliency models."""

import copy
from dataclasses import dataclass

import torch
from torch import Tensor

from bikd_mm.core import generalized_kl, kd_terms, select_teachers
from bikd_mm.core.distribution_kl import MATLAB_EPS
from bikd_mm.models.base_bikd_model import BaseBiKDModel, MemberOutput
from bikd_mm.models.bikd_options import BiKDOptions, choice, positive, size
from bikd_mm.registry import MODELS

from .losses.functional import normalize_sum
from .sample_utils import per_sample_loss, resize_maps, targets_of

GRANULARITIES = ('sample', 'pixel')


@dataclass
class SaliencyOptions(BiKDOptions):
    """:class:`BiKDOptions` and those of saliency pairs (see
    :class:`BiKDSaliency`)."""

    granularity: str = choice('sample', GRANULARITIES)
    kd_size: tuple | None = size(None)
    eps: float = positive(MATLAB_EPS)


@MODELS.register_module()
class BiKDSaliency(BaseBiKDModel):
    """Two or more video saliency models that teach each other (Bi-KD).

    Every member is a :class:`VideoSaliencyModel` built from its own config
    (its own data preprocessor, so its own normalisation and input size)
    and checkpoint. The batch holds either one clip per sample for every
    member, or, with the dataset's ``member_clips`` and
    :class:`SplitMemberClips`, ``{member: clips}``: each member's own
    frames around the shared target frame (the published models read
    different windows). One training step::

        for each member m:
            member_m.data_preprocessor(batch[m])   # its clips
            member_m.forward_train -> own losses, map_m
        maps resized bilinearly to a common size
        selection: per sample, the member with the lowest
                   selection_loss (KLD - CC vs. gt_saliency) teaches
        KD ('sample'): masked KL(p_t || p_s) between the maps divided by
                       their sum (distributions over the H*W pixels,
                       eps = 2.2204e-16)
        train_step: sum of all losses -> one backward -> every member
                    steps

    Loss keys: ``<member>.<loss_name>``, ``kd.loss_<t>_to_<s>`` and
    ``<member>.teach_share`` (fraction of the samples, or pixels, the
    member teaches). :meth:`predict` returns the first member's sample
    dicts with a ``members`` field holding every member's
    ``pred_saliency``, for :class:`MemberMetric`.

    ``granularity='pixel'`` is a per-pixel variant: the teacher of each
    pixel is the member with the lowest per-pixel divergence from the
    normalised ground truth, and each taught pixel adds the generalised
    KL divergence ``a log(a / b) - a + b`` (``a = p_t + eps``,
    ``b = p_s + eps``) of the normalised maps. Unlike the summands of a
    KL divergence, this term is non-negative at every pixel, so no pixel
    rewards a student for moving away from its teacher; over all pixels
    it sums to the KL divergence of the two maps.

    Args:
        members (list[dict]): Member descriptions: ``name``, ``config`` (a
            file) or an inline ``model`` dict, optional ``checkpoint``,
            ``cfg_options`` and ``strict``.
        granularity (str): ``'sample'`` (reference) or ``'pixel'``.
        kd_weight (float): Weight of the KD terms. Defaults to 1.0.
        kd_size (tuple, optional): ``(H, W)`` where maps are compared;
            None: the largest member output. Defaults to None.
        selection_loss (dict, optional): Per-sample score of the teacher
            choice, lower is better. Defaults to ``SaliencyKLDCCLoss``
            (KLD - CC).
        normalize (str): ``'all'`` averages the KD terms over all samples
            (or pixels), ``'masked'`` over taught ones. Defaults to
            ``'all'``.
        detach_teacher (bool): Stop the KD gradient into the teacher.
            Defaults to False (the reference).
        tie (str): Tie rule of :func:`bikd_mm.core.select_teachers`.
            Defaults to ``'auto'``.
        eps (float): Stabiliser of the KL. Defaults to 2.2204e-16.
        data_preprocessor (dict, optional): Preprocessor of the pair; it
            only moves data to the device, each member normalises itself.
        init_cfg (dict, optional): Initialisation config.
    """

    member_registry = MODELS

    def __init__(
        self,
        members: list,
        selection_loss: dict | None = None,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
        **options,
    ) -> None:
        options = SaliencyOptions.of(type(self).__name__, **options)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(members, options, data_preprocessor, init_cfg)
        if selection_loss is None:
            selection_loss = dict(type='SaliencyKLDCCLoss')
        self.selection_loss = MODELS.build(copy.deepcopy(selection_loss))
        for name, model in self.members.items():
            if not hasattr(model, 'forward_train'):
                raise TypeError(
                    f'member {name!r} ({type(model).__name__}) is not a '
                    'video saliency model (no forward_train)'
                )

    def _member_batch(
        self, name: str, inputs, data_samples, training: bool
    ) -> tuple:
        """The member's clips through its own data preprocessor.

        ``inputs`` is either one batch of clips shared by every member, or
        a dict ``{member: clips}`` (from :class:`SplitMemberClips`) giving
        each member its own frames, size and count.
        """
        if isinstance(inputs, dict):
            if name not in inputs:
                raise KeyError(
                    f'the batch has clips for {sorted(inputs)} but none '
                    f"for member {name!r}; name it in the dataset's "
                    'member_clips'
                )
            inputs = inputs[name]
        return super()._member_batch(name, inputs, data_samples, training)

    def _member_forward(
        self, name: str, inputs, data_samples: list
    ) -> MemberOutput:
        """A member's own losses and its maps ``[B, 1, H, W]``."""
        return self.members[name].forward_train(inputs, data_samples)

    def _transfer(
        self, outputs: dict, member_samples: dict, data_samples: list
    ) -> dict:
        """KD terms and teach shares between the members' maps."""
        maps = {n: o.logits for n, o in outputs.items()}
        return self._kd_losses(maps, data_samples)

    def _kd_losses(self, maps: dict, data_samples: list) -> dict:
        aligned, size = self._align(maps, self.kd_size)
        gts = targets_of(data_samples, 'gt_saliency', aligned[0].device)
        # A blank ground-truth map says nothing about who is better.
        labelled = torch.stack([g.sum() > 0 for g in gts])
        if self.granularity == 'sample':
            with torch.no_grad():
                scores = torch.stack(
                    [
                        per_sample_loss(self.selection_loss, m, data_samples)
                        for m in aligned
                    ]
                )
            teacher = select_teachers(
                scores,
                higher_is_better=False,
                valid=torch.isfinite(scores).all(0) & labelled,
                tie=self.tie,
            )
            probs = [normalize_sum(m.flatten(1), self.eps) for m in aligned]
            terms = kd_terms(
                probs,
                teacher,
                input_kind='probs',
                eps=self.eps,
                detach_teacher=self.detach_teacher,
                normalize=self.normalize,
            ).terms
        else:
            terms, teacher = self._pixel_terms(aligned, gts, labelled, size)
        out = self._direction_losses(terms, self.kd_weight)
        out.update(self._teach_shares(teacher))
        return out

    def _pixel_terms(
        self, aligned: list, gts: list, labelled: Tensor, size: tuple
    ) -> tuple[Tensor, Tensor]:
        """Per-pixel teachers and generalised-KL KD terms."""
        eps = self.eps
        gt = torch.stack(
            [resize_maps(g[None, None], size)[0, 0] for g in gts]
        ).flatten(1)
        q = normalize_sum(gt, eps) + eps
        probs = [normalize_sum(m.flatten(1), eps) + eps for m in aligned]
        with torch.no_grad():
            scores = torch.stack([generalized_kl(q, p) for p in probs])
        teacher = select_teachers(
            scores,
            higher_is_better=False,
            valid=labelled[:, None].expand_as(gt),
            tie=self.tie,
        )
        # Each pixel is one element with one value; per-image sums (the
        # division below) keep the scale of the per-sample KL.
        terms = kd_terms(
            [p.unsqueeze(1) for p in probs],
            teacher,
            input_kind='probs',
            divergence='generalized_kl',
            detach_teacher=self.detach_teacher,
            normalize='none',
        ).terms
        if self.normalize == 'masked':
            denom = (teacher >= 0).any(1).sum().clamp_min(1)
        else:
            denom = teacher.shape[0]
        return terms / denom, teacher

    def _pack_predictions(self, results: dict) -> list:
        """Per sample, the first member's output (sample keys and
        ``pred_saliency``) with ``members``: ``{name: {'pred_saliency':
        map}}`` for every member."""
        outputs = []
        for i, first in enumerate(results[self.member_names[0]]):
            sample = dict(first)
            sample['members'] = {
                name: dict(pred_saliency=results[name][i]['pred_saliency'])
                for name in self.member_names
            }
            outputs.append(sample)
        return outputs
