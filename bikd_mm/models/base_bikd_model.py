"""What every Bi-KD model shares: members, the member protocol, options,
teach shares, alignment, class and label checks, and the training step."""

import copy
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from mmengine.registry import Registry
from mmengine.structures import BaseDataElement
from torch import Tensor

from bikd_mm.core import kd_terms
from bikd_mm.models.bikd_options import SELECTIONS, BiKDOptions
from bikd_mm.models.member import build_member, parse_members

__all__ = [
    'SELECTIONS',
    'BaseBiKDModel',
    'MemberOutput',
    'NonFiniteLossError',
    'check_finite_losses',
    'check_same_accumulation',
    'run_train_step',
    'update_members',
]


@dataclass
class MemberOutput:
    """One member's training forward pass, as every adapter returns it.

    Args:
        losses (dict): The member's own losses, exactly what its stock
            ``loss`` returns (unprefixed keys, e.g. ``decode.loss_ce``).
        logits (Tensor): What the transfer rule compares across members:
            class logits (``[B, C]`` or ``[B, C, h, w]``; log-probabilities
            for Mask2Former members) or saliency maps ``[B, 1, H, W]``.
        image_task_loss (Tensor, optional): Each image's total task loss
            ``[B]``, for members that select teachers by it (Mask2Former
            with ``selection_loss='task_loss'``); None otherwise.
    """

    losses: dict
    logits: Tensor
    image_task_loss: Tensor | None = None


