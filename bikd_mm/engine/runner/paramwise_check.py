"""Refuse unknown keys in a member's ``paramwise_cfg`` and inside its
``custom_keys`` entries.

mmengine's ``DefaultOptimWrapperConstructor`` reads a fixed set of
``paramwise_cfg`` keys and ignores any other (``norm_decay_mul=0.0``
changes nothing). It reads ``lr_mult`` and
``decay_mult`` of the entry whose name matches a parameter, then copies
every key of the entry into that parameter's group; a torch optimizer
keeps group keys it does not know without a word. A misspelled
``lr_mul=0.1`` therefore trains the part at the full learning rate. An
entry may hold:

- ``lr_mult`` and ``decay_mult`` (numbers);
- arguments of the member's optimizer class (``lr``, ``weight_decay``,
  ``betas``, ``momentum``, ...), which the group then sets for itself;
- the group keys that OpenMMLab code reads besides the optimizer's
  arguments: ``fix_lr`` (mmpretrain's ``SimSiamHook``) and
  ``lars_exclude`` (mmpretrain's ``LARS``).

When the optimizer class is not registered, or takes ``**kwargs``, its
arguments are unknown: only the mult values are checked. Members with
another constructor read ``custom_keys`` their own way and are not
checked.
"""

from numbers import Real

from mmengine.registry import OPTIMIZERS

from bikd_mm.engine.runner.optim_wrapper_override import (
    DEFAULT_CONSTRUCTOR,
    DEFAULT_PARAMWISE_KEYS,
    DELETE,
    accepted_arguments,
    registered_class,
    unknown_paramwise_keys,
)

MULT_KEYS = ('lr_mult', 'decay_mult')
GROUP_KEYS_READ_ELSEWHERE = {'fix_lr', 'lars_exclude'}


def _fix_hint(key: str) -> str:
    return (
        "fix it where it is set; an entry of the member's own config is "
        'replaced with '
        'optim_wrapper_override=dict(paramwise_cfg=dict(custom_keys='
        f'{{{key!r}: dict(_delete_=True, ...)}}))'
    )


def check_paramwise_cfg(name: str, wrapper: dict) -> None:
    """Check the ``paramwise_cfg`` of one member's wrapper and the entries
    of its ``custom_keys``.

    Args:
        name (str): The member's name, for the messages.
        wrapper (dict): The member's completed ``optim_wrapper`` config.

    Raises:
        TypeError: If ``custom_keys`` or one of its entries is not a
            dict, or a mult value is not a number.
        ValueError: If ``paramwise_cfg`` or an entry holds a key that
            neither the constructor nor the optimizer reads.
    """
    constructor = wrapper.get('constructor', DEFAULT_CONSTRUCTOR)
    paramwise = wrapper.get('paramwise_cfg')
    if constructor != DEFAULT_CONSTRUCTOR or not isinstance(paramwise, dict):
        return
    unknown = unknown_paramwise_keys(paramwise, constructor)
    if unknown:
        raise ValueError(
            f'member {name!r}: optim_wrapper.paramwise_cfg {unknown} are '
            f'not read by {DEFAULT_CONSTRUCTOR} (it reads '
            f'{sorted(DEFAULT_PARAMWISE_KEYS)}); fix it where it is set; '
            "the member's own paramwise_cfg is replaced with "
            'optim_wrapper_override=dict(paramwise_cfg=dict(_delete_=True, '
            '...))'
        )
    custom_keys = paramwise.get('custom_keys')
    if custom_keys is None:
        return
    where = f'member {name!r}: optim_wrapper.paramwise_cfg.custom_keys'
    if not isinstance(custom_keys, dict):
        raise TypeError(
            f'{where}: expected a dict of {{parameter name part: dict}}, '
            f'got {type(custom_keys).__name__}'
        )
    optimizer = wrapper.get('optimizer')
    optim_cls = (
        registered_class(OPTIMIZERS, optimizer.get('type'))
        if isinstance(optimizer, dict)
        else None
    )
    arguments = accepted_arguments(optim_cls) if optim_cls else None
    # An entry's 'params' would replace the parameters of the group.
    allowed = (
        None
        if arguments is None
        else set(MULT_KEYS)
        | GROUP_KEYS_READ_ELSEWHERE
        | (arguments - {'params'})
    )
    for key, entry in custom_keys.items():
        if not isinstance(entry, dict):
            raise TypeError(
                f'{where}[{key!r}]: expected a dict such as '
                f'dict(lr_mult=0.1), got {entry!r}'
            )
        for mult in MULT_KEYS:
            value = entry.get(mult, 1.0)
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(
                    f'{where}[{key!r}].{mult}: expected a number, got '
                    f'{value!r}'
                )
        if allowed is None:
            continue
        unknown = sorted(set(entry) - {DELETE} - allowed)
        if unknown:
            raise ValueError(
                f'{where}[{key!r}]: {unknown} are neither read by '
                f'{DEFAULT_CONSTRUCTOR} nor arguments of '
                f'{optim_cls.__name__}, so the parameter group would keep '
                f'them unused; allowed: {sorted(allowed)} ({_fix_hint(key)})'
            )
