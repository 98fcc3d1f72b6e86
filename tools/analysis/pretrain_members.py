"""Pre-train every member of a pair alone, once per seed, to its plateau.

Each member trains on its own config's schedule with its validation on;
the checkpoints are cached (``~/.cache/bikd_mm/demo/<task>``, see
:func:`bikd_mm.apis.pretrained_path`). The summary gives each run's final
validation metric and how flat its curve was over the last 20% of the
schedule::

    python tools/analysis/pretrain_members.py \\
        configs/bikd/fashion/cls_pair_fashion_mnist.py --task cls \\
        --seeds 0 1 2 --out docs/results/pretrain_fashion_cls
"""

import argparse
import os.path as osp
import statistics
import sys

import torch
from mmengine.config import Config

from bikd_mm.apis import (
    keep_pretrained,
    plateau,
    pretrain_seeds,
    reuse_pretrained,
)
from bikd_mm.models.member import member_list
from bikd_mm.utils.io import dump_json_atomic, write_text_atomic

METRICS = {'cls': 'accuracy/top1', 'seg': 'mIoU'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('pair_config')
    parser.add_argument('--task', choices=sorted(METRICS), required=True)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/pretrain_seeds')
    parser.add_argument('--workers', type=int, default=None)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--publish-dir',
        help="copy the first seed's weights to <dir>/<name>.pth (the "
        'names the pair config gives)',
    )
    parser.add_argument(
        '--keep-dir',
        help='kept pre-trainings: <dir>/<name>-seed<seed>.pth (checked '
        'against <dir>/SHA256SUMS) are reused instead of training again, '
        'and the runs that trained are written there',
    )
    parser.add_argument('--out', help='write <out>.json and <out>.md')
    return parser.parse_args(argv)


def summarise(paths: dict, metric: str) -> dict:
    """Final metric and plateau of every run, and per-member spread."""
    runs, by_member = [], {}
    for seed, members in paths.items():
        for name, path in members.items():
            meta = torch.load(path, map_location='cpu', weights_only=True)[
                'meta'
            ]
            curve = meta['val_curve'][metric]
            flat = plateau(curve)
            runs.append(dict(member=name, seed=seed, checkpoint=path, **flat))
            runs[-1]['curve'] = curve
            by_member.setdefault(name, []).append(flat['final'])
    spread = {
        name: dict(
            mean=statistics.fmean(v),
            std=statistics.stdev(v) if len(v) > 1 else 0.0,
            n=len(v),
        )
        for name, v in by_member.items()
    }
    return dict(metric=metric, runs=runs, members=spread)


def markdown(summary: dict, command: str) -> str:
    metric = summary['metric']
    lines = [
        f'Command: `{command}`',
        '',
        f'| member | seed | final {metric} | tail from | range over the '
        'last 20% |',
        '|---|---|---|---|---|',
    ]
    for run in summary['runs']:
        lines.append(
            f'| {run["member"]} | {run["seed"]} | {run["final"]:.2f} | '
            f'{run["tail_from"]} | {run["tail_range"]:.2f} |'
        )
    lines += [
        '',
        f'| member | mean {metric} | std | seeds |',
        '|---|---|---|---|',
    ]
    for name, s in summary['members'].items():
        lines.append(
            f'| {name} | {s["mean"]:.2f} | {s["std"]:.2f} | {s["n"]} |'
        )
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.pair_config)
    members = member_list(cfg.model.members)
    if args.keep_dir:
        reuse_pretrained(members, args.task, args.seeds, args.keep_dir)
    paths = pretrain_seeds(
        members,
        args.task,
        args.seeds,
        args.work_dir,
        threads=args.threads,
        workers=args.workers,
    )
    if args.keep_dir:
        keep_pretrained(paths, args.keep_dir)
    if args.publish_dir:
        from bikd_mm.utils.io import copy_atomic

        for name, path in paths[args.seeds[0]].items():
            copy_atomic(path, osp.join(args.publish_dir, f'{name}.pth'))
    summary = summarise(paths, METRICS[args.task])
    command = 'python ' + ' '.join(
        [osp.relpath(sys.argv[0])] + (argv or sys.argv[1:])
    )
    summary['command'] = command
    print(markdown(summary, command))
    if args.out:
        dump_json_atomic(summary, args.out + '.json')
        write_text_atomic(markdown(summary, command), args.out + '.md')


if __name__ == '__main__':
    main()