class BaseBiKDModel(BaseModel):
    """What every Bi-KD model shares: its members and its training step.

    One training step, in this base and the wrapper's three hooks::

        train_step(): pair data_preprocessor (to the device)
            loss(): wrapper._prepare_batch(batch)    # label checks, mixing
                    for each member m:
                        member_m.data_preprocessor(batch)
                        wrapper._member_forward(m) -> MemberOutput
                            (own losses, logits, optional image task loss)
                        own losses as <m>.<key>
                    -> wrapper._transfer(outputs): selection score per
                       element, teachers, kd term (bikd_mm.core), with
                       this base's _align, _teach_shares, _direction_losses
            parse_losses -> check_finite_losses
            -> update_members: one backward -> every member's optimizer
               steps (together every accumulative_counts-th iteration)
        predict(): each member's own predict -> one sample per image

    A subclass states the registry its members come from
    (``member_registry``), optionally how each member is wrapped for its
    forward pass (``member_adapter``: a callable ``(model, name) ->
    adapter``; the adapters then give ``num_classes``, checked to agree),
    and implements what is specific to its task: ``_member_forward`` (one
    member's forward pass as a :class:`MemberOutput`; by default its
    adapter's ``forward_train``), ``_transfer`` (which elements exist, how
    each member scores on them, and the KD terms) and, where the batch
    needs it, ``_prepare_batch``. This base validates the options, builds
    the members from their configs and checkpoints, runs each member's own
    data preprocessor on the shared batch, dispatches ``forward`` modes,
    gives the transfer rule its shared parts (alignment to one size, teach
    shares, KD-term names, the label-value check), packs per-member
    predictions and runs the one-backward training step.

    Args:
        members (list[dict]): Member descriptions (see
            :mod:`bikd_mm.models.member`).
        options (BiKDOptions, optional): The wrapper's options, validated
            here before any member is built and set as attributes
            (``self.kd_weight``, ...). Defaults to ``BiKDOptions()``.
        data_preprocessor (dict | nn.Module, optional): Preprocessor of the
            pair; it only moves data to the device, each member normalises
            the batch itself.
        init_cfg (dict, optional): Initialisation config.
    """

    member_registry: Registry
    member_adapter: Callable | None = None
    selection: str = 'best'
    fixed_teacher: str | None = None

    def __init__(
        self,
        members: list,
        options: BiKDOptions | None = None,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | None = None,
    ):
        options = BiKDOptions() if options is None else options
        options.validate(type(self).__name__)
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
        values = options.as_dict()
        selection = values.pop('selection')
        fixed_teacher = values.pop('fixed_teacher')
        for name, value in values.items():
            setattr(self, name, value)
        self._set_transfer(selection, fixed_teacher)
        if self.member_adapter is not None:
            self.adapters = {
                name: self.member_adapter(model, name)
                for name, model in self.members.items()
            }
            self.num_classes = self._check_num_classes()

    @property
    def member_names(self) -> list[str]:
        return list(self.members.keys())

    def _set_transfer(self, selection: str, fixed_teacher: str | None):
        """Choose who teaches whom (the options ``selection`` and
        ``fixed_teacher``).

        ``selection='best'`` is Bi-KD: per element the best member teaches.
        ``'all'`` is Deep Mutual Learning: every member teaches every other
        on every element. ``fixed_teacher`` is classic one-way distillation:
        that member teaches everywhere and is frozen (no gradient, no
        update, kept in eval mode), so it stays as loaded.
        """
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

    def _same_value(self, values: dict, message: str):
        """The one value every member has.

        Args:
            values (dict): ``{member: value}``.
            message (str): The start of the error, e.g. ``'members must
                predict the same classes; class counts: '``.

        Raises:
            ValueError: If the members differ, listing each one's value.
        """
        if len(set(values.values())) > 1:
            raise ValueError(
                message + ', '.join(f'{n}={v}' for n, v in values.items())
            )
        return values[self.member_names[0]]

    def _check_num_classes(self) -> int:
        """The members' common class count (from their adapters).

        Raises:
            ValueError: Naming the members whose count is unknown, or every
                member's count when they differ.
        """
        classes = {n: self.adapters[n].num_classes for n in self.member_names}
        unknown = [n for n, c in classes.items() if c is None]
        if unknown:
            raise ValueError(
                f'members {unknown}: cannot tell the number of classes (no '
                'num_classes on the head or the data_preprocessor)'
            )
        return self._same_value(
            classes, 'members must predict the same classes; class counts: '
        )

    def _check_label_values(
        self,
        labels: list,
        data_samples: list,
        describe: Callable,
        hint: str,
        ignore_index: int | None = None,
    ) -> bool:
        """Refuse labels that are neither a class nor ``ignore_index``.

        One device-to-host copy per step in the common, valid case.

        Args:
            labels (list[Tensor]): Each sample's labels (class indices).
            data_samples (list): The samples, for the message.
            describe (Callable): ``describe(sample)`` names the sample's
                file, e.g. ``'annotation a.png'``.
            hint (str): What to check, ending the message.
            ignore_index (int, optional): A label that is no class but
                allowed. Defaults to None.

        Returns:
            bool: Whether any label is not ``ignore_index`` (True when
            there is none).

        Raises:
            ValueError: Naming the sample, the values and the classes.
        """
        num_classes = self.num_classes

        def outside(label: Tensor) -> Tensor:
            wrong = (label < 0) | (label >= num_classes)
            if ignore_index is None:
                return wrong
            return wrong & (label != ignore_index)

        if not labels:
            return True
        device = labels[0].device
        bad = torch.stack([outside(x).any().to(device) for x in labels]).any()
        if ignore_index is None:
            any_bad, any_labelled = bool(bad), True
        else:
            labelled = torch.stack(
                [(x != ignore_index).any().to(device) for x in labels]
            ).any()
            any_bad, any_labelled = torch.stack([bad, labelled]).tolist()
        if not any_bad:
            return any_labelled
        ignored = (
            ''
            if ignore_index is None
            else f' and are not ignore_index {ignore_index}'
        )
        for sample, label in zip(data_samples, labels):
            wrong = outside(label)
            if wrong.any():
                values = label[wrong].unique().tolist()
                raise ValueError(
                    f'{describe(sample)}: labels {values[:10]} are outside '
                    f'the {num_classes} classes 0..{num_classes - 1}'
                    f'{ignored}; {hint}'
                )
        return any_labelled

    def train(self, mode: bool = True) -> 'BaseBiKDModel':
        """Set the training mode; a fixed teacher always stays in eval."""
        super().train(mode)
        if self.fixed_teacher is not None:
            self.members[self.fixed_teacher].eval()
        return self

    def _align(
        self,
        logits: dict,
        size: tuple | None = None,
        align_corners: dict | None = None,
    ) -> tuple[list, tuple]:
        """Every member's logits (or maps) at one size.

        Args:
            logits (dict): ``{member: [B, C, h, w]}``.
            size (tuple, optional): ``(H, W)`` to resize to, e.g. the
                labels'; None: the largest member output.
            align_corners (dict, optional): ``{member: align_corners}`` of
                the bilinear resize. Defaults to False for every member.

        Returns:
            tuple: The resized logits in member order and the size.
        """
        if size is None:
            size = max(
                (tuple(v.shape[-2:]) for v in logits.values()),
                key=lambda s: s[0] * s[1],
            )
        size = tuple(size)
        aligned = []
        for name in self.member_names:
            value = logits[name]
            if tuple(value.shape[-2:]) != size:
                value = F.interpolate(
                    value,
                    size=size,
                    mode='bilinear',
                    align_corners=(align_corners or {}).get(name, False),
                )
            aligned.append(value)
        return aligned, size

    def _teach_shares(
        self, teacher: Tensor, valid: Tensor | None = None
    ) -> dict:
        """``{<member>.teach_share: share of the valid elements it
        teaches}``; every member teaches all of them with
        ``selection='all'``.

        Args:
            teacher (Tensor): The teaching member per element (``-1``:
                none).
            valid (Tensor, optional): Bool mask of the elements that count;
                None: every element.
        """
        count = (
            teacher.new_tensor(teacher.numel())
            if valid is None
            else valid.sum()
        )
        num_valid = count.clamp(min=1)
        if self.selection == 'all':
            share = count.float() / num_valid
            return {f'{n}.teach_share': share for n in self.member_names}
        return {
            f'{name}.teach_share': (teacher == t).sum().float() / num_valid
            for t, name in enumerate(self.member_names)
        }

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
            tuple: The terms and :meth:`_teach_shares`.
        """
        names = self.member_names
        if self.fixed_teacher is not None:
            teacher = torch.full_like(teacher, names.index(self.fixed_teacher))
            if valid is not None:
                teacher = teacher.masked_fill(~valid, -1)
        terms = kd_terms(
            log_probs,
            teacher,
            input_kind='log_probs',
            mutual=self.selection == 'all',
            valid=valid,
            **kl_options,
        ).terms
        return terms, self._teach_shares(teacher, valid)

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


class NonFiniteLossError(FloatingPointError):
    """A member's loss became NaN or infinite."""


