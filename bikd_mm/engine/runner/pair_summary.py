"""What a pair config trains, member by member, as the runner completes it.

Used by ``tools/analysis/print_pair_config.py`` and by the table of
shipped configs in ``docs/train_a_pair.md``.
"""

from mmengine.config import Config

from bikd_mm.engine.runner.lr_schedule_check import (
    ALLOW_KEY,
    LRScheduleError,
)
from bikd_mm.engine.runner.pair_config import (
    expand_pair_config,
    member_lr_curves,
)

COLUMNS = (
    'member',
    'optimizer',
    'lr',
    'weight decay',
    'param groups',
    'clip grad',
    'schedulers',
    'length',
    'warm-up',
    'peak lr',
    'final lr',
    'batch',
)


def _groups(wrapper: dict) -> str:
    """The ``paramwise_cfg`` multipliers: ``lr x0.1: backbone (+2)``."""
    paramwise = wrapper.get('paramwise_cfg') or {}
    by_mult = {}
    for key, entry in (paramwise.get('custom_keys') or {}).items():
        for kind in ('lr', 'decay'):
            mult = (entry or {}).get(f'{kind}_mult', 1.0)
            if mult != 1.0:
                by_mult.setdefault((kind, mult), []).append(key)
    parts = []
    for (kind, mult), keys in by_mult.items():
        shown = ', '.join(keys[:2])
        more = f' (+{len(keys) - 2})' if len(keys) > 2 else ''
        parts.append(f'{kind} x{mult:g}: {shown}{more}')
    for key, value in paramwise.items():
        if key.endswith('_mult') and value is not None and value != 1.0:
            parts.append(f'{key} {value:g}')
    return '; '.join(parts)


def _clip(wrapper: dict) -> str:
    clip = wrapper.get('clip_grad')
    if not clip:
        return '-'
    return ', '.join(f'{k}={v}' for k, v in clip.items())


def summarize_pair(cfg: Config, epoch_length: int | None = None) -> dict:
    """Complete a pair config and describe what each member trains.

    A config the completion refuses for its learning-rate curve is still
    described; the refusal is returned with it.

    Args:
        cfg (Config): A pair config (not modified).
        epoch_length (int, optional): Iterations per epoch, for
            iteration-based schedulers in an epoch loop.

    Returns:
        dict: ``rows`` (one dict per member, keys :data:`COLUMNS`),
        ``refused`` (the refusal message or None) and ``notes``.
    """
    refused = None
    try:
        cfg = expand_pair_config(cfg.copy())
    except LRScheduleError as err:
        refused = str(err)
        cfg = cfg.copy()
        cfg[ALLOW_KEY] = True
        cfg = expand_pair_config(cfg)
    curves = member_lr_curves(cfg, epoch_length=epoch_length)
    batch = (cfg.get('train_dataloader') or {}).get('batch_size', '-')
    rows, notes = [], []
    for name, curve in curves.items():
        wrapper = cfg.optim_wrapper[name]
        optimizer = wrapper.get('optimizer') or {}
        rows.append(
            {
                'member': name,
                'optimizer': f'{wrapper.get("type", "OptimWrapper")}'
                f'({curve.optimizer})',
                'lr': f'{curve.base:.3g}',
                'weight decay': f'{optimizer.get("weight_decay", 0):.3g}',
                'param groups': _groups(wrapper) or '-',
                'clip grad': _clip(wrapper),
                'schedulers': ' + '.join(curve.schedulers) or '-',
                'length': f'{curve.length} {curve.unit}s',
                'warm-up': f'{curve.warmup:g} {curve.unit}s',
                'peak lr': f'{curve.peak:.3g}',
                'final lr': f'{curve.final:.3g}',
                'batch': str(batch),
            }
        )
        notes += [f'{name}: {n}' for n in curve.notes]
    return dict(rows=rows, refused=refused, notes=notes)


def markdown_table(rows: list, first: str | None = None) -> str:
    """Rows of :func:`summarize_pair` as a Markdown table.

    Args:
        rows (list[dict]): Rows; a ``config`` key adds a first column.
        first (str, optional): Header of that first column.

    Returns:
        str: The table.
    """
    columns = ([first] if first else []) + list(COLUMNS)
    keys = (['config'] if first else []) + list(COLUMNS)
    lines = [
        '| ' + ' | '.join(columns) + ' |',
        '| ' + ' | '.join('---' for _ in columns) + ' |',
    ]
    for row in rows:
        lines.append('| ' + ' | '.join(str(row[k]) for k in keys) + ' |')
    return '\n'.join(lines)
