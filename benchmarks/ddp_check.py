"""tools/dist_train.sh with 2 processes on one device: ranks stay equal and
a resumed run ends where the uninterrupted one does.

Trains the demo segmentation pair (``configs/bikd/demo/seg_pair_digits.py``,
random-init member checkpoints, no dropout, a small generated digits set)
with ``tools/dist_train.sh CONFIG 2`` for ``--iters`` steps, saving a
checkpoint half-way; then again from that checkpoint (``--resume``) in a
fresh work dir. Checks that both ranks end with the same parameters in
both runs, that the resumed run continued from the saved iteration, and
reports the largest difference between the two runs' final parameters,
which must be 0 on CPU (on a GPU nondeterministic kernels may leave a
small one, reported).

On a GPU both processes use device 0: ``benchmarks/share_gpu`` (put on
``PYTHONPATH``) maps each rank's ``LOCAL_RANK`` onto the visible devices
before mmengine reads it. NCCL refuses two ranks on one device, so the
backend is gloo (``--backend``), which reduces CUDA tensors through the
host.

Usage::

    python benchmarks/ddp_check.py --device cuda --work-dir /tmp/ddp
"""

import argparse
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from mmengine.config import Config  # noqa: E402

PAIR = osp.join(ROOT, 'configs/bikd/demo/seg_pair_digits.py')
SHARE_GPU = osp.join(ROOT, 'benchmarks', 'share_gpu')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_config(work: str, data_root: str, backend: str) -> str:
    """The demo pair with random-init member checkpoints, the digits set
    at ``data_root`` and a hook saving each rank's final parameters."""
    from mmseg.registry import MODELS

    import bikd_mm  # noqa: F401
    from bikd_mm.models.member import build_member, parse_members

    cfg = Config.fromfile(PAIR)
    members = cfg.model.members
    for member in members:
        # No dropout or drop path: they draw from the RNG, whose state
        # mmengine's checkpoints do not keep, so a resumed run could not
        # repeat the uninterrupted one.
        model = Config.fromfile(member['config']).model
        options = {
            f'model.{head}.dropout_ratio': 0.0
            for head in ('decode_head', 'auxiliary_head')
            if head in model
        }
        if 'drop_path_rate' in model.backbone:
            options['model.backbone.drop_path_rate'] = 0.0
        member['cfg_options'] = options
    for spec, member in zip(parse_members(members), members):
        torch.manual_seed(len(spec.name))
        spec.checkpoint = None
        path = osp.join(work, f'{spec.name}.pth')
        torch.save(
            {'state_dict': build_member(spec, MODELS).state_dict()}, path
        )
        member['checkpoint'] = path
    config = osp.join(work, 'pair_ddp.py')
    with open(config, 'w') as f:
        f.write(
            f'_base_ = [{PAIR!r}]\n'
            "custom_imports = dict(imports=['bikd_mm', "
            "'tests.engine.rank_weights_hook'], allow_failed_imports=False)\n"
            f'model = dict(members={[m.to_dict() for m in members]!r})\n'
            "custom_hooks = [dict(type='RankWeightsHook')]\n"
            'default_hooks = dict(checkpoint=dict(save_best=None))\n'
            'train_dataloader = dict(batch_size=2, dataset=dict('
            f'data_root={data_root!r}))\n'
            'val_dataloader = dict(batch_size=2, dataset=dict('
            f'data_root={data_root!r}))\n'
            'test_dataloader = val_dataloader\n'
            'env_cfg = dict(dist_cfg=dict('
            f'backend={backend!r}, timeout=120))\n'
            # One seed for both runs: the same shuffled batch order.
            'randomness = dict(seed=0)\n'
        )
    return config


def dist_train(config, work, iters, device, extra=()) -> tuple:
    env = dict(
        os.environ,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        PATH=f'{osp.dirname(sys.executable)}:{os.environ["PATH"]}',
    )
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    else:
        env['PYTHONPATH'] = os.pathsep.join(
            [SHARE_GPU, ROOT, env.get('PYTHONPATH', '')]
        )
        env['BIKD_RANKS_SHARE_GPU'] = '1'
    half = max(1, iters // 2)
    start = time.perf_counter()
    result = subprocess.run(
        [
            'bash',
            'tools/dist_train.sh',
            config,
            '2',
            '--work-dir',
            work,
            '--cfg-options',
            f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters}',
            f'param_scheduler.0.end={iters}',
            f'default_hooks.checkpoint.interval={half}',
            'log_level=INFO',
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stdout[-3000:])
        print(result.stderr[-6000:])
        raise SystemExit(f'dist_train.sh failed (exit {result.returncode})')
    return result, seconds


def rank_params(work: str) -> list:
    return [
        torch.load(osp.join(work, f'rank{r}.pth'), weights_only=True)['params']
        for r in (0, 1)
    ]


def max_diff(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--backend', default='gloo')
    parser.add_argument('--iters', type=int, default=4)
    parser.add_argument('--work-dir', default='/tmp/bikd_ddp_check')
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    from bikd_mm.datasets import prepare_digits_seg

    os.makedirs(args.work_dir, exist_ok=True)
    data_root = prepare_digits_seg(
        osp.join(args.work_dir, 'digits_seg'), num_train=16, num_val=4
    )
    config = write_config(args.work_dir, data_root, args.backend)
    full = osp.join(args.work_dir, 'full')
    resumed = osp.join(args.work_dir, 'resumed')
    _, full_s = dist_train(config, full, args.iters, args.device)
    half = max(1, args.iters // 2)
    checkpoint = osp.join(full, f'iter_{half}.pth')
    run, resumed_s = dist_train(
        config, resumed, args.iters, args.device, ('--resume', checkpoint)
    )
    logs = run.stdout + run.stderr
    continued = f'resumed epoch: 0, iter: {half}' in logs.lower() or (
        f'iter: {half}' in logs and 'resum' in logs.lower()
    )
    full_ranks, resumed_ranks = rank_params(full), rank_params(resumed)
    rows = dict(
        device=args.device,
        card=torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu',
        backend=args.backend,
        iters=args.iters,
        full_seconds=round(full_s, 1),
        resumed_seconds=round(resumed_s, 1),
        ranks_equal_full=max_diff(*full_ranks) == 0,
        ranks_equal_resumed=max_diff(*resumed_ranks) == 0,
        resumed_from_iter=half if continued else None,
        full_vs_resumed_max_diff=max_diff(full_ranks[0], resumed_ranks[0]),
    )
    print(
        f'tools/dist_train.sh, 2 processes on {rows["card"]}, backend '
        f'{args.backend}, {args.iters} iterations, checkpoint at {half}'
    )
    print('| check | result |')
    print('| --- | --- |')
    for key, value in rows.items():
        print(f'| {key} | {value} |')
    ok = (
        rows['ranks_equal_full']
        and rows['ranks_equal_resumed']
        and rows['resumed_from_iter'] == half
        and (args.device != 'cpu' or rows['full_vs_resumed_max_diff'] == 0)
    )
    print('ok' if ok else 'FAILED')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(rows, ok=ok, argv=sys.argv), f, indent=2)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
