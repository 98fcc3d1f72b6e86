"""Each member's learning-rate curve, computed before any training step.

A pair config completes each member's optimizer wrapper and parameter
schedulers from several places (the pair config, the member's config, a
stock ``_base_`` schedule). A stock schedule written for training from
scratch can quietly change what a fine-tuning pair trains: mmseg's
``schedule_80k.py`` has ``PolyLR(eta_min=1e-4)``, which takes a member
fine-tuned at ``lr=1e-6`` up to 1e-4 by the end. :func:`lr_curve` runs
the member's completed schedulers (mmengine's own classes, as the runner
builds them) on a stand-in optimizer with one parameter group per
learning-rate multiplier of the wrapper's ``paramwise_cfg``, iteration by
iteration over the whole training loop, and :func:`check_lr_schedule`
refuses a curve that rises above its base rate anywhere (warm-up
included), unless the config says so with ``allow_lr_rise``::

    allow_lr_rise = True            # every member
    allow_lr_rise = ['swin']        # these members

What is simulated: schedulers whose class is an mmengine learning-rate
scheduler (``LRSchedulerMixin``), by iteration (``by_epoch=False``) or by
epoch, ``convert_to_iter_based`` included, with mmengine's default
``end`` (the loop's length). Parameter groups: the base group and every
``lr_mult`` in ``paramwise_cfg`` (``custom_keys`` entries,
``bias_lr_mult``, ``dcn_offset_lr_mult``). Not simulated: momentum and
other parameter schedulers, ``ReduceOnPlateauLR`` (it follows the
validation metric), layer-wise decay constructors' per-layer rates.
"""

import copy
import importlib
import inspect
import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import torch
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.registry import PARAM_SCHEDULERS, DefaultScope

ALLOW_KEY = 'allow_lr_rise'
# Iterations per epoch assumed for iteration-based schedulers inside an
# epoch-based loop when the data loader's length is not known yet.
NOMINAL_EPOCH_LENGTH = 100
# Relative tolerance of "above the base rate" (float rounding of factors).
_RTOL = 1e-6


@dataclass
class GroupCurve:
    """The learning rate of one parameter group at every training step.

    Attributes:
        label (str): The group: ``'base'`` or the ``paramwise_cfg`` entry
            that sets its multiplier (``'custom_keys.backbone'``).
        base (float): The group's rate before any scheduler (the
            optimizer's ``lr`` times the multiplier).
        rates (list[float]): The rate used at each step.
    """

    label: str
    base: float
    rates: list = field(default_factory=list)

    @property
    def peak(self) -> float:
        return max(self.rates) if self.rates else self.base

    @property
    def final(self) -> float:
        return self.rates[-1] if self.rates else self.base

    @property
    def warmup(self) -> int:
        """Steps before the rate first reaches 99.9% of its peak."""
        for step, rate in enumerate(self.rates):
            if rate >= 0.999 * self.peak:
                return step
        return 0


@dataclass
class LRCurve:
    """A member's learning-rate curves over its whole training loop.

    Attributes:
        optimizer (str): Optimizer type.
        unit (str): ``'iter'`` or ``'epoch'``: the unit of ``length``.
        length (int): Training loop length in ``unit``.
        steps_per_unit (int): Simulated steps per unit (iterations per
            epoch for an epoch loop with iteration-based schedulers).
        schedulers (list[str]): The simulated schedulers' types.
        skipped (list[str]): Schedulers not simulated (not learning-rate
            schedulers, or following a metric).
        groups (list[GroupCurve]): One curve per parameter group.
        notes (list[str]): Assumptions the simulation made.
    """

    optimizer: str
    unit: str
    length: int
    steps_per_unit: int
    schedulers: list
    skipped: list
    groups: list
    notes: list

    @property
    def base(self) -> float:
        return self.groups[0].base

    @property
    def peak(self) -> float:
        return self.groups[0].peak

    @property
    def final(self) -> float:
        return self.groups[0].final

    @property
    def warmup(self) -> float:
        """Warm-up of the base group, in ``unit``."""
        return self.groups[0].warmup / self.steps_per_unit

    def rate_at(self, step: int, group: int = 0) -> float:
        """Rate of ``group`` at simulated ``step``."""
        return self.groups[group].rates[step]

    def summary(self) -> str:
        """One line: optimizer, base, peak, final, length and warm-up."""
        warmup = self.warmup
        return (
            f'{self.optimizer} lr {self.base:.3g} (peak {self.peak:.3g}, '
            f'final {self.final:.3g}) over {self.length} {self.unit}s, '
            f'warm-up {warmup:g} {self.unit}s, schedulers '
            + (', '.join(self.schedulers) or 'none')
        )


