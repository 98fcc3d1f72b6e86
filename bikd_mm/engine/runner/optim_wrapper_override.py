"""Merge a pair config's ``optim_wrapper_override`` into each member's
optimizer wrapper.

``optim_wrapper`` in a pair config replaces a member's wrapper;
``optim_wrapper_override`` changes a few values of it and keeps the rest
(``clip_grad``, ``paramwise_cfg``, betas, ...). Dicts merge key by key, as
mmengine merges a config into its ``_base_``; ``_delete_=True`` in a dict
replaces it instead, and a value that is not a dict (a number, a list,
``None``) replaces the member's value::

    optim_wrapper_override = dict(
        optimizer=dict(lr=1e-6, weight_decay=1e-5),
        paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))),
    )

applies to every member;
``dict(r50=dict(optimizer=dict(lr=1e-6)), swin=...)`` (keyed by member
names) to the members named, the others keep theirs.
"""

import copy
import inspect

from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS

OVERRIDE_KEY = 'optim_wrapper_override'
DELETE = '_delete_'
DEFAULT_CONSTRUCTOR = 'DefaultOptimWrapperConstructor'
# Keys of a wrapper config that are not arguments of the wrapper class.
WRAPPER_CONFIG_KEYS = {'type', 'optimizer', 'constructor', 'paramwise_cfg'}
# paramwise_cfg keys that mmengine's DefaultOptimWrapperConstructor reads.
DEFAULT_PARAMWISE_KEYS = {
    'custom_keys',
    'bias_lr_mult',
    'bias_decay_mult',
    'norm_decay_mult',
    'dwconv_decay_mult',
    'flat_decay_mult',
    'bypass_duplicate',
    'dcn_offset_lr_mult',
}
# clip_grad keys per clipping type: the arguments of
# torch.nn.utils.clip_grad_norm_ / clip_grad_value_ besides the
# parameters, and 'type'.
CLIP_GRAD_KEYS = {
    'norm': {'type', 'max_norm', 'norm_type', 'error_if_nonfinite', 'foreach'},
    'value': {'type', 'clip_value', 'foreach'},
}


