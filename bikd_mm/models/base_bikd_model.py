import copy

import torch
import torch.nn as nn
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.registry import Registry
from mmengine.structures import BaseDataElement
from torch import Tensor

from bikd_mm.core import kd_terms
from bikd_mm.engine.optimizers.member_step import run_train_step
from bikd_mm.models.member import build_member, parse_members
from bikd_mm.models.member_output import MemberOutput

SELECTIONS = ('best', 'all')


class BaseBiKDModel(BaseModel):
    """What every Bi-KD model shares: its members and its training step.

    One training step, in this base and the wrapper's three hooks::

        loss(): wrapper._prepare_batch(batch)      # label checks, mixing
                for each member m:
                    member_m.data_preprocessor(batch)
                    wrapper._member_forward(m) -> MemberOutput
                        (own losses, logits, optional image task loss)
                    own losses as <m>.<key>
                -> wrapper._transfer(outputs): selection score per
                   element, teachers, kd term (bikd_mm.core)
        train_step(): sum of all losses -> one backward
                      -> every member's optimizer steps
        predict(): each member's own predict -> one sample per image

    A subclass states the registry its members come from
    (``member_registry``) and implements what is specific to its task:
    ``_member_forward`` (one member's forward pass as a
    :class:`~bikd_mm.models.member_output.MemberOutput`; by default its
    adapter's ``forward_train``), ``_transfer`` (which elements exist, how
    each member scores on them, and the KD terms) and, where the batch
    needs it, ``_prepare_batch``. This base builds the members from their
    configs and checkpoints, runs each member's own data preprocessor on
    the shared batch, dispatches ``forward`` modes, names the KD terms,
    packs per-member predictions and runs the one-backward training step.

    Args:
        members (list[dict]): Member descriptions (see
            :mod:`bikd_mm.models.member`).
        data_preprocessor (dict | nn.Module, optional): Preprocessor of the
            pair; it only moves data to the device, each member normalises
            the batch itself.
        init_cfg (dict, optional): Initialisation config.
    """

    member_registry: Registry
    selection: str = 'best'
    fixed_teacher: str | None = None

    def __init__(
        self,
        members: list,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | None = None,
    ):
        if data_preprocessor is None:
            data_preprocessor = BaseDataPreprocessor()
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg
        )
        self.member_specs = parse_members(members)
        self.members = nn.ModuleDict(
            {
                spec.name: build_member(spec, self.member_registry)
                for spec in self.member_specs
            }
        )

    @property
    def member_names(self) -> list[str]:
        return list(self.members.keys())

    def _set_transfer(self, selection: str, fixed_teacher: str | None):
        """Choose who teaches whom (the subclasses' ``selection`` and
        ``fixed_teacher`` arguments).

        ``selection='best'`` is Bi-KD: per element the best member teaches.
        ``'all'`` is Deep Mutual Learning: every member teaches every other
        on every element. ``fixed_teacher`` is classic one-way distillation:
        that member teaches everywhere and is frozen (no gradient, no
        update, kept in eval mode), so it stays as loaded.
        """
        if selection not in SELECTIONS:
            raise ValueError(
                f'selection must be one of {SELECTIONS}, got {selection!r}'
            )
        if fixed_teacher is not None:
            if fixed_teacher not in self.members:
                raise ValueError(
                    f'fixed_teacher {fixed_teacher!r} is not a member; '
                    f'members: {self.member_names}'
                )
            if selection != 'best':
                raise ValueError(
                    f'fixed_teacher={fixed_teacher!r} fixes who teaches; '
                    f'it cannot be combined with selection={selection!r}'
                )
            self.members[fixed_teacher].requires_grad_(False)
            self.members[fixed_teacher].eval()
        self.selection = selection
        self.fixed_teacher = fixed_teacher

    def train(self, mode: bool = True) -> 'BaseBiKDModel':
        """Set the training mode; a fixed teacher always stays in eval."""
        super().train(mode)
        if self.fixed_teacher is not None:
            self.members[self.fixed_teacher].eval()
        return self

    def _transfer_terms(
        self,
        log_probs: list,
        teacher: Tensor,
        valid: Tensor | None,
        **kl_options,
    ) -> tuple[Tensor, dict]:
        """The ``[N, N]`` KD terms and each member's teach share.

        Args:
            log_probs (list[Tensor]): Each member's log-probabilities,
                classes along dim 1.
            teacher (Tensor): The best member per element (from the
                selection); used with ``selection='best'``.
            valid (Tensor | None): Bool mask of the elements that count.
            **kl_options: ``temperature``, ``detach_teacher``,
                ``normalize`` of :func:`bikd_mm.core.kd_terms`.

        Returns:
            tuple: The terms and ``{member: share of the valid elements it
            teaches}`` (every member teaches all of them with
            ``selection='all'``).
        """
        names = self.member_names
        count = (
            teacher.new_tensor(teacher.numel())
            if valid is None
            else valid.sum()
        )
        num_valid = count.clamp(min=1)
        if self.fixed_teacher is not None:
            teacher = torch.full_like(teacher, names.index(self.fixed_teacher))
            if valid is not None:
                teacher = teacher.masked_fill(~valid, -1)
        mutual = self.selection == 'all'
        terms = kd_terms(
            log_probs,
            teacher,
            input_kind='log_probs',
            mutual=mutual,
            valid=valid,
            **kl_options,
        ).terms
        if mutual:
            share = count.float() / num_valid
            return terms, {name: share for name in names}
        return terms, {
            name: (teacher == t).sum().float() / num_valid
            for t, name in enumerate(names)
        }

    def init_weights(self) -> None:
        """Initialise members that have no weights.

        Members loaded from a checkpoint keep those weights, and so do
        members that load their own (``pretrained=True`` of a
        ``TimmClassifier`` or ``HuggingFaceClassifier``).
        """
        for spec in self.member_specs:
            if (
                spec.checkpoint is None
                and spec.model.get('pretrained') is not True
            ):
                self.members[spec.name].init_weights()

    def forward(
        self,
        inputs: list | Tensor,
        data_samples: list | None = None,
        mode: str = 'tensor',
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return {
                name: self._member_tensor(
                    name,
                    *self._member_batch(name, inputs, data_samples, False),
                )
                for name in self.member_names
            }
        raise RuntimeError(
            f'invalid mode {mode!r}: use loss, predict or tensor'
        )

    def loss(self, inputs, data_samples: list) -> dict:
        """Every member's own losses, then the wrapper's transfer terms.

        Returns:
            dict: ``<member>.<key>`` for each member loss and what
            ``_transfer`` returns (``kd.loss_<t>_to_<s>``,
            ``<member>.teach_share``, ...).
        """
        inputs, data_samples = self._prepare_batch(inputs, data_samples)
        losses, outputs, samples = {}, {}, {}
        for name in self.member_names:
            m_inputs, m_samples = self._member_batch(
                name, inputs, data_samples, True
            )
            out = self._member_forward(name, m_inputs, m_samples)
            losses.update({f'{name}.{k}': v for k, v in out.losses.items()})
            outputs[name] = out
            samples[name] = m_samples
        losses.update(self._transfer(outputs, samples, data_samples))
        return losses

    def _prepare_batch(self, inputs, data_samples: list) -> tuple:
        """The shared batch before any member sees it (checks, mixing);
        unchanged by default."""
        return inputs, data_samples

    def _member_forward(
        self, name: str, inputs, data_samples: list
    ) -> MemberOutput:
        """One member's training forward pass (its adapter's)."""
        return self.adapters[name].forward_train(inputs, data_samples)

    def _transfer(
        self, outputs: dict, member_samples: dict, data_samples: list
    ) -> dict:
        """The task's transfer rule: KD terms, teach shares and any other
        log values from every member's output.

        Args:
            outputs (dict): ``{member: MemberOutput}``.
            member_samples (dict): ``{member: its preprocessed samples}``.
            data_samples (list): The shared samples after
                ``_prepare_batch``.
        """
        raise NotImplementedError

    def predict(self, inputs, data_samples: list | None = None) -> list:
        """Predict with every member.

        Returns:
            list: One output per sample: the first member's (so stock
            metrics and visualisers work) with a ``members`` field holding
            every member's prediction (``sample.members.<name>``).
        """
        results = {}
        for name in self.member_names:
            m_inputs, m_samples = self._member_batch(
                name, inputs, data_samples, False
            )
            results[name] = self.members[name].predict(m_inputs, m_samples)
        return self._pack_predictions(results)

    def _member_tensor(self, name: str, inputs, data_samples):
        """A member's raw network output (``forward`` in tensor mode)."""
        return self.members[name]._forward(inputs, data_samples)

    def _member_batch(
        self, name: str, inputs, data_samples, training: bool
    ) -> tuple:
        """The shared batch through one member's own data preprocessor."""
        # Preprocessors write into the samples (padded labels, batch
        # shapes), so each member gets its own copy of them.
        data = dict(inputs=inputs, data_samples=copy.deepcopy(data_samples))
        data = self.members[name].data_preprocessor(data, training)
        return data['inputs'], data['data_samples']

    def _direction_losses(self, terms: Tensor, weight: float) -> dict:
        """``kd.loss_<t>_to_<s>`` from an ``[N, N]`` matrix of KD terms."""
        names = self.member_names
        return {
            f'kd.loss_{t_name}_to_{s_name}': weight * terms[t, s]
            for t, t_name in enumerate(names)
            for s, s_name in enumerate(names)
            if s != t
        }

    def _pack_predictions(self, results: dict) -> list:
        """One output per sample: the first member's, with a ``members``
        field holding every member's (``sample.members.<name>``), so stock
        metrics see the first member and ``MemberMetric`` sees all."""
        outputs = []
        for i, first in enumerate(results[self.member_names[0]]):
            sample = first.clone()
            per_member = BaseDataElement()
            for name in self.member_names:
                per_member.set_field(results[name][i], name)
            sample.members = per_member
            outputs.append(sample)
        return outputs

    def train_step(self, data, optim_wrapper) -> dict:
        """Forward all members, one backward, update every member.

        Args:
            data (dict): A batch from the dataloader.
            optim_wrapper (OptimWrapper | OptimWrapperDict): One wrapper for
                the whole pair, or one per member keyed by member name.

        Returns:
            dict: Log variables.
        """
        return run_train_step(self, self, data, optim_wrapper)
