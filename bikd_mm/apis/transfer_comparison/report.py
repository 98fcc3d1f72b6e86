"""The summary over seeds, the Markdown report and the output files."""

import math
import statistics

from bikd_mm.utils.io import dump_json_atomic, write_text_atomic

from .plots import write_plots
from .regimes import REGIME_TITLES


def _mean_std(values: list) -> dict:
    return dict(
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else 0.0,
        n=len(values),
    )


def summarise(runs: list, names: list, regimes: tuple) -> dict:
    """Each regime's final metric and mean teach share, over seeds.

    Returns:
        dict: ``{regime: {member: {metric: {mean, std, n}, teach_share:
        {mean, std, n} or None}}}``; the teach share of a run is its mean
        over the logged windows.
    """
    summary = {}
    for regime in regimes:
        mine = [r for r in runs if r['regime'] == regime]
        summary[regime] = {}
        for n in names:
            shares = [
                statistics.fmean(v for _, v in r['curves']['teach_share'][n])
                for r in mine
                if r['curves']['teach_share'][n]
            ]
            summary[regime][n] = dict(
                metric=_mean_std([r['final'][n] for r in mine]),
                teach_share=_mean_std(shares) if shares else None,
            )
    return summary


def paired_interval(differences: list, level: float = 0.95) -> dict:
    """Mean of paired differences and its two-sided t interval.

    Args:
        differences (list[float]): One difference per pair of runs.
        level (float): Coverage of the interval. Defaults to 0.95.

    Returns:
        dict: ``mean``, ``low``, ``high``, ``std`` and ``n``; with one
        difference the interval is unbounded.
    """
    from scipy import stats

    n = len(differences)
    if n == 0:
        raise ValueError('no paired runs to compare')
    mean = statistics.fmean(differences)
    if n == 1:
        return dict(mean=mean, low=-math.inf, high=math.inf, std=0.0, n=1)
    std = statistics.stdev(differences)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)
    return dict(mean=mean, low=mean - half, high=mean + half, std=std, n=n)


def paired_differences(
    runs: list, names: list, regimes: tuple, baseline: str = 'independent'
) -> dict:
    """Each regime against ``baseline`` on the same start and data order.

    Runs pair up by pre-training seed (the same pretrained checkpoints)
    and fine-tuning seed (the same batches); each pair gives one
    difference per member, ``regime - baseline``.

    Returns:
        dict: ``{regime: {member: paired_interval}}`` for every regime but
        the baseline; empty when the baseline was not run.
    """

    def key(run):
        return run.get('pretrain_seed'), run['seed']

    base = {key(r): r for r in runs if r['regime'] == baseline}
    if not base:
        return {}
    result = {}
    for regime in regimes:
        if regime == baseline:
            continue
        pairs = [
            (r, base[key(r)])
            for r in runs
            if r['regime'] == regime and key(r) in base
        ]
        if not pairs:
            continue
        result[regime] = {
            n: paired_interval(
                [r['final'][n] - b['final'][n] for r, b in pairs]
            )
            for n in names
        }
    return result


