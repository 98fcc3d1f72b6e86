"""How the members' complementarity before training relates to the gains
each transfer regime got, start by start."""

import os.path as osp
import statistics

from bikd_mm.apis.transfer_comparison.regimes import REGIME_TITLES


def _same_files(a: dict, b: dict) -> bool:
    def norm(paths):
        return {n: osp.realpath(p) for n, p in paths.items() if p}

    return norm(a) == norm(b)


def relate_gains(compare: dict, complementarities: list) -> dict:
    """Pair each pretrained start of a comparison with its complementarity.

    Args:
        compare (dict): A ``compare_transfer`` result (JSON) run with
            several pretrained starts (``checkpoints_by_pretrain_seed``) or
            one (``checkpoints``).
        complementarities (list[dict]): ``complementarity`` results (JSON),
            one per start, matched to it by their member checkpoints.

    Returns:
        dict: ``rows``: per start and pair of members, the shares where one
        is right and the other wrong, the oracle's margin over the better
        member (percentage points) and, per regime and member, the mean
        difference to independent fine-tuning over the fine-tuning seeds
        of that start (``gains``); ``regimes`` and ``members``.

    Raises:
        ValueError: A complementarity result that matches no start (named
            by its position and checkpoints), or a start without one.
    """
    starts = compare.get('checkpoints_by_pretrain_seed') or {
        'None': compare['checkpoints']
    }
    by_start = {}
    for index, comp in enumerate(complementarities):
        match = [
            s
            for s, ckpts in starts.items()
            if _same_files(ckpts, comp.get('checkpoints', {}))
        ]
        if not match:
            raise ValueError(
                f'complementarity result {index} (checkpoints '
                f'{comp.get("checkpoints")}) matches none of the '
                f'comparison starts {starts}'
            )
        by_start[match[0]] = comp
    missing = sorted(set(starts) - set(by_start))
    if missing:
        raise ValueError(
            f'no complementarity result for the comparison start(s) '
            f'{missing} (checkpoints {[starts[s] for s in missing]})'
        )
    regimes = [r for r in compare['regimes'] if r != 'independent']
    names = compare['members']
    rows = []
    for start, comp in sorted(by_start.items()):
        gains = {}
        runs = [
            r for r in compare['runs'] if str(r.get('pretrain_seed')) == start
        ]
        base = {r['seed']: r for r in runs if r['regime'] == 'independent'}
        for regime in regimes:
            diffs = {n: [] for n in names}
            for r in runs:
                if r['regime'] == regime and r['seed'] in base:
                    for n in names:
                        diffs[n].append(
                            r['final'][n] - base[r['seed']]['final'][n]
                        )
            gains[regime] = {
                n: dict(mean=statistics.fmean(d), n=len(d))
                for n, d in diffs.items()
                if d
            }
        for pair in comp['pairs']:
            rows.append(
                dict(
                    start=start,
                    a=pair['a'],
                    b=pair['b'],
                    a_right_b_wrong=100 * pair['a_right_b_wrong'],
                    b_right_a_wrong=100 * pair['b_right_a_wrong'],
                    oracle_margin=100
                    * (pair['oracle_accuracy'] - pair['best_accuracy']),
                    gains=gains,
                )
            )
    return dict(rows=rows, regimes=regimes, members=names)


def relation_markdown(relation: dict) -> str:
    """The relation as a Markdown table (one row per start and pair)."""
    regimes, names = relation['regimes'], relation['members']
    head = ['start', 'pair', 'A right, B wrong', 'B right, A wrong']
    head.append('oracle - best')
    head += [f'{REGIME_TITLES.get(r, r)}: {n}' for r in regimes for n in names]
    lines = [
        '| ' + ' | '.join(head) + ' |',
        '|' + '---|' * 2 + '---:|' * (len(head) - 2),
    ]
    for row in relation['rows']:
        cells = [
            row['start'],
            f'{row["a"]} / {row["b"]}',
            f'{row["a_right_b_wrong"]:.2f}',
            f'{row["b_right_a_wrong"]:.2f}',
            f'{row["oracle_margin"]:.2f}',
        ]
        for r in regimes:
            for n in names:
                g = row['gains'].get(r, {}).get(n)
                cells.append(
                    '' if g is None else f'{g["mean"]:+.2f} ({g["n"]})'
                )
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += [
        '',
        'Shares and the oracle margin are percentages (points) of the '
        'validation samples or pixels before training; each gain is the '
        "mean difference to independent fine-tuning over that start's "
        'fine-tuning seeds (their number in brackets), in points of the '
        'comparison metric.',
    ]
    return '\n'.join(lines) + '\n'
