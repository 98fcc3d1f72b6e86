"""Bi-KD demo on the embedded digits data, end to end on CPU.

1. Each member of the task's demo pair configs is trained alone from its
   own stock config, all members in parallel: these checkpoints play the
   role of pretrained models. They are cached machine-wide
   (``~/.cache/bikd_mm/demo``, or ``$BIKD_CACHE/demo``) under a hash of
   the member config, so later runs and other clones reuse them, and
   copied to ``<work-dir>/<task>/pretrained/<member>.pth``, the checkpoint
   names in the demo pair configs: after the demo, every one of them
   trains with ``tools/train.py`` from the repository root.
2. Both members are evaluated, fine-tuned together with Bi-KD, and
   evaluated again. The script prints each member's metric before and
   after and the share of the training pixels (seg) or images (cls) it
   taught.

Usage::

    python tools/demo/run_demo.py {seg,cls} [--work-dir work_dirs/demo]
        [--pretrain-only]
"""

import argparse
import copy
import logging
import os.path as osp
import time
from functools import partial

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import RUNNERS

import bikd_mm  # noqa: F401  (registers bikd_mm components)
from bikd_mm.apis import pretrain_members
from bikd_mm.apis import quiet as _quiet

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMOS = {
    'seg': dict(
        pair=osp.join(
            ROOT, 'configs/bikd/demo/seg_pair_digits_cnn_swin-cw.py'
        ),
        # Also pre-trained, so that this config trains as it is.
        also=[osp.join(ROOT, 'configs/bikd/demo/seg_pair_digits.py')],
        metric='mIoU',
        # The tiny members only start to tell digits apart after ~1000
        # iterations; fewer leave them predicting background only.
        pretrain_iters=1200,
        threads=1,
    ),
    'cls': dict(
        pair=osp.join(ROOT, 'configs/bikd/demo/cls_pair_digits.py'),
        metric='accuracy/top1',
        pretrain_iters=300,
        # The members are so small that synchronising threads costs more
        # than it saves.
        threads=1,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('task', choices=sorted(DEMOS))
    parser.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo')
    )
    parser.add_argument('--pretrain-iters', type=int)
    parser.add_argument('--pair-iters', type=int)
    parser.add_argument(
        '--threads', type=int, help='CPU threads of torch (default: per demo)'
    )
    parser.add_argument(
        '--pretrain-only',
        action='store_true',
        help="write the demo pair configs' member checkpoints and stop",
    )
    args = parser.parse_args()
    demo = DEMOS[args.task]
    threads = args.threads or demo.get('threads')
    if threads:
        torch.set_num_threads(threads)
    work_dir = osp.join(args.work_dir, args.task)
    start = time.time()

    cfg = Config.fromfile(demo['pair'])
    members = list(cfg.model.members)
    for path in demo.get('also', []):
        names = {m['name'] for m in members}
        members += [
            m
            for m in Config.fromfile(path).model.members
            if m['name'] not in names
        ]
    pretrain_members(
        members,
        args.task,
        work_dir,
        args.pretrain_iters or demo['pretrain_iters'],
        threads,
        log=partial(print, '[demo]', flush=True),
        publish_dir=osp.join(work_dir, 'pretrained'),
    )
    if args.pretrain_only:
        return
    if args.pair_iters:
        cfg.train_cfg.max_iters = args.pair_iters
        cfg.train_cfg.val_interval = args.pair_iters
        cfg.param_scheduler[0].end = args.pair_iters
        cfg.default_hooks.checkpoint.interval = args.pair_iters
    cfg.work_dir = osp.join(work_dir, 'pair')
    names = [m['name'] for m in cfg.model.members]
    metric = demo['metric']

    print('[demo] evaluating the pretrained members ...', flush=True)
    before_cfg = _quiet(copy.deepcopy(cfg))
    # Best checkpoints are tracked from the start of training; a bare val()
    # has no record to update.
    before_cfg.default_hooks.checkpoint.pop('save_best', None)
    before = RUNNERS.build(before_cfg).val()
    print(
        '[demo] Bi-KD fine-tuning both members for '
        f'{cfg.train_cfg.max_iters} iterations ...',
        flush=True,
    )
    runner = RUNNERS.build(_quiet(cfg.copy()))
    runner.train()
    hub = runner.message_hub
    after = {
        k[len('val/') :]: v
        for k, v in (
            (k, hub.get_scalar(k).current())
            for k in hub.log_scalars
            if k.startswith('val/')
        )
    }
    shares = {
        n: hub.get_scalar(f'train/{n}.teach_share').mean()
        for n in names
        if f'train/{n}.teach_share' in hub.log_scalars
    }
    MMLogger.get_current_instance().setLevel(logging.INFO)
    print(f'\nBi-KD demo ({args.task}), {time.time() - start:.0f} s')
    print(f'| member | {metric} before | {metric} after | teach share |')
    print('| --- | --- | --- | --- |')
    for n in names:
        key = f'{n}/{metric}'
        print(
            f'| {n} | {before.get(key, float("nan")):.2f} | '
            f'{after.get(key, float("nan")):.2f} | '
            f'{shares.get(n, float("nan")):.2f} |'
        )


if __name__ == '__main__':
    main()