def markdown_table(result: dict) -> str:
    """The Markdown report: settings, the summary table, every seed."""
    names, metric = result['members'], result['metric']
    start = result['start']
    lines = [
        f'# Transfer regimes on `{result["pair_config"]}`',
        '',
        f'Command: `{result["command"]}`',
        '',
        f'Each regime fine-tunes the same pretrained members for '
        f'{result["iters"]} iterations (same optimizers, data order per '
        f'seed); seeds {result["seeds"]}. Final `{metric}` on the '
        'validation split after the last iteration (no best-checkpoint '
        'selection), mean +- standard deviation over seeds; teach share: '
        'the share of the training elements a member taught, averaged over '
        f'the run. One-way teacher: `{result["one_way_teacher"]}` (better '
        'at the start).',
        '',
        '| regime | '
        + ' | '.join(f'{n} {metric}' for n in names)
        + ' | '
        + ' | '.join(f'{n} teach share' for n in names)
        + ' |',
        '| --- |' + ' --- |' * (2 * len(names)),
        '| pretrained (start) | '
        + ' | '.join(f'{start[n]:.2f}' for n in names)
        + ' |'
        + ' |' * len(names),
    ]
    for regime, per_member in result['summary'].items():
        cells = []
        for n in names:
            m = per_member[n]['metric']
            delta = m['mean'] - start[n]
            cells.append(f'{m["mean"]:.2f} +- {m["std"]:.2f} ({delta:+.2f})')
        for n in names:
            share = per_member[n]['teach_share']
            cells.append(
                '-'
                if share is None
                else f'{share["mean"]:.2f} +- {share["std"]:.2f}'
            )
        lines.append(
            f'| {REGIME_TITLES[regime]} | ' + ' | '.join(cells) + ' |'
        )
    lines += [
        '',
        'In brackets: the change from the start. Teach share: with Deep '
        'Mutual Learning every member teaches every element (1); in '
        'one-way KD the frozen teacher teaches every element; independent '
        'fine-tuning distils nothing, and where a share is shown it is the '
        'share the member would have taught.',
    ]
    lines += _paired_section(result.get('paired'), 'independent', names)
    lines += _paired_section(result.get('paired_vs_dml'), 'dml', names)
    lines += [
        '',
        '## Every run',
        '',
        '| regime | seed | '
        + ' | '.join(f'{n} {metric}' for n in names)
        + ' | seconds |',
        '| --- | --- |' + ' --- |' * (len(names) + 1),
    ]
    for run in result['runs']:
        lines.append(
            f'| {run["regime"]} | {_seed(run)} | '
            + ' | '.join(f'{run["final"][n]:.2f}' for n in names)
            + f' | {run["seconds"]:.0f} |'
        )
    return '\n'.join(lines) + '\n'


def _paired_section(paired: dict | None, baseline: str, names) -> list:
    """Markdown lines of :func:`paired_differences` against ``baseline``."""
    if not paired:
        return []
    title = REGIME_TITLES[baseline]
    lines = [
        '',
        f'## Paired against {title}',
        '',
        f'Mean difference `regime - {baseline}` over runs that share the '
        'pretrained checkpoints and the data order, with its 95% t '
        'interval; an interval that holds 0 is no measurable difference.',
        '',
        '| regime | ' + ' | '.join(f'{n} difference' for n in names) + ' |',
        '| --- |' + ' --- |' * len(names),
    ]
    for regime, per_member in paired.items():
        cells = [
            f'{d["mean"]:+.2f} [{d["low"]:+.2f}, {d["high"]:+.2f}] '
            f'(n={d["n"]})'
            for d in (per_member[n] for n in names)
        ]
        lines.append(
            f'| {REGIME_TITLES[regime]} | ' + ' | '.join(cells) + ' |'
        )
    return lines


def _seed(run: dict) -> str:
    """``<pretrain seed>/<seed>`` with several pretrained starts."""
    if run.get('pretrain_seed') is None:
        return str(run['seed'])
    return f'{run["pretrain_seed"]}/{run["seed"]}'


def write_outputs(result: dict, out_prefix: str) -> list:
    """Write the JSON, the Markdown table and the plots of a result.

    Returns:
        list[str]: The files written.
    """
    dump_json_atomic(result, f'{out_prefix}.json')
    write_text_atomic(markdown_table(result), f'{out_prefix}.md')
    return [f'{out_prefix}.json', f'{out_prefix}.md'] + write_plots(
        result, out_prefix
    )


def _run_line(run: dict, names: list) -> str:
    return (
        f'{run["regime"]} seed {_seed(run)}: '
        + ', '.join(f'{n} {run["final"][n]:.2f}' for n in names)
        + f' ({run["seconds"]:.0f} s)'
    )