class LRScheduleError(ValueError):
    """A member's learning rate would rise above its base rate."""


def _lr_groups(wrapper: dict) -> list:
    """``[(label, rate)]``: the base group and every ``lr_mult`` group."""
    optimizer = wrapper.get('optimizer') or {}
    base = optimizer.get('lr')
    if base is None:
        base = _default_lr(optimizer.get('type'))
    groups = [('base', float(base))]
    paramwise = wrapper.get('paramwise_cfg') or {}
    for key, entry in (paramwise.get('custom_keys') or {}).items():
        if isinstance(entry, dict) and 'lr_mult' in entry:
            groups.append(
                (f'custom_keys.{key}', float(base) * entry['lr_mult'])
            )
    for key in ('bias_lr_mult', 'dcn_offset_lr_mult'):
        if paramwise.get(key) is not None:
            groups.append((key, float(base) * paramwise[key]))
    return groups


def _default_lr(optimizer_type) -> float:
    """The optimizer class's default ``lr`` (1.0 where it has none)."""
    cls = getattr(torch.optim, str(optimizer_type), None)
    if cls is None:
        return 1.0
    default = inspect.signature(cls).parameters.get('lr')
    if default is None or not isinstance(default.default, (int, float)):
        return 1.0
    return float(default.default)


def _loop(train_cfg: dict) -> tuple:
    """``(unit, length)`` of the training loop."""
    if train_cfg.get('max_iters') is not None:
        return 'iter', int(train_cfg['max_iters'])
    if train_cfg.get('max_epochs') is not None:
        return 'epoch', int(train_cfg['max_epochs'])
    raise ValueError(
        'train_cfg has neither max_iters nor max_epochs; the learning-rate '
        'check cannot tell the schedule length'
    )


def _as_list(schedulers) -> list:
    if schedulers is None:
        return []
    if isinstance(schedulers, dict):
        return [schedulers]
    return list(schedulers)


def _scheduler_scope(scope: str | None) -> str | None:
    """``scope`` if it has a scheduler registry of its own, else None."""
    if scope is None:
        return None
    try:
        registry = importlib.import_module(f'{scope}.registry')
    except ImportError:
        return None
    return scope if hasattr(registry, 'PARAM_SCHEDULERS') else None


def _scheduler_class(cfg: dict):
    kind = cfg.get('type')
    if inspect.isclass(kind):
        return kind
    cls = PARAM_SCHEDULERS.get(kind)
    if cls is None:
        raise KeyError(
            f'param_scheduler type {kind!r} is not registered (check the '
            "spelling or the config's custom_imports / default_scope)"
        )
    return cls


def lr_curve(
    wrapper: dict,
    schedulers,
    train_cfg: dict,
    default_scope: str | None = None,
    epoch_length: int | None = None,
) -> LRCurve:
    """Simulate a member's learning rate over its whole training loop.

    Args:
        wrapper (dict): The member's completed ``optim_wrapper`` config.
        schedulers (dict | list[dict] | None): Its ``param_scheduler``.
        train_cfg (dict): The pair's ``train_cfg``.
        default_scope (str, optional): Registry scope for scheduler types
            (``'mmseg'``, ``'mmpretrain'``).
        epoch_length (int, optional): Iterations per epoch of an epoch
            loop, needed by iteration-based schedulers in it. Defaults to
            :data:`NOMINAL_EPOCH_LENGTH`, with a note.

    Returns:
        LRCurve: The rate of every parameter group at every step.
    """
    key = json.dumps(
        [_plain(wrapper), _plain(schedulers), _plain(train_cfg)],
        sort_keys=True,
        default=repr,
    )
    return copy.deepcopy(_lr_curve(key, default_scope, epoch_length))


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if inspect.isclass(value):
        return f'{value.__module__}.{value.__qualname__}'
    return value


