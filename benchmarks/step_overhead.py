"""Training-step cost of a Bi-KD pair against its members trained alone.

For two member configs, times one optimizer step (AdamW, fp32) of:
each member alone; the pair with task losses only (``kd_weight=0``); the
pair with per-pixel selection and KD on the logits; the pair with KD at
label resolution (with ``--kd-kernels torch triton`` both KD variants
also with the fused Triton kernels, ``kd_kernel='triton'``). Reports the
median over ``--iters`` steps, the ratio to the sum of the single steps,
and peak memory: on CUDA the allocator's peak during the timed steps; on
CPU with ``--cpu-memory`` how far the resident size grows during one step
(each variant in a fresh process, after a warm-up step). Weights are
random; nothing is downloaded. Pairs log ``acc_seg`` with the sync-free
accuracy (their default); ``--stock-accuracy`` gives them mmseg's.

Usage::

    python benchmarks/step_overhead.py                      # demo members
    python benchmarks/step_overhead.py --device cuda --size 512 --batch 4 \
        --configs mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py \
        mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py
"""

import argparse
import json
import os
import os.path as osp
import statistics
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_utils import (  # noqa: E402
    add_kd_kernels_argument,
    add_stock_accuracy_argument,
    clock,
    device_label,
    peak_in_fresh_process,
    proc_status_gib,
    reset_peak_rss,
)
from mmengine.model import revert_sync_batchnorm  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import bikd_mm  # noqa: E402,F401
from bikd_mm.models.member import build_member, parse_members  # noqa: E402

DEMO = [
    osp.join(ROOT, 'configs/bikd/demo/members/upernet_r18-tiny_digits.py'),
    osp.join(ROOT, 'configs/bikd/demo/members/upernet_swin-tiny_digits.py'),
]


def fake_batch(batch: int, size: int, classes: int, device) -> dict:
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(
            0, 256, (3, size, size), generator=gen, dtype=torch.uint8
        ).to(device)
        for _ in range(batch)
    ]
    samples = []
    for _ in range(batch):
        sample = SegDataSample()
        label = torch.randint(0, classes, (1, size, size), generator=gen)
        sample.gt_sem_seg = PixelData(data=label.to(device))
        sample.set_metainfo(
            dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size),
            )
        )
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def time_steps(step, iters: int, warmup: int, device) -> dict:
    for _ in range(warmup):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        start = clock(device)
        step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append((clock(device) - start) * 1e3)
    peak = (
        torch.cuda.max_memory_allocated() / 2**30
        if device.type == 'cuda'
        else None
    )
    return dict(ms=statistics.median(times), peak_gib=peak)


def time_interleaved(steps: dict, iters: int, warmup: int, device) -> dict:
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {label: [] for label in steps}
    for _ in range(iters):
        for label, step in steps.items():
            start = clock(device)
            step()
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times[label].append((clock(device) - start) * 1e3)
    return {
        label: dict(ms=statistics.median(t), peak_gib=None)
        for label, t in times.items()
    }


def profile_step(step, device) -> None:
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + (
        [ProfilerActivity.CUDA] if device.type == 'cuda' else []
    )
    with profile(activities=activities) as prof:
        for _ in range(3):
            step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
    key = 'cuda_time_total' if device.type == 'cuda' else 'cpu_time_total'
    print(prof.key_averages().table(sort_by=key, row_limit=25))


def cpu_step_peak_gib(args, label: str) -> float:
    """Growth of the resident size during one step of ``label``, measured
    in a fresh process after a warm-up step (model, optimizer state and
    gradients already allocated)."""
    return peak_in_fresh_process(
        __file__,
        ['--peak-of', label]
        + ['--batch', str(args.batch), '--size', str(args.size)]
        + ['--configs', *args.configs]
        + ['--kd-kernels', *args.kd_kernels]
        + (['--stock-accuracy'] if args.stock_accuracy else []),
    )


def member_dicts(configs: list, size: int) -> list:
    """Members ``m0``, ``m1`` from configs, with random weights (nothing
    is downloaded) and inputs padded to ``size``."""
    options = {
        'model.pretrained': None,
        'model.backbone.init_cfg': None,
        'model.data_preprocessor.size': (size, size),
    }
    return [
        dict(name=f'm{i}', config=c, cfg_options=options)
        for i, c in enumerate(configs)
    ]


