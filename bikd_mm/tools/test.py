"""Evaluate a checkpoint: every member of a Bi-KD pair, or a stock model.

Installed as ``bikd-test``; also ``python -m bikd_mm.tools.test`` and
``python tools/test.py`` in a checkout. ``CONFIG`` is a file or a scoped
path (``bikd_mm::...``, ``mmseg::...``).
"""

import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import bikd_mm  # noqa: F401  (registers bikd_mm components)
from bikd_mm.utils.config import load_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument('--work-dir', help='the dir to save logs and results')
    parser.add_argument('--out', help='dump the metrics to this JSON file')
    parser.add_argument(
        '--allow-unsafe-checkpoint',
        action='store_true',
        help='load checkpoints that need full unpickling (only for files '
        'you trust)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the tool on ``argv`` (default: the command line)."""
    args = parse_args(argv)
    if args.allow_unsafe_checkpoint:
        os.environ['BIKD_ALLOW_UNSAFE_CHECKPOINT'] = '1'
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            './work_dirs', osp.splitext(osp.basename(args.config))[0]
        )
    cfg.load_from = args.checkpoint
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    metrics = runner.test()
    if args.out:
        from bikd_mm.utils.io import dump_json_atomic

        dump_json_atomic(metrics, args.out)


if __name__ == '__main__':
    main()
