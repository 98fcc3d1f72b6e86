"""Evaluate a checkpoint: every member of a Bi-KD pair, or a stock model.

Installed as ``bikd-test``; also ``python -m bikd_mm.tools.test`` and
``python tools/test.py`` in a checkout. ``CONFIG`` is a file or a scoped
path (``bikd_mm::...``, ``mmseg::...``). Examples::

    # Every member of a trained pair, with the pair's data and metrics.
    python tools/test.py configs/bikd/seg_pair_r50_swin.py \
        work_dirs/seg_pair_r50_swin/iter_80000.pth
    # The members before Bi-KD: each from its own starting checkpoint
    # (``checkpoint=`` of each member in the pair config).
    python tools/test.py configs/bikd/seg_pair_r50_swin.py
    # An exported member with test-time augmentation, as mmseg does.
    python tools/test.py swin.py swin.pth --tta

Flags as in mmseg's ``tools/test.py``: ``--out DIR`` keeps the predictions
in ``DIR`` (a folder per member for a pair), ``--show-dir DIR`` saves
painted predictions, ``--tta`` tests with the config's ``tta_model`` and
``tta_pipeline``; ``--metrics FILE`` also writes the metrics as JSON.
"""

import argparse
import os
import os.path as osp

from mmengine.config import Config

import bikd_mm  # noqa: F401  (registers bikd_mm components)
from bikd_mm.engine.runner import is_pair_config
from bikd_mm.patches import run_patches
from bikd_mm.tools.run_options import add_run_options, parse_run_args
from bikd_mm.utils.config import build_runner, load_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint file or URL; for a pair config it may be left out '
        "to evaluate each member's own starting checkpoint (before Bi-KD)",
    )
    parser.add_argument('--work-dir', help='the dir to save logs and results')
    parser.add_argument(
        '--out',
        help='the directory to save the predictions in for offline '
        'evaluation (one folder per member for a pair)',
    )
    parser.add_argument('--metrics', help='also dump the metrics to this JSON')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results'
    )
    parser.add_argument(
        '--show-dir', help='directory where painted images will be saved'
    )
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)'
    )
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation with the config's tta_model and "
        'tta_pipeline',
    )
    add_run_options(parser)
    return parse_run_args(parser, argv)


def keep_predictions(cfg: Config, out: str) -> None:
    """``--out``: keep the predictions in ``out``, as mmseg's test does.

    Segmentation metrics (``IoUMetric``) write them as label images
    (``output_dir``); for other metrics the predictions are dumped to
    ``out/predictions.pkl``. A pair's ``MemberMetric`` gives each member
    its own folder or file (``out/<member>``).
    """
    evaluator = cfg.test_evaluator
    metrics = list(evaluator) if isinstance(evaluator, list) else [evaluator]
    for metric in metrics:
        inner = metric.get('metric', metric)
        if str(inner.get('type', '')).split('.')[-1] == 'IoUMetric':
            inner['output_dir'] = out
            inner['keep_results'] = True
            return
    metrics.append(
        dict(
            type='DumpResults', out_file_path=osp.join(out, 'predictions.pkl')
        )
    )
    cfg.test_evaluator = metrics


def show_predictions(cfg: Config, args: argparse.Namespace) -> None:
    """``--show`` / ``--show-dir``: paint predictions, as mmseg's test."""
    if is_pair_config(cfg):
        if args.show:
            raise SystemExit(
                '--show: a pair paints every member; use --show-dir'
            )
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(
                type='MemberPredictionVisualizationHook', out_dir=args.show_dir
            )
        ]
        return
    hooks = cfg.get('default_hooks') or {}
    if 'visualization' not in hooks:
        raise SystemExit(
            f'--show/--show-dir: {args.config} has no '
            'default_hooks.visualization (e.g. '
            "dict(type='SegVisualizationHook'))"
        )
    hooks['visualization']['draw'] = True
    if args.show:
        hooks['visualization']['show'] = True
        hooks['visualization']['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir


def use_tta(cfg: Config, path: str) -> None:
    """``--tta``: test the config's ``tta_model`` on its ``tta_pipeline``."""
    if is_pair_config(cfg):
        raise SystemExit(
            '--tta tests one model with its tta_model: export the member '
            '(tools/export_member.py) and test its config and checkpoint '
            'with --tta'
        )
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise SystemExit(
            f'--tta: {path} has no {" or ".join(missing)} (the model does '
            'not support test-time augmentation in this config)'
        )
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


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
    if args.checkpoint is None and not is_pair_config(cfg):
        raise SystemExit(
            f'{args.config} is not a pair config: give the checkpoint to test'
        )
    cfg.load_from = args.checkpoint
    if args.tta:
        use_tta(cfg, args.config)
    if args.out is not None:
        keep_predictions(cfg, args.out)
    if args.show or args.show_dir:
        show_predictions(cfg, args)
    # Library patches for the run only (see bikd_mm.patches).
    with run_patches():
        runner = build_runner(cfg)
        if args.checkpoint is None:
            runner.logger.info(
                'no checkpoint: every member is evaluated with its own '
                'starting checkpoint (before Bi-KD)'
            )
        metrics = runner.test()
    if args.metrics:
        from bikd_mm.utils.io import dump_json_atomic

        dump_json_atomic(metrics, args.metrics)


if __name__ == '__main__':
    main()
