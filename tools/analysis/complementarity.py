"""Complementarity of a pair's members, before training them together.

Runs every member of the pair config over its validation set (``--split
test``: the test set) and writes ``<out>.json``, ``<out>.md`` and
``<out>.png``: per pair of members the share of samples (classification)
or valid pixels (segmentation) where both are right, only A, only B, or
neither; each member's accuracy (and mIoU); the oracle ensemble's
accuracy (and mIoU), per pair and for all members together.

Usage::

    python tools/analysis/complementarity.py PAIR_CONFIG \\
        [--checkpoints NAME=PATH ...] [--members NAME=CONFIG ...] \\
        --out work_dirs/complementarity/PAIR
"""

import argparse
import os.path as osp
import shlex
import sys
from functools import partial

from mmengine.config import DictAction

from bikd_mm.apis.complementarity import evaluate_members, write_report


def _named(values: list | None, option: str) -> dict:
    out = {}
    for item in values or []:
        name, sep, value = item.partition('=')
        if not sep or not name or not value:
            raise SystemExit(f'{option} takes NAME=PATH items, got {item!r}')
        out[name] = value
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='pair config')
    parser.add_argument(
        '--checkpoints',
        nargs='+',
        metavar='NAME=PATH',
        help="member checkpoints, replacing the config's",
    )
    parser.add_argument(
        '--members',
        nargs='+',
        metavar='NAME=CONFIG',
        help="member configs to evaluate instead of the pair's members "
        '(the data still come from the pair config)',
    )
    parser.add_argument('--split', choices=('val', 'test'), default='val')
    parser.add_argument(
        '--out',
        help='output prefix (default: work_dirs/complementarity/<config>)',
    )
    parser.add_argument('--device', help='default: cuda when available')
    parser.add_argument(
        '--limit', type=int, help='stop after this many samples'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the pair config, key=value',
    )
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = args.out or osp.join(
        'work_dirs',
        'complementarity',
        osp.splitext(osp.basename(args.config))[0],
    )
    result = evaluate_members(
        args.config,
        checkpoints=_named(args.checkpoints, '--checkpoints'),
        configs=_named(args.members, '--members'),
        split=args.split,
        device=args.device,
        limit=args.limit,
        cfg_options=args.cfg_options,
        log=partial(print, '[complementarity]', flush=True),
    )
    result['command'] = (
        'python tools/analysis/complementarity.py '
        + shlex.join(sys.argv[1:] if argv is None else argv)
    )
    for path in write_report(result, out):
        print('[complementarity] wrote', path, flush=True)
    return result


if __name__ == '__main__':
    main()