def merge(base, override: dict) -> dict:
    """Merge ``override`` into a copy of ``base`` (mmengine's rules).

    Args:
        base (dict | None): The member's setting.
        override (dict): Values to change; ``_delete_=True`` in a dict
            replaces the dict of ``base`` at that place.

    Returns:
        dict: The merged setting; ``base`` is left unchanged.
    """
    out = copy.deepcopy(dict(base)) if isinstance(base, dict) else {}
    for key, value in override.items():
        if key == DELETE:
            continue
        if isinstance(value, dict):
            keep = isinstance(out.get(key), dict) and not value.get(DELETE)
            out[key] = merge(out[key] if keep else None, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def accepted_arguments(cls) -> set | None:
    """Keyword arguments ``cls`` accepts; None if it takes any."""
    names = set()
    for klass in inspect.getmro(cls):
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names - {'self'}
    return None


def registered_class(registry, type_) -> type | None:
    if isinstance(type_, type):
        return type_
    try:
        return registry.get(type_)
    except (KeyError, TypeError):
        return None


def _check(
    name: str, own: dict, override: dict, merged: dict, names: list
) -> None:
    """Refuse override keys that neither the member's wrapper nor the
    classes they configure know."""
    wrapper_cls = registered_class(
        OPTIM_WRAPPERS, merged.get('type', 'OptimWrapper')
    )
    allowed = accepted_arguments(wrapper_cls) if wrapper_cls else None
    for key in override:
        if key == DELETE or key in own or key in WRAPPER_CONFIG_KEYS:
            continue
        if allowed is not None and key not in allowed:
            raise KeyError(
                f"{OVERRIDE_KEY}: {key!r} is not a key of member {name!r}'s "
                f'optim_wrapper nor an argument of {wrapper_cls.__name__} '
                f'(its keys: {sorted(own)}; members: {names})'
            )
    _check_nested(name, override, merged)
    optimizer = merged.get('optimizer')
    if 'optimizer' not in override or not isinstance(optimizer, dict):
        return
    optim_cls = registered_class(OPTIMIZERS, optimizer.get('type'))
    allowed = accepted_arguments(optim_cls) if optim_cls else None
    if allowed is None:
        return
    own_type = (own.get('optimizer') or {}).get('type')
    for key in optimizer:
        if key == 'type' or key in allowed:
            continue
        origin = (
            f'kept from its own {own_type} optimizer; replace the optimizer '
            'with optimizer=dict(_delete_=True, type=..., ...)'
            if key not in override['optimizer']
            else f'{optim_cls.__name__} takes {sorted(allowed - {"params"})}'
        )
        raise KeyError(
            f'{OVERRIDE_KEY}: member {name!r}: optimizer.{key} is not an '
            f'argument of {optim_cls.__name__} ({origin})'
        )


def _check_nested(name: str, override: dict, merged: dict) -> None:
    """Refuse ``clip_grad`` keys the clipping function does not take, and
    ``paramwise_cfg`` keys mmengine's default constructor does not read
    (other constructors read their own keys and are not checked)."""
    clip = override.get('clip_grad')
    if isinstance(clip, dict) and isinstance(merged.get('clip_grad'), dict):
        kind = merged['clip_grad'].get('type', 'norm')
        known = CLIP_GRAD_KEYS.get(kind)
        unknown = sorted(set(clip) - {DELETE} - (known or set()))
        if known is None or unknown:
            raise KeyError(
                f'{OVERRIDE_KEY}: member {name!r}: clip_grad '
                + (
                    f'type {kind!r} is neither "norm" nor "value"'
                    if known is None
                    else f'{unknown} are not among {sorted(known)}'
                )
            )
    unknown = unknown_paramwise_keys(
        override.get('paramwise_cfg'), merged.get('constructor')
    )
    if unknown:
        raise KeyError(
            f'{OVERRIDE_KEY}: member {name!r}: paramwise_cfg {unknown} '
            'are not read by DefaultOptimWrapperConstructor (it reads '
            f'{sorted(DEFAULT_PARAMWISE_KEYS)})'
        )


def unknown_paramwise_keys(paramwise, constructor: str | None) -> list:
    """The keys of ``paramwise`` (a ``paramwise_cfg``) that mmengine's
    default constructor does not read, sorted; none when ``constructor``
    (None: the default) is another one, which reads its own keys, or
    ``paramwise`` is not a dict."""
    if (constructor or DEFAULT_CONSTRUCTOR) != DEFAULT_CONSTRUCTOR:
        return []
    if not isinstance(paramwise, dict):
        return []
    return sorted(set(paramwise) - {DELETE} - DEFAULT_PARAMWISE_KEYS)


def apply_override(wrappers: dict, override: dict) -> dict:
    """Merge ``override`` into each member's optimizer wrapper config.

    Args:
        wrappers (dict): ``{member name: optim_wrapper config}``.
        override (dict): One override for every member, or a dict keyed
            by member names (see the module doc).

    Returns:
        dict: ``{member name: merged optim_wrapper config}``.

    Raises:
        KeyError: If the override mixes member names with wrapper keys,
            or names a key that the member's wrapper, its wrapper class
            or its optimizer class does not have.
        TypeError: If the override, or a member's entry, is not a dict.
    """
    if not isinstance(override, dict):
        raise TypeError(
            f'{OVERRIDE_KEY}: expected a dict, got {type(override)}'
        )
    names = list(wrappers)
    keys = [k for k in override if k != DELETE]
    by_member = [k for k in keys if k in names]
    others = [k for k in keys if k not in names]
    if by_member and others:
        raise KeyError(
            f'{OVERRIDE_KEY}: {others} are not member names but '
            f'{by_member} are; give one override for every member or a '
            f'dict keyed by member names (members are {names})'
        )
    per_member = (
        {n: override[n] for n in by_member}
        if by_member
        else {n: override for n in names}
    )
    out = dict(wrappers)
    for name, values in per_member.items():
        if not isinstance(values, dict):
            raise TypeError(
                f'{OVERRIDE_KEY}.{name}: expected a dict, got {type(values)}'
            )
        merged = merge(wrappers[name], values)
        _check(name, dict(wrappers[name]), values, merged, names)
        out[name] = merged
    return out
