"""Video saliency Bi-KD demo on synthetic videos, end to end on CPU.

1. Synthetic DHF1K-layout videos are written by
   ``tools/saliency/make_synthetic.py`` (cached under the work dir).
2. Each tiny demo member is trained alone, briefly, from its own config:
   these checkpoints play the role of pretrained saliency models (cached;
   reused when their config and length are unchanged).
3. Both members are evaluated, fine-tuned together with Bi-KD, and
   evaluated again. The script prints CC, KLD, SIM, NSS, AUC-J and sAUC of
   each member before and after, and the share of the clips each member
   taught. sAUC needs the fixations of other frames (``other_fixation``)
   in the samples; where the data pipeline gives none it is NaN.

Usage::

    python tools/saliency/demo.py [--work-dir work_dirs/demo/sal]
"""

import argparse
import hashlib
import json
import logging
import math
import os.path as osp
import sys
import time

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'saliency'))

from make_synthetic import make_synthetic  # noqa: E402

import bikd_mm.engine  # noqa: E402,F401  (registers BiKDRunner)
import bikd_mm.models.saliency  # noqa: E402,F401
from bikd_mm.patches import run_patches  # noqa: E402
from bikd_mm.utils.checkpoint import (  # noqa: E402
    extract_state_dict,
    load_checkpoint_file,
    save_atomic,
)

PAIR = osp.join(ROOT, 'configs/bikd/demo/sal_pair_synthetic.py')
METRICS = ('CC', 'KLD', 'SIM', 'NSS', 'AUC_J', 'sAUC')
DATA = dict(num_train=16, num_val=2, num_frames=24, height=72, width=128)


def _quiet(cfg: Config) -> Config:
    cfg.log_level = 'ERROR'
    cfg.default_hooks.logger.interval = 10**6
    return cfg


def _set_length(cfg: Config, iters: int) -> None:
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = iters


def _set_data_root(cfg: Config, data_root: str) -> None:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root


def prepare_data(work_dir: str) -> str:
    """Write the synthetic videos once; return their root."""
    root = osp.join(work_dir, 'data')
    stamp = osp.join(work_dir, 'data.json')
    if osp.isdir(root) and osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == DATA:
                return root
    print('[demo] writing synthetic videos ...', flush=True)
    make_synthetic(root, seed=0, overwrite=True, **DATA)
    with open(stamp, 'w') as f:
        json.dump(DATA, f)
    return root


def pretrain_member(
    member: dict, work_dir: str, data_root: str, iters: int
) -> str:
    """Train one member alone from its config; return its weights file."""
    cfg = Config.fromfile(member['config'])
    _set_data_root(cfg, data_root)
    digest = hashlib.sha256(
        (cfg.pretty_text + str(iters)).encode()
    ).hexdigest()[:12]
    out = member['checkpoint']
    stamp = out + '.json'
    if osp.isfile(out) and osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f).get('digest') == digest:
                print(f'[demo] reusing pretrained {member["name"]}: {out}')
                return out
    print(
        f'[demo] pre-training {member["name"]} alone for {iters} '
        'iterations ...',
        flush=True,
    )
    cfg.work_dir = osp.join(work_dir, f'{member["name"]}_alone')
    _set_length(cfg, iters)
    with run_patches():
        runner = Runner.from_cfg(_quiet(cfg))
        runner.train()
    last = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    state = extract_state_dict(load_checkpoint_file(last))
    save_atomic(dict(state_dict=state, meta=dict(iter=iters)), out)
    with open(stamp, 'w') as f:
        json.dump(dict(digest=digest), f)
    return out


def _fmt(value: float) -> str:
    return 'nan' if value is None or math.isnan(value) else f'{value:.3f}'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo', 'sal')
    )
    parser.add_argument('--pretrain-iters', type=int, default=80)
    parser.add_argument('--pair-iters', type=int, default=60)
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='intra-op threads; the demo tensors are tiny, so more threads '
        'mostly add contention',
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.time()
    work_dir = args.work_dir
    data_root = prepare_data(work_dir)

    cfg = Config.fromfile(PAIR)
    _set_data_root(cfg, data_root)
    for member in cfg.model.members:
        member['checkpoint'] = osp.join(
            work_dir, 'pretrained', f'{member["name"]}.pth'
        )
        pretrain_member(member, work_dir, data_root, args.pretrain_iters)
    _set_length(cfg, args.pair_iters)
    cfg.work_dir = osp.join(work_dir, 'pair')
    names = [m['name'] for m in cfg.model.members]

    print('[demo] evaluating the pretrained members ...', flush=True)
    before = RUNNERS.build(_quiet(cfg.copy())).val()
    print(
        f'[demo] Bi-KD fine-tuning both members for {args.pair_iters} '
        'iterations ...',
        flush=True,
    )
    runner = RUNNERS.build(_quiet(cfg.copy()))
    runner.train()
    hub = runner.message_hub
    after = {
        k[len('val/') :]: hub.get_scalar(k).current()
        for k in hub.log_scalars
        if k.startswith('val/')
    }
    shares = {
        n: hub.get_scalar(f'train/{n}.teach_share').mean()
        for n in names
        if f'train/{n}.teach_share' in hub.log_scalars
    }
    MMLogger.get_current_instance().setLevel(logging.INFO)
    print(f'\nVideo saliency Bi-KD demo, {time.time() - start:.0f} s')
    print('| member | metric | before | after |')
    print('| --- | --- | --- | --- |')
    for n in names:
        for metric in METRICS:
            key = f'{n}/{metric}'
            print(
                f'| {n} | {metric} | {_fmt(before.get(key))} | '
                f'{_fmt(after.get(key))} |'
            )
    for n in names:
        share = shares.get(n, float('nan'))
        print(f'[demo] {n} taught {_fmt(share)} of the training clips')
    return 0


if __name__ == '__main__':
    sys.exit(main())