def variant_builders(
    members: list,
    specs: list,
    kd_kernels: list,
    sync_free_accuracy: bool = True,
):
    """``(label, build)`` of each member alone and of each pair variant:
    task losses only, then KD on logits and at label resolution per
    kernel. ``build()`` returns the model (seeded, plain batch norm)."""
    for spec in specs:

        def member(spec=spec):
            torch.manual_seed(0)
            return revert_sync_batchnorm(build_member(spec, MODELS))

        yield f'{spec.name} alone', member
    common = dict(sync_free_accuracy=sync_free_accuracy)
    variants = {'pair, task losses only': dict(kd_weight=0.0, **common)}
    for kernel in kd_kernels:
        tag = '' if kernel == 'torch' else f' ({kernel})'
        for where, resolution in (
            ('on logits', 'logits'),
            ('at label resolution', 'labels'),
        ):
            variants[f'pair + KD {where}{tag}'] = dict(
                kd_resolution=resolution, kd_kernel=kernel, **common
            )
    for label, options in variants.items():

        def pair(options=options):
            torch.manual_seed(0)
            return revert_sync_batchnorm(
                MODELS.build(
                    dict(type='BiKDSegmentor', members=members, **options)
                )
            )

        yield label, pair


def train_step(model, data: dict, device):
    """One optimizer step of ``model`` on ``data`` as a callable (the
    model moved to ``device``, with its own AdamW)."""
    model = model.to(device)
    wrapper = optim(model)
    return lambda: model.train_step(data, wrapper)


def optim(model) -> OptimWrapper:
    return OptimWrapper(
        torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=1e-5)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs=2, default=DEMO)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--profile',
        action='store_true',
        help='print a torch.profiler table of each pair '
        'step with KD at label resolution',
    )
    parser.add_argument(
        '--interleave',
        action='store_true',
        help='keep every variant built and time them round-robin (robust '
        'to load changes on shared CPUs; no peak memory)',
    )
    parser.add_argument(
        '--cpu-memory',
        action='store_true',
        help='on CPU, run each variant once more in a fresh process and '
        'report how far its resident size grows during one step (after a '
        'warm-up step)',
    )
    add_stock_accuracy_argument(parser)
    add_kd_kernels_argument(parser)
    parser.add_argument('--peak-of', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    members = member_dicts(args.configs, args.size)
    specs = parse_members(members)
    classes = specs[0].model.decode_head.num_classes
    data = fake_batch(args.batch, args.size, classes, device)
    results = {}

    def builders():
        return variant_builders(
            members, specs, args.kd_kernels, not args.stock_accuracy
        )

    def make_step(model):
        return train_step(model, data, device)

    if args.peak_of:
        build = dict(builders())[args.peak_of]
        step = make_step(build())
        step()
        base = reset_peak_rss()
        step()
        print(f'{proc_status_gib("VmHWM") - base:.4f}')
        return
    if args.interleave:
        # Every variant stays built; each round times one step of each, so
        # load changes on shared machines hit all variants alike.
        steps = {label: make_step(build()) for label, build in builders()}
        results = time_interleaved(steps, args.iters, args.warmup, device)
    else:
        for label, build in builders():
            step = make_step(build())
            results[label] = time_steps(step, args.iters, args.warmup, device)
            # One line per variant as it is measured, so a run stopped
            # early still reports what it measured.
            print(f'measured {label}: {results[label]}', flush=True)
            if args.profile and 'label resolution' in label:
                profile_step(step, device)
            del step
            if device.type == 'cuda':
                torch.cuda.empty_cache()

    if device.type == 'cpu' and args.cpu_memory:
        for label in results:
            results[label]['peak_gib'] = cpu_step_peak_gib(args, label)

    single = sum(results[f'{s.name} alone']['ms'] for s in specs)
    print(
        f'device: {device_label(device)}'
        + f'; batch {args.batch}, {args.size}x{args.size}, '
        f'{classes} classes, median of {args.iters} steps'
        + (' (interleaved)' if args.interleave else '')
    )
    print('| step | ms | x (sum of singles) | peak GiB |')
    print('| --- | --- | --- | --- |')
    for label, r in results.items():
        peak = f'{r["peak_gib"]:.2f}' if r['peak_gib'] is not None else 'n/a'
        ratio = r['ms'] / single
        print(f'| {label} | {r["ms"]:.1f} | {ratio:.3f} | {peak} |')
    print(f'| sum of singles | {single:.1f} | 1.000 | |')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    device=str(device),
                    argv=sys.argv,
                    sum_single_ms=single,
                    results=results,
                ),
                f,
                indent=2,
            )


if __name__ == '__main__':
    main()
