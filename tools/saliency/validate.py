"""Validate a saliency pair config's members as they start, before training.

Builds the runner of the config (each member from its own ``checkpoint=``,
e.g. the released TMFI-Net and ViNet-A files) and runs its validation loop
once, so the starting scores under the config's validation protocol
(frames, stride, blur, ``KLD_CC``) are known before fine-tuning.

Usage::

    python tools/saliency/validate.py \\
        configs/bikd/sal_pair_tmfi-net_vinet-a_dhf1k.py [--work-dir DIR] \\
        [--cfg-options key=value ...]
"""

import argparse
import json
import os.path as osp

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import bikd_mm  # noqa: F401  (registers bikd_mm components)
from bikd_mm.patches import run_patches
from bikd_mm.utils.config import load_config


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='pair config file')
    parser.add_argument('--work-dir', help='where logs go')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs',
    )
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or osp.join(
        './work_dirs',
        osp.splitext(osp.basename(args.config))[0] + '_start',
    )
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if isinstance(checkpoint, dict):
        # Nothing is trained here, so there is no best checkpoint to keep
        # (mmengine's hook can only track one once training started).
        checkpoint.pop('save_best', None)
    with run_patches():
        if 'runner_type' in cfg:
            runner = RUNNERS.build(cfg)
        else:
            runner = Runner.from_cfg(cfg)
        metrics = runner.val()
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return metrics


if __name__ == '__main__':
    main()
