"""The complementarity report: JSON, a Markdown table and a picture."""

import math

from bikd_mm.utils.io import atomic_path, dump_json_atomic, write_text_atomic

from .metrics import SHARES

SHARE_TITLES = dict(
    both_right='both right',
    a_right_b_wrong='A right, B wrong',
    b_right_a_wrong='B right, A wrong',
    both_wrong='both wrong',
)
SHARE_COLOURS = dict(
    both_right='#4c9a2a',
    a_right_b_wrong='#1f77b4',
    b_right_a_wrong='#ff7f0e',
    both_wrong='#b22222',
)


def _pct(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{100 * value:.2f}'


def _metric(result: dict) -> str:
    return 'mIoU' if result['task'] == 'segmentation' else 'accuracy'


def markdown_table(result: dict) -> str:
    """The report as Markdown: members, pairs and the oracle.

    Args:
        result (dict): A complementarity result.

    Returns:
        str: Markdown text (percentages).
    """
    seg = result['task'] == 'segmentation'
    unit = 'valid pixels' if seg else 'samples'
    counted = f'{result.get("num_samples", "?")} samples'
    if seg:
        counted += f', {result["num_valid"]} {unit}'
    lines = [
        f'# Complementarity ({result["task"]})',
        '',
        f'Config: `{result.get("config", "")}`, split '
        f'`{result.get("split", "")}`: {counted}. Shares are percentages '
        f'of the {unit}.',
        '',
        '| member | checkpoint | accuracy |' + (' mIoU |' if seg else ''),
        '|---|---|---:|' + ('---:|' if seg else ''),
    ]
    checkpoints = result.get('checkpoints', {})
    for name, scores in result['members'].items():
        row = (
            f'| {name} | `{checkpoints.get(name) or "none (random)"}` | '
            f'{_pct(scores["accuracy"])} |'
        )
        if seg:
            row += f' {_pct(scores["mIoU"])} |'
        lines.append(row)
    metric = _metric(result)
    lines += [
        '',
        '| A | B | both right | A right, B wrong | B right, A wrong | '
        f'both wrong | best single {metric} | oracle accuracy |'
        + (' oracle mIoU |' if seg else ''),
        '|---|---|---:|---:|---:|---:|---:|---:|' + ('---:|' if seg else ''),
    ]
    for pair in result['pairs']:
        row = f'| {pair["a"]} | {pair["b"]} | ' + ' | '.join(
            _pct(pair[k]) for k in SHARES
        )
        row += (
            f' | {_pct(pair[f"best_{metric}"])} ({pair["best"]}) | '
            f'{_pct(pair["oracle_accuracy"])} |'
        )
        if seg:
            row += f' {_pct(pair["oracle_mIoU"])} |'
        lines.append(row)
    oracle = result['oracle']
    text = (
        f'Oracle of all {len(oracle["members"])} members '
        f'({", ".join(oracle["members"])}): accuracy '
        f'{_pct(oracle["oracle_accuracy"])}'
    )
    if seg:
        text += f', mIoU {_pct(oracle["oracle_mIoU"])}'
    text += (
        f'; best single member {oracle["best"]}: {metric} '
        f'{_pct(oracle[f"best_{metric}"])}. All right on '
        f'{_pct(oracle["all_right"])}, all wrong on '
        f'{_pct(oracle["all_wrong"])}.'
    )
    if seg:
        text += (
            ' The oracle mIoU takes the label where a member is right and '
            "the best member's prediction where all are wrong."
        )
    lines += ['', text, '']
    if result.get('command'):
        lines += [f'Command: `{result["command"]}`', '']
    return '\n'.join(lines)


def write_plot(result: dict, filename: str) -> str:
    """A stacked bar of the four shares per pair, and per pair (and for
    all members) the oracle's metric next to the best single member's.

    Args:
        result (dict): A complementarity result.
        filename (str): The PNG file.

    Returns:
        str: ``filename``.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    pairs = result['pairs']
    metric = _metric(result)
    groups = [(f'{p["a"]} | {p["b"]}', p) for p in pairs]
    if len(result['members']) > 2:
        groups.append(('all members', result['oracle']))
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(12, 2.2 + 0.6 * max(len(groups), 2)),
        gridspec_kw=dict(width_ratios=[3, 2]),
    )
    labels = [f'{p["a"]} (A) | {p["b"]} (B)' for p in pairs]
    start = [0.0] * len(pairs)
    for key in SHARES:
        values = [100 * p[key] for p in pairs]
        left.barh(
            labels,
            values,
            left=start,
            color=SHARE_COLOURS[key],
            label=SHARE_TITLES[key],
        )
        for i, value in enumerate(values):
            if value >= 6:
                left.text(
                    start[i] + value / 2,
                    i,
                    f'{value:.1f}',
                    ha='center',
                    va='center',
                    color='white',
                    fontsize=8,
                )
        start = [s + v for s, v in zip(start, values)]
    unit = 'valid pixels' if result['task'] == 'segmentation' else 'samples'
    left.set_xlim(0, 100)
    left.set_xlabel(f'% of {unit}')
    left.invert_yaxis()
    left.legend(
        fontsize=8, ncol=4, loc='lower center', bbox_to_anchor=(0.5, 1.0)
    )
    left.set_title('who is right', pad=28)
    names = [g[0] for g in groups]
    ys = range(len(groups))
    best = [100 * g[1][f'best_{metric}'] for g in groups]
    oracle = [100 * g[1][f'oracle_{metric}'] for g in groups]
    for offset, values, label, colour in (
        (-0.2, best, 'best single member', '#7f7f7f'),
        (0.2, oracle, 'oracle', '#9467bd'),
    ):
        right.barh(
            [y + offset for y in ys],
            values,
            height=0.4,
            label=label,
            color=colour,
        )
        for y, value in zip(ys, values):
            right.text(
                value + 1, y + offset, f'{value:.1f}', va='center', fontsize=8
            )
    right.set_yticks(list(ys), names)
    right.set_xlim(0, 110)
    right.invert_yaxis()
    right.set_xlabel(f'{metric} (%)')
    right.legend(
        fontsize=8, ncol=2, loc='lower center', bbox_to_anchor=(0.5, 1.0)
    )
    right.set_title(f'oracle vs. best single member ({metric})', pad=28)
    fig.tight_layout()
    with atomic_path(filename, suffix='.png') as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return filename


def write_report(result: dict, prefix: str) -> list:
    """``<prefix>.json``, ``<prefix>.md`` and ``<prefix>.png``.

    Args:
        result (dict): A complementarity result.
        prefix (str): Output prefix.

    Returns:
        list[str]: The files written.
    """
    dump_json_atomic(result, f'{prefix}.json')
    write_text_atomic(markdown_table(result), f'{prefix}.md')
    write_plot(result, f'{prefix}.png')
    return [f'{prefix}.json', f'{prefix}.md', f'{prefix}.png']