def check_finite_losses(log_vars: dict, member_names: list) -> None:
    """Stop training on a non-finite loss, naming the member and iteration.

    Args:
        log_vars (dict): Parsed loss values (``<member>.<key>``, ``kd.*``).
        member_names (list[str]): Member names, to attribute each key.

    Raises:
        NonFiniteLossError: If any loss value is NaN or infinite.
    """
    keys = [k for k in log_vars if 'loss' in k]
    if not keys:
        return
    # One device-to-host copy for the common case where all are finite.
    values = torch.stack(
        [torch.as_tensor(log_vars[k]).detach().float() for k in keys]
    )
    if bool(torch.isfinite(values).all()):
        return
    finite = torch.isfinite(values).tolist()
    bad = [k for k, ok in zip(keys, finite) if not ok]
    owners = sorted(
        {k.split('.', 1)[0] for k in bad if k.split('.', 1)[0] in member_names}
    )
    it = MessageHub.get_current_instance().get_info('iter', None)
    where = f' at iteration {it + 1}' if it is not None else ''
    raise NonFiniteLossError(
        f'non-finite loss{where} in member(s) {owners or ["kd"]}: '
        + ', '.join(f'{k}={float(values[keys.index(k)])}' for k in bad)
        + '. Training stopped; the last saved checkpoint is untouched.'
    )


