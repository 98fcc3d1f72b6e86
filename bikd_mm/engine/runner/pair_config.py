"""Complete a Bi-KD pair config from its members' own configs.

A pair config states only what Bi-KD adds. What it leaves out is taken from
each member's config:

- ``optim_wrapper``: absent or None -> each member keeps its own; one
  wrapper config (with ``optimizer``) -> used for every member; a dict
  keyed by member names -> per member, the others keep their own. Set it
  to None to drop one that a ``_base_`` (a stock schedule) defines.
- ``optim_wrapper_override``: merged into each member's wrapper as
  completed above, keeping what it does not name (``clip_grad``,
  ``paramwise_cfg``, betas, ...): one override for every member, or a dict
  keyed by member names. Dicts merge as in config inheritance
  (``_delete_=True`` replaces one); keys that neither the member's wrapper
  nor its wrapper and optimizer classes know are refused (see
  :mod:`.optim_wrapper_override`), and so are unknown keys in each
  member's completed ``paramwise_cfg`` and its ``custom_keys`` entries,
  its own included (see :mod:`.paramwise_check`)::

      optim_wrapper = None  # each member keeps its own ...
      optim_wrapper_override = dict(  # ... at the fine-tuning rate
          optimizer=dict(lr=1e-6, weight_decay=1e-5))

- ``param_scheduler``: absent -> each member keeps its own; a list or a
  scheduler dict -> used for every member; a dict keyed by member names ->
  per member, the others keep their own.
- every member's learning-rate curve is computed over the whole loop
  from its completed wrapper and schedulers; a rate that rises above its
  base rate anywhere is refused unless ``allow_lr_rise`` says it is
  intended (see :mod:`.lr_schedule_check`).
- ``val_evaluator`` / ``test_evaluator``: every metric is evaluated for
  every member, with the member name as prefix (``r50/mIoU``).
- distributed training uses ``BiKDDistributedDataParallel``.
- a top-level ``data_preprocessor`` is dropped: each member normalises
  the batch with its own.
"""

import copy

from mmengine.config import Config, ConfigDict

from bikd_mm.engine.runner.config_checks import check_member_optim_wrappers
from bikd_mm.engine.runner.lr_schedule_check import (
    ALLOW_KEY,
    allowed_members,
    check_lr_schedule,
    lr_curve,
)
from bikd_mm.engine.runner.optim_wrapper_override import (
    OVERRIDE_KEY,
    apply_override,
)
from bikd_mm.engine.runner.paramwise_check import check_paramwise_cfg
from bikd_mm.models.member import parse_members

PAIR_CONSTRUCTOR = 'BiKDOptimWrapperConstructor'


def is_pair_config(cfg: Config) -> bool:
    """Whether ``cfg.model`` is a Bi-KD model with ``members``."""
    model = cfg.get('model')
    return isinstance(model, dict) and 'members' in model


def _member_setting(spec, key: str):
    if spec.config is None or spec.config.get(key) is None:
        raise KeyError(
            f'member {spec.name!r} has no {key!r}'
            + (
                f' in {spec.config_path}'
                if spec.config_path
                else ' (inline model)'
            )
            + f'; set {key} in the pair config'
        )
    return copy.deepcopy(spec.config[key])


def _per_member(value, specs, key: str, single) -> dict:
    """Resolve ``value`` into ``{member: setting}`` (see module doc)."""
    names = [s.name for s in specs]
    if value is None:
        return {s.name: _member_setting(s, key) for s in specs}
    if single(value):
        return {n: copy.deepcopy(value) for n in names}
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise KeyError(
                f'{key}: unknown members {unknown}; members are {names}'
            )
        return {
            s.name: copy.deepcopy(value[s.name])
            if s.name in value
            else _member_setting(s, key)
            for s in specs
        }
    raise TypeError(f'{key}: expected a dict or list, got {type(value)}')


def _check_top_constructor(optim, names: list) -> None:
    """Refuse a ``constructor`` next to per-member wrappers: the pair
    builds one wrapper per member, each with its own constructor."""
    if not (
        isinstance(optim, dict)
        and 'constructor' in optim
        and 'optimizer' not in optim
        and 'type' not in optim
    ):
        return
    own = {
        n: optim[n]['constructor']
        for n in names
        if isinstance(optim.get(n), dict) and 'constructor' in optim[n]
    }
    raise KeyError(
        f'optim_wrapper.constructor={optim["constructor"]!r} is set next '
        f'to the wrappers of members {[k for k in optim if k in names]}; '
        f'a pair builds one optimizer wrapper per member '
        f'({PAIR_CONSTRUCTOR}), so a top-level constructor is not read. '
        "Give each member's constructor inside its own wrapper, "
        'optim_wrapper.<member>.constructor'
        + (f' (set for {own})' if own else '')
    )