@lru_cache(maxsize=256)
def _lr_curve(key: str, default_scope, epoch_length) -> LRCurve:
    wrapper, schedulers, train_cfg = json.loads(key)
    unit, length = _loop(train_cfg)
    groups = _lr_groups(wrapper)
    notes = []
    with DefaultScope.overwrite_default_scope(_scheduler_scope(default_scope)):
        lr_cfgs, skipped = [], []
        for cfg in _as_list(schedulers):
            cls = _scheduler_class(cfg)
            if not issubclass(cls, LRSchedulerMixin) or (
                cls.__name__ == 'ReduceOnPlateauLR'
            ):
                skipped.append(cls.__name__)
            else:
                lr_cfgs.append(dict(cfg))
        iter_based = [
            c
            for c in lr_cfgs
            if not c.get('by_epoch', True) or c.get('convert_to_iter_based')
        ]
        if unit == 'epoch' and iter_based:
            if epoch_length is None:
                epoch_length = NOMINAL_EPOCH_LENGTH
                notes.append(
                    f'{NOMINAL_EPOCH_LENGTH} iterations per epoch assumed '
                    'for the iteration-based schedulers'
                )
            per_unit = int(epoch_length)
        else:
            per_unit = 1
        max_iters = length * per_unit if unit == 'epoch' else length
        max_epochs = length if unit == 'epoch' else None
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in groups]
        optimizer = torch.optim.SGD(
            [dict(params=[p], lr=lr) for p, (_, lr) in zip(params, groups)],
            lr=groups[0][1],
        )
        built = []
        for cfg in lr_cfgs:
            cfg = dict(cfg)
            by_epoch = cfg.get('by_epoch', True)
            if 'end' not in cfg:
                if by_epoch and max_epochs is None:
                    # An epoch scheduler never steps in an iteration loop.
                    cfg['end'] = 1
                else:
                    cfg['end'] = max_epochs if by_epoch else max_iters
            built.append(
                PARAM_SCHEDULERS.build(
                    cfg,
                    default_args=dict(
                        optimizer=optimizer, epoch_length=per_unit
                    ),
                )
            )
    curves = [GroupCurve(label, lr) for label, lr in groups]
    with warnings.catch_warnings():
        # The stand-in optimizer never steps.
        warnings.filterwarnings('ignore', 'Detected call of `scheduler')
        _run(built, curves, optimizer, unit, length, per_unit)
    return LRCurve(
        optimizer=str((wrapper.get('optimizer') or {}).get('type')),
        unit=unit,
        length=length,
        steps_per_unit=per_unit,
        schedulers=[type(s).__name__ for s in built],
        skipped=skipped,
        groups=curves,
        notes=notes,
    )


def _run(built, curves, optimizer, unit, length, per_unit) -> None:
    """Step the schedulers as mmengine's ParamSchedulerHook does."""
    for step in range(length * per_unit):
        for curve, group in zip(curves, optimizer.param_groups):
            curve.rates.append(float(group['lr']))
        for sched in built:
            if not sched.by_epoch:
                sched.step()
        if unit == 'epoch' and (step + 1) % per_unit == 0:
            for sched in built:
                if sched.by_epoch:
                    sched.step()


def check_lr_schedule(name: str, curve: LRCurve, allowed: bool) -> None:
    """Refuse a curve whose rate rises above its base rate.

    Args:
        name (str): Member name (for the message).
        curve (LRCurve): The member's curve (see :func:`lr_curve`).
        allowed (bool): The config allows it (``allow_lr_rise``).

    Raises:
        LRScheduleError: Naming the member, group, schedulers, the rates
            and the config keys to change.
    """
    if allowed:
        return
    for group in curve.groups:
        limit = group.base * (1 + _RTOL)
        if group.peak <= limit:
            continue
        step = next(i for i, r in enumerate(group.rates) if r > limit)
        at = step / curve.steps_per_unit
        raise LRScheduleError(
            f'member {name!r}: param_scheduler ['
            + ', '.join(curve.schedulers)
            + f'] takes the learning rate of parameter group {group.label!r}'
            f' from its base {group.base:.3g} (optim_wrapper.optimizer.lr'
            + ('' if group.label == 'base' else f' x {group.label}')
            + f') up to {group.peak:.3g} (first above the base at '
            f'{curve.unit} {at:g} of {curve.length}, final rate '
            f'{group.final:.3g}). Check param_scheduler (an eta_min above '
            'the base rate, e.g. from a stock _base_ schedule, or a '
            'start_factor / factor above 1) or set '
            f'{ALLOW_KEY} = True (or a list of member names) if a rising '
            'rate is intended.'
        )


def allowed_members(value, names: list) -> set:
    """Members for which ``allow_lr_rise`` allows a rising rate.

    Args:
        value (bool | list[str] | None): The config's ``allow_lr_rise``.
        names (list[str]): Member names.

    Returns:
        set[str]: The allowed members.
    """
    if value in (None, False):
        return set()
    if value is True:
        return set(names)
    if isinstance(value, (list, tuple)):
        unknown = [v for v in value if v not in names]
        if unknown:
            raise KeyError(
                f'{ALLOW_KEY}: unknown members {unknown}; members are {names}'
            )
        return set(value)
    raise TypeError(
        f'{ALLOW_KEY} must be True, False or a list of member names, got '
        f'{value!r}'
    )
