"""Print what each member of a pair config trains, as the runner completes
it: optimizer, base rate, weight decay, learning-rate groups, gradient
clipping, schedulers, loop length, warm-up, peak and final rate, batch.

The rates come from running each member's completed schedulers over the
whole loop (see ``bikd_mm/engine/runner/lr_schedule_check.py``); a config
whose rate rises above its base is marked REFUSED with the reason.

Usage::

    python tools/analysis/print_pair_config.py CONFIG [CONFIG ...] \\
        [--markdown] [--epoch-length N] [--cfg-options key=value ...]

Exit status: 0, or 1 when a config is refused.
"""

import argparse
import glob
import os.path as osp
import sys

from mmengine.config import DictAction

import bikd_mm  # noqa: F401  (registers bikd_mm components)
from bikd_mm.engine.runner.pair_config import is_pair_config
from bikd_mm.engine.runner.pair_summary import (
    COLUMNS,
    markdown_table,
    summarize_pair,
)
from bikd_mm.utils.config import load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' ')
    )
    parser.add_argument(
        'configs', nargs='+', help='pair config files (or glob patterns)'
    )
    parser.add_argument(
        '--markdown',
        action='store_true',
        help='one Markdown table for all configs, in path order',
    )
    parser.add_argument(
        '--epoch-length',
        type=int,
        help='iterations per epoch, for iteration-based schedulers in an '
        'epoch loop (default: a nominal 100, noted in the output)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs',
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    all_rows, status = [], 0
    paths = [
        p
        for pattern in args.configs
        for p in (sorted(glob.glob(pattern)) or [pattern])
    ]
    if args.markdown:
        paths = sorted(set(paths))
    for path in paths:
        cfg = load_config(path, args.cfg_options)
        if not is_pair_config(cfg):
            print(f'{path}: not a pair config (no model.members)')
            status = 1
            continue
        summary = summarize_pair(cfg, epoch_length=args.epoch_length)
        name = osp.basename(path)
        if summary['refused']:
            name += ' (REFUSED)'
            status = 1
        if args.markdown:
            all_rows += [dict(row, config=name) for row in summary['rows']]
        else:
            print(f'== {path}')
            width = max(len(c) for c in COLUMNS)
            for row in summary['rows']:
                for column in COLUMNS:
                    print(f'  {column:<{width}}  {row[column]}')
                print()
        for line in summary['notes']:
            print(f'note: {path}: {line}', file=sys.stderr)
        if summary['refused']:
            print(f'REFUSED: {path}: {summary["refused"]}', file=sys.stderr)
    if args.markdown and all_rows:
        print(markdown_table(all_rows, first='config'))
    return status


if __name__ == '__main__':
    sys.exit(main())
