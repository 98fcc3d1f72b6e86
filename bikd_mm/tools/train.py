"""Train a model: a Bi-KD pair or any stock mmseg / mmpretrain config.

Installed as ``bikd-train``; also ``python -m bikd_mm.tools.train`` and
``python tools/train.py`` in a checkout. ``CONFIG`` is a file or a scoped
path of an installed package (``bikd_mm::bikd/seg_pair_r50_swin.py``,
``mmseg::...``), as mim's ``train`` takes it.
"""

import argparse
import logging
import os
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log

import bikd_mm  # noqa: F401  (registers bikd_mm components)
from bikd_mm.engine.runner import expand_pair_config, is_pair_config
from bikd_mm.patches import run_patches
from bikd_mm.tools.run_options import add_run_options, parse_run_args
from bikd_mm.utils.config import build_runner, load_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given',
    )
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic mixed precision training',
    )
    add_run_options(parser)
    return parse_run_args(parser, argv)


def set_amp(cfg: Config) -> None:
    """Switch every optimizer wrapper of ``cfg`` to mixed precision."""

    def amp(wrapper: dict) -> None:
        if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING,
            )
            return
        wrapper['type'] = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')

    if is_pair_config(cfg):
        # One wrapper per member after expansion.
        for value in expand_pair_config(cfg).optim_wrapper.values():
            if isinstance(value, dict):
                amp(value)
    else:
        amp(cfg.optim_wrapper)


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
    if args.amp:
        set_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # Library patches for the run only (see bikd_mm.patches).
    with run_patches():
        runner = build_runner(cfg)
        runner.train()


if __name__ == '__main__':
    main()
