"""Bi-KD demo, end to end on CPU.

Where Fashion-MNIST is installed (``apt-get install
dataset-fashion-mnist``, or ``$BIKD_FASHION_MNIST``), classification runs
on it and segmentation on the Fashion scenes made from it: the members are
competent from the start, read from the checkpoints committed under
``checkpoints/demo/fashion_mnist_cls`` and
``checkpoints/demo/fashion_scenes_seg`` after their checksums are checked
(their READMEs give the commands that trained them and their scores).
Elsewhere the demo uses the embedded digits data and pre-trains its
members first:

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

    python tools/demo/run_demo.py {seg,cls} [--data {auto,fashion,digits}]
        [--work-dir work_dirs/demo] [--pretrain-only]
        [--cfg-options KEY=VALUE ...]
"""

import os
import re
import warnings

# Warnings of the pinned stack that every run prints and no user can act
# on; filtered before it is imported, here and (through PYTHONWARNINGS) in
# the processes that pre-train the members.
KNOWN_WARNINGS = (
    'pkg_resources is deprecated as an API',
    '``build_loss`` would be deprecated soon',
    'Default ``avg_non_ignore`` is False',
    'The draw is False',
)
for _message in KNOWN_WARNINGS:
    warnings.filterwarnings('ignore', message=re.escape(_message))
os.environ['PYTHONWARNINGS'] = ','.join(
    [os.environ.get('PYTHONWARNINGS', '')]
    + [f'ignore:{m}:UserWarning' for m in KNOWN_WARNINGS]
).strip(',')

import argparse  # noqa: E402
import copy  # noqa: E402
import logging  # noqa: E402
import os.path as osp  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402

import bikd_mm  # noqa: F401, E402  (registers bikd_mm components)
from bikd_mm.apis import pretrain_members, quiet_runner  # noqa: E402
from bikd_mm.apis import quiet as _quiet  # noqa: E402
from bikd_mm.datasets.fashion_mnist import (  # noqa: E402
    APT_PACKAGE,
    fashion_mnist_available,
    fashion_mnist_root,
)
from bikd_mm.utils.checksums import verify_sha256sums  # noqa: E402
from bikd_mm.utils.io import copy_atomic  # noqa: E402

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
# Demos on Fashion-MNIST: members pre-trained by
# tools/analysis/pretrain_members.py, committed with their checksums.
FASHION_DEMOS = {
    'seg': dict(
        pair=osp.join(ROOT, 'configs/bikd/fashion/seg_pair_fashion_scenes.py'),
        checkpoints=osp.join(ROOT, 'checkpoints/demo/fashion_scenes_seg'),
        metric='mIoU',
        # The fine-tuning budget of the comparison in docs/evidence.md.
        pair_iters=300,
        threads=2,
    ),
    'cls': dict(
        pair=osp.join(ROOT, 'configs/bikd/fashion/cls_pair_fashion_mnist.py'),
        checkpoints=osp.join(ROOT, 'checkpoints/demo/fashion_mnist_cls'),
        metric='accuracy/top1',
        threads=2,
    ),
}


def choose_demo(task: str, data: str) -> tuple[dict, str]:
    """The demo of ``task`` on ``data`` (``'auto'``: Fashion-MNIST where it
    is installed and the task has a Fashion demo, else the digits)."""
    if data == 'digits' or (data == 'auto' and task not in FASHION_DEMOS):
        return DEMOS[task], 'digits'
    if task not in FASHION_DEMOS:
        raise SystemExit(
            f'--data fashion: no Fashion-MNIST demo for {task!r} (choose '
            f'from {sorted(FASHION_DEMOS)}, or --data digits)'
        )
    if fashion_mnist_available():
        return FASHION_DEMOS[task], 'fashion'
    missing = (
        f"Fashion-MNIST is not under '{fashion_mnist_root()}' (apt-get "
        f'install {APT_PACKAGE}, or set $BIKD_FASHION_MNIST)'
    )
    if data == 'fashion':
        raise SystemExit(f'--data fashion: {missing}')
    print(f'[demo] {missing}: using the digits', flush=True)
    return DEMOS[task], 'digits'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('task', choices=sorted(DEMOS))
    parser.add_argument(
        '--data',
        choices=('auto', 'fashion', 'digits'),
        default='auto',
        help='auto: Fashion-MNIST where installed, else the digits',
    )
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
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the pair config, key=value',
    )
    args = parser.parse_args()
    demo, data = choose_demo(args.task, args.data)
    threads = args.threads or demo.get('threads')
    if threads:
        torch.set_num_threads(threads)
    work_dir = osp.join(
        args.work_dir, args.task + ('_fashion' if data == 'fashion' else '')
    )
    start = time.time()

    cfg = Config.fromfile(demo['pair'])
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if data == 'fashion':
        # Committed members: checked, then read where they are.
        names = [m['name'] for m in cfg.model.members]
        checked = verify_sha256sums(
            osp.join(demo['checkpoints'], 'SHA256SUMS'),
            [f'{n}.pth' for n in names],
        )
        for member in cfg.model.members:
            # Also where the pair config names them (relative to the
            # working directory), unless a checkpoint is there already,
            # so the config trains with tools/train.py after the demo.
            if not osp.exists(member['checkpoint']):
                copy_atomic(
                    checked[f'{member["name"]}.pth'], member['checkpoint']
                )
            member['checkpoint'] = checked[f'{member["name"]}.pth']
        print(
            f'[demo] Fashion-MNIST; members from {demo["checkpoints"]} '
            '(checksums match)',
            flush=True,
        )
        if args.pretrain_only:
            return
    else:
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
    pair_iters = args.pair_iters or demo.get('pair_iters')
    if pair_iters:
        cfg.train_cfg.max_iters = pair_iters
        cfg.train_cfg.val_interval = pair_iters
        cfg.param_scheduler[0].end = pair_iters
        cfg.default_hooks.checkpoint.interval = pair_iters
    cfg.work_dir = osp.join(work_dir, 'pair')
    names = [m['name'] for m in cfg.model.members]
    metric = demo['metric']

    print('[demo] evaluating the pretrained members ...', flush=True)
    before_cfg = _quiet(copy.deepcopy(cfg))
    # Best checkpoints are tracked from the start of training; a bare val()
    # has no record to update.
    before_cfg.default_hooks.checkpoint.pop('save_best', None)
    # Visualizers of their own: the stock runtime names one globally.
    before_cfg.visualizer.name = 'demo_before'
    before = quiet_runner(RUNNERS.build(before_cfg)).val()
    print(
        '[demo] Bi-KD fine-tuning both members for '
        f'{cfg.train_cfg.max_iters} iterations ...',
        flush=True,
    )
    cfg.visualizer.name = 'demo_pair'
    runner = quiet_runner(RUNNERS.build(_quiet(cfg.copy())))
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
    print(f'\nBi-KD demo ({args.task}, {data}), {time.time() - start:.0f} s')
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
