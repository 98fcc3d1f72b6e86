"""Build-time checks of the runner options of a pair config.

``BiKDRunner`` checks these before it builds anything, so a wrong value
fails at once naming the config key, instead of failing later in mmengine
or torch with a message that names neither (``val_interval=0``: a modulo
by zero at the first validation; a negative learning rate: torch's
``Invalid learning rate`` without the member) or changing behaviour
silently (``allow_unsafe_checkpoint='no'`` is a true string, which would
opt in to unsafe unpickling).
"""

import numbers

from bikd_mm.models.option_checks import (
    check_count,
    check_flag,
    check_fraction,
    check_positive,
    check_weight,
)

OWNER = 'BiKDRunner'
# Members' optimizer settings that are numbers >= 0 / > 0.
OPTIMIZER_WEIGHTS = ('lr', 'weight_decay', 'momentum', 'dampening')
OPTIMIZER_POSITIVE = ('eps',)


def _check_int(key: str, value) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f'{OWNER}: {key} must be an integer, got {value!r}')


def check_runner_options(cfg) -> None:
    """Check the runner's own options (before the config is completed).

    Args:
        cfg (Config): The pair config.

    Raises:
        ValueError | TypeError: Naming the key and the value.
    """
    for key in ('allow_unsafe_checkpoint', 'resume'):
        if cfg.get(key) is not None:
            check_flag(OWNER, key, cfg.get(key))
    load_from = cfg.get('load_from')
    if load_from is not None and not (
        isinstance(load_from, str) and load_from
    ):
        raise TypeError(
            f'{OWNER}: load_from must be a checkpoint path or URL, got '
            f'{load_from!r}'
        )
    if cfg.get('load_from_min_loaded') is not None:
        check_fraction(
            OWNER, 'load_from_min_loaded', cfg.get('load_from_min_loaded')
        )
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict):
        for key in ('max_iters', 'max_epochs', 'val_interval'):
            if train_cfg.get(key) is not None:
                check_count(OWNER, f'train_cfg.{key}', train_cfg[key])
        if train_cfg.get('val_begin') is not None:
            check_count(OWNER, 'train_cfg.val_begin', train_cfg.val_begin, 0)
    dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
    if dist_cfg.get('timeout') is not None:
        check_positive(OWNER, 'env_cfg.dist_cfg.timeout', dist_cfg.timeout)
    seed = (cfg.get('randomness') or {}).get('seed')
    if seed is not None:
        _check_int('randomness.seed', seed)
    for hook in ('checkpoint', 'logger'):
        options = (cfg.get('default_hooks') or {}).get(hook)
        if not isinstance(options, dict):
            continue
        for key in ('interval', 'max_keep_ckpts'):
            if options.get(key) is not None:
                _check_int(f'default_hooks.{hook}.{key}', options[key])


def check_member_optim_wrappers(optim_wrapper: dict) -> None:
    """Check the numbers of each member's completed optimizer wrapper.

    Args:
        optim_wrapper (dict): ``{member: optim_wrapper config}`` (and
            ``constructor``), as :func:`expand_pair_config` completes it.

    Raises:
        ValueError: Naming ``optim_wrapper.<member>.<key>`` and the value.
    """
    for name, wrapper in optim_wrapper.items():
        if name == 'constructor' or not isinstance(wrapper, dict):
            continue
        where = f'optim_wrapper.{name}'
        if wrapper.get('accumulative_counts') is not None:
            check_count(
                OWNER,
                f'{where}.accumulative_counts',
                wrapper.accumulative_counts,
            )
        optimizer = wrapper.get('optimizer')
        if isinstance(optimizer, dict):
            for key in OPTIMIZER_WEIGHTS:
                if isinstance(optimizer.get(key), (numbers.Number, str)):
                    check_weight(
                        OWNER, f'{where}.optimizer.{key}', optimizer[key]
                    )
            for key in OPTIMIZER_POSITIVE:
                if isinstance(optimizer.get(key), (numbers.Number, str)):
                    check_positive(
                        OWNER, f'{where}.optimizer.{key}', optimizer[key]
                    )
        clip = wrapper.get('clip_grad')
        if isinstance(clip, dict):
            for key in ('max_norm', 'clip_value'):
                if clip.get(key) is not None:
                    check_positive(
                        OWNER, f'{where}.clip_grad.{key}', clip[key]
                    )