def _wrap_evaluator(evaluator, names: list):
    if evaluator is None:
        return None
    if isinstance(evaluator, (list, tuple)):
        return [_wrap_evaluator(e, names) for e in evaluator]
    if evaluator.get('type') in ('MemberMetric', 'bikd_mm.MemberMetric'):
        return evaluator
    return dict(type='MemberMetric', metric=evaluator, members=names)


def member_lr_curves(
    cfg: Config, epoch_length: int | None = None, names: list | None = None
) -> dict:
    """Each member's learning-rate curve in a completed pair config.

    Args:
        cfg (Config): A pair config completed by :func:`expand_pair_config`.
        epoch_length (int, optional): Iterations per epoch of an epoch
            loop (see :func:`~.lr_schedule_check.lr_curve`).
        names (list[str], optional): The members (default: the keys of
            the completed ``optim_wrapper``, in member order).

    Returns:
        dict[str, LRCurve]: By member name, in member order.
    """
    if names is None:
        names = [k for k in cfg.optim_wrapper if k != 'constructor']
    return {
        name: lr_curve(
            cfg.optim_wrapper[name],
            cfg.param_scheduler.get(name),
            cfg.train_cfg,
            default_scope=cfg.get('default_scope'),
            epoch_length=epoch_length,
        )
        for name in names
    }


def expand_pair_config(cfg: Config) -> Config:
    """Fill a pair config's optimizers, schedulers and evaluators.

    Args:
        cfg (Config): A config whose ``model`` has ``members``.

    Returns:
        Config: The same config, completed in place.
    """
    if not is_pair_config(cfg):
        return cfg
    specs = parse_members(cfg.model['members'])
    names = [s.name for s in specs]
    # The runner would merge a top-level preprocessor (as dataset bases of
    # mmpretrain define it) into the pair; each member normalises itself.
    cfg.pop('data_preprocessor', None)

    optim = cfg.get('optim_wrapper')
    if not (
        isinstance(optim, dict)
        and optim.get('constructor') == PAIR_CONSTRUCTOR
    ):
        _check_top_constructor(optim, names)
        per_member = _per_member(
            optim,
            specs,
            'optim_wrapper',
            single=lambda v: 'optimizer' in v or 'type' in v,
        )
        cfg.optim_wrapper = ConfigDict(
            constructor=PAIR_CONSTRUCTOR, **per_member
        )
    # Popped once merged, so a completed config completes to itself.
    override = cfg.pop(OVERRIDE_KEY, None)
    if override is not None:
        wrappers = {
            k: v for k, v in cfg.optim_wrapper.items() if k != 'constructor'
        }
        cfg.optim_wrapper = ConfigDict(
            constructor=PAIR_CONSTRUCTOR, **apply_override(wrappers, override)
        )
    # Checked once complete, so a member's own wrapper is checked too.
    for name, wrapper in cfg.optim_wrapper.items():
        if name != 'constructor' and isinstance(wrapper, dict):
            check_paramwise_cfg(name, wrapper)
    # Rates and clipping values, before the learning-rate curves use them.
    check_member_optim_wrappers(cfg.optim_wrapper)

    if 'train_cfg' in cfg and cfg.get('train_cfg'):
        sched = cfg.get('param_scheduler')
        cfg.param_scheduler = _per_member(
            sched,
            specs,
            'param_scheduler',
            single=lambda v: isinstance(v, (list, tuple)) or 'type' in v,
        )
        for name, curve in member_lr_curves(cfg, names=names).items():
            check_lr_schedule(
                name, curve, name in allowed_members(cfg.get(ALLOW_KEY), names)
            )

    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key) is not None:
            cfg[key] = _wrap_evaluator(cfg[key], names)

    if (
        cfg.get('launcher', 'none') != 'none'
        and cfg.get('model_wrapper_cfg') is None
    ):
        cfg.model_wrapper_cfg = dict(type='BiKDDistributedDataParallel')
    return cfg