def update_members(loss: Tensor, optim_wrapper, member_names: list) -> None:
    """Backward once and step every member's optimizer.

    With gradient accumulation (``accumulative_counts`` in the members'
    wrappers, equal for all) the loss is scaled as mmengine scales it and
    the members step together on every ``accumulative_counts``-th call
    (and on the last iteration of training).

    Args:
        loss (Tensor): The summed loss of the pair.
        optim_wrapper (OptimWrapper | OptimWrapperDict): A single wrapper
            over the whole pair, or one wrapper per member name.
        member_names (list[str]): Member names in order.
    """
    # OptimWrapperDict subclasses OptimWrapper: test for it first.
    if not isinstance(optim_wrapper, OptimWrapperDict):
        optim_wrapper.update_params(loss)
        return
    wrappers = [optim_wrapper[name] for name in member_names]
    check_same_accumulation(wrappers, member_names)
    # All wrappers count alike, so the first one's count scales the loss.
    lead = wrappers[0]
    loss = lead.scale_loss(loss)
    amp = [isinstance(w, AmpOptimWrapper) for w in wrappers]
    # One backward pass means one loss scale: the first member's scaler
    # scales, unscales and steps every member's optimizer.
    scaler = lead.loss_scaler if any(amp) else None
    (loss if scaler is None else scaler.scale(loss)).backward()
    for w in wrappers:
        w._inner_count += 1
    if not lead.should_update():
        return
    if scaler is not None:
        for w in wrappers:
            scaler.unscale_(w.optimizer)
            if w.clip_grad_kwargs:
                _clip(w)
            scaler.step(w.optimizer)
        scaler.update()
    else:
        for w in wrappers:
            w.step()
    for w in wrappers:
        w.zero_grad()


def check_same_accumulation(wrappers: list, member_names: list) -> None:
    """Refuse members that accumulate gradients over different counts: one
    backward pass serves them all."""
    counts = {
        name: w._accumulative_counts for name, w in zip(member_names, wrappers)
    }
    if len(set(counts.values())) > 1:
        raise ValueError(
            'optim_wrapper: every member must use the same '
            'accumulative_counts (one backward pass serves all members); '
            'got ' + ', '.join(f'{n}={c}' for n, c in counts.items())
        )


def _clip(wrapper: OptimWrapper) -> None:
    params = [
        p
        for group in wrapper.optimizer.param_groups
        for p in group['params']
        if p.grad is not None
    ]
    kwargs = dict(wrapper.clip_grad_kwargs)
    clip_type = kwargs.pop('type', 'norm')
    if not params:
        return
    if clip_type == 'value':
        torch.nn.utils.clip_grad_value_(params, **kwargs)
    else:
        norm = torch.nn.utils.clip_grad_norm_(params, **kwargs)
        wrapper.message_hub.update_scalar(
            f'train/{wrapper.grad_name}', float(norm)
        )


def run_train_step(
    pair: BaseModel, runner_model: nn.Module, data, optim_wrapper
) -> dict:
    """One Bi-KD training step, shared by the model and its DDP wrapper.

    Args:
        pair (BaseModel): The Bi-KD model.
        runner_model (nn.Module): What to call for the forward pass: the
            model itself, or its distributed wrapper.
        data (dict): A batch from the dataloader.
        optim_wrapper (OptimWrapper | OptimWrapperDict): The optimizers.

    Returns:
        dict: Log variables.
    """
    with _optim_context(pair, optim_wrapper):
        data = pair.data_preprocessor(data, True)
        losses = runner_model._run_forward(data, mode='loss')
    parsed, log_vars = pair.parse_losses(losses)
    check_finite_losses(log_vars, pair.member_names)
    update_members(parsed, optim_wrapper, pair.member_names)
    return log_vars


def _optim_context(pair: BaseModel, optim_wrapper):
    if not isinstance(optim_wrapper, OptimWrapperDict):
        return optim_wrapper.optim_context(pair)
    stack = ExitStack()
    for name in pair.member_names:
        stack.enter_context(
            optim_wrapper[name].optim_context(pair.members[name])
        )
    return stack
