"""Compare knowledge-transfer regimes on one pair, over several seeds.

Pre-trains (or reuses, from the machine-wide cache) each member of the
pair alone, then fine-tunes the pair for the same budget under every
regime of :mod:`bikd_mm.apis.transfer_comparison` (independent, Deep
Mutual Learning, Bi-KD per image or sample, Bi-KD per pixel, one-way KD
from the better member) and writes ``<out>.json``, ``<out>.md``,
``<out>_metric.png`` and ``<out>_teach_share.png``. ``--render`` rewrites
the table and plots of an earlier ``<out>.json`` without training.

Usage::

    python tools/analysis/compare_transfer.py seg --seeds 0 1 2 \\
        --out docs/results/compare_transfer_seg
"""

import argparse
import json
import os.path as osp
import shlex
import sys
from functools import partial

from mmengine.config import DictAction

from bikd_mm.apis.transfer_comparison import (
    TASKS,
    compare_transfer,
    markdown_table,
    write_plots,
)
from bikd_mm.utils.io import write_text_atomic

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULTS = {
    'seg': dict(
        config='configs/bikd/demo/seg_pair_digits.py', pretrain_iters=1200
    ),
    'cls': dict(
        config='configs/bikd/demo/cls_pair_digits.py', pretrain_iters=300
    ),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('task', choices=sorted(TASKS))
    parser.add_argument(
        '--config', help="pair config (default: the task's demo pair)"
    )
    parser.add_argument('--iters', type=int, default=150)
    parser.add_argument('--val-interval', type=int, default=25)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--pretrain-iters',
        type=int,
        help="pre-training iterations of each member (default: the demo's)",
    )
    parser.add_argument(
        '--pretrain-seeds',
        type=int,
        nargs='+',
        help='pre-train every member once per seed (their own schedules '
        'unless --pretrain-iters) and pair the runs by start',
    )
    parser.add_argument(
        '--regimes', nargs='+', help="a subset of the task's regimes"
    )
    parser.add_argument(
        '--workers',
        type=int,
        default=2,
        help='runs in parallel processes; 0: in this process',
    )
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--out', help='output prefix (default: work_dirs/compare_<task>)'
    )
    parser.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'compare_transfer')
    )
    parser.add_argument(
        '--record-dir',
        help="keep each finished run's record as <record-dir>/<run>.json "
        '(a folder to commit, so that the comparison resumes elsewhere)',
    )
    parser.add_argument(
        '--render',
        metavar='JSON',
        help='only rewrite the Markdown and PNGs of this result file',
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
    if args.render:
        with open(args.render) as f:
            result = json.load(f)
        prefix = args.render[: -len('.json')]
        write_text_atomic(markdown_table(result), f'{prefix}.md')
        write_plots(result, prefix)
        return result
    defaults = DEFAULTS[args.task]
    config = args.config or osp.join(ROOT, defaults['config'])
    command = 'python tools/analysis/compare_transfer.py ' + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    return compare_transfer(
        task=args.task,
        pair_config=config,
        out_prefix=args.out
        or osp.join(ROOT, 'work_dirs', f'compare_transfer_{args.task}'),
        work_dir=osp.join(args.work_dir, args.task),
        iters=args.iters,
        val_interval=args.val_interval,
        seeds=args.seeds,
        pretrain_iters=(
            args.pretrain_iters
            if args.pretrain_iters or args.pretrain_seeds
            else defaults['pretrain_iters']
        ),
        pretrain_seeds=args.pretrain_seeds,
        record_dir=args.record_dir,
        workers=args.workers,
        threads=args.threads,
        regimes=args.regimes,
        cfg_options=args.cfg_options,
        command=command,
        log=partial(print, '[compare]', flush=True),
    )


if __name__ == '__main__':
    main()
