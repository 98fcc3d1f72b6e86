"""Training-step cost of a shipped Bi-KD config against its members alone,
in float32, float16 AMP and bfloat16, for every task.

Builds the model of a Bi-KD config (``configs/bikd/*.py``: segmentation,
classification or video saliency; two or more members) with random
weights (member checkpoints are dropped, nothing is downloaded) and times
one optimizer step (AdamW, lr 1e-6) of: each member alone (its stock
``train_step``), the model with task losses only (``kd_weight=0``) and
the model as configured (with its KD term), each with its own optimizer
wrappers: ``OptimWrapper`` for ``fp32``, ``AmpOptimWrapper`` (what
``tools/train.py --amp`` sets: float16 autocast, one dynamic GradScaler
for all members) for ``fp16``, and ``AmpOptimWrapper(dtype='bfloat16')``
for ``bf16``. Every variant stays built and the variants are timed round
by round (interleaved), so load changes hit them alike. Reported: median
ms, the ratio to the sum of the single steps, and on CUDA the peak memory
a step allocates above what is allocated before it.

On CPU the AMP wrappers get ``torch.amp.GradScaler('cpu')`` (mmengine
builds them for accelerators only) and mmengine's autocast takes
bfloat16 only: ``fp16`` is reported as not run there.

Usage::

    python benchmarks/pair_step.py --device cuda \\
        --config configs/bikd/seg_pair_r50_swin.py --precision fp32 fp16 bf16
    python benchmarks/pair_step.py \\
        --config configs/bikd/demo/seg_pair_digits.py
"""

import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_utils import clock, device_label  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.model import revert_sync_batchnorm  # noqa: E402
from mmengine.optim import (  # noqa: E402
    AmpOptimWrapper,
    OptimWrapper,
    OptimWrapperDict,
)

import bikd_mm  # noqa: E402,F401

PRECISIONS = ('fp32', 'fp16', 'bf16')
TASKS = {
    'BiKDSegmentor': 'seg',
    'BiKDClassifier': 'cls',
    'BiKDSaliency': 'sal',
}


def registry(task: str):
    if task == 'seg':
        from mmseg.registry import MODELS
    elif task == 'cls':
        from mmpretrain.registry import MODELS
    else:
        from bikd_mm.registry import MODELS
    return MODELS


def model_config(path: str, size: int, task: str, overrides: dict) -> dict:
    """The config's model with random weights: member checkpoints and
    pretrained backbones dropped; segmentation members pad to ``size``."""
    model = Config.fromfile(path).model.to_dict()
    for spec in model['members']:
        spec.pop('checkpoint', None)
        options = dict(spec.get('cfg_options') or {})
        if task == 'seg':
            options.update(
                {
                    'model.pretrained': None,
                    'model.backbone.init_cfg': None,
                    'model.data_preprocessor.size': (size, size),
                }
            )
        spec['cfg_options'] = options
    model.update(overrides)
    return model


def seg_batch(batch, size, classes, device):
    from step_overhead import fake_batch

    return fake_batch(batch, size, classes, device)


def cls_batch(batch, size, classes, device):
    from mmpretrain.structures import DataSample

    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(0, 256, (3, size, size), generator=gen)
        .to(torch.uint8)
        .to(device)
        for _ in range(batch)
    ]
    labels = torch.randint(0, classes, (batch,), generator=gen)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=inputs, data_samples=samples)


def sal_batch(batch, size, frames, device):
    """Clips ``[T, 3, H, W]`` (uint8, H x W = size x 16/9 size) and a
    blob-shaped saliency map with fixations per clip."""
    gen = torch.Generator().manual_seed(0)
    hw = (size, size * 16 // 9)
    inputs = [
        torch.randint(0, 256, (frames, 3, *hw), generator=gen)
        .to(torch.uint8)
        .to(device)
        for _ in range(batch)
    ]
    yy, xx = torch.meshgrid(
        torch.arange(hw[0]), torch.arange(hw[1]), indexing='ij'
    )
    samples = []
    for i in range(batch):
        cy, cx = torch.rand(2, generator=gen) * torch.tensor(hw)
        sal = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (hw[0] * 2.0))
        fix = torch.zeros(hw)
        fix[int(cy) % hw[0], int(cx) % hw[1]] = 1
        samples.append(
            dict(
                video=f'v{i}',
                frame=i,
                ori_shape=hw,
                gt_saliency=sal.float().to(device),
                gt_fixation=fix.to(device),
            )
        )
    return dict(inputs=inputs, data_samples=samples)


def wrapper(
    params, precision: str, device, loss_scale: dict | None = None
) -> OptimWrapper:
    """AdamW in ``OptimWrapper`` (fp32) or ``AmpOptimWrapper`` (a dynamic
    GradScaler, ``loss_scale`` its arguments)."""
    optimizer = torch.optim.AdamW(params, lr=1e-6, weight_decay=1e-5)
    if precision == 'fp32':
        return OptimWrapper(optimizer)
    dtype = 'float16' if precision == 'fp16' else 'bfloat16'
    scale = loss_scale or 'dynamic'
    if device.type == 'cuda':
        return AmpOptimWrapper(
            optimizer=optimizer, dtype=dtype, loss_scale=scale
        )
    from mmengine.optim.optimizer import amp_optimizer_wrapper

    real = amp_optimizer_wrapper.is_cuda_available
    amp_optimizer_wrapper.is_cuda_available = lambda: True
    try:
        amp = AmpOptimWrapper(optimizer=optimizer, dtype=dtype)
    finally:
        amp_optimizer_wrapper.is_cuda_available = real
    amp.loss_scaler = torch.amp.GradScaler('cpu', **(loss_scale or {}))
    return amp


def variants(model, precision: str, device) -> dict:
    """``label: step()`` of each member alone, the model without KD and
    the model with its KD term (sharing the member modules)."""
    steps = {}
    for name, member in model.members.items():
        optim = wrapper(member.parameters(), precision, device)
        steps[f'{name} alone'] = (member, optim, None)
    kd_weight = model.kd_weight
    for label, weight in (('task losses only', 0.0), ('with KD', kd_weight)):
        optim = OptimWrapperDict(
            **{
                n: wrapper(m.parameters(), precision, device)
                for n, m in model.members.items()
            }
        )
        steps[f'{len(model.members)} members, {label}'] = (
            model,
            optim,
            weight,
        )
    return steps


def run_step(module, optim, kd_weight, model, data):
    if kd_weight is not None:
        model.kd_weight = kd_weight
    return module.train_step(copy.deepcopy(data), optim)


def measure(steps, model, data, iters, warmup, device) -> dict:
    cuda = device.type == 'cuda'
    results = {}
    for label, (module, optim, weight) in steps.items():
        peak = None
        for _ in range(warmup):
            if cuda:
                torch.cuda.synchronize()
                before = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
            run_step(module, optim, weight, model, data)
            if cuda:
                torch.cuda.synchronize()
                step_peak = torch.cuda.max_memory_allocated() - before
                peak = max(peak or 0, step_peak / 2**30)
        results[label] = dict(times=[], peak_gib=peak)
    for _ in range(iters):
        for label, (module, optim, weight) in steps.items():
            if cuda:
                torch.cuda.synchronize()
            start = clock(device)
            run_step(module, optim, weight, model, data)
            if cuda:
                torch.cuda.synchronize()
            results[label]['times'].append((clock(device) - start) * 1e3)
    for r in results.values():
        r['ms'] = statistics.median(r.pop('times'))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', required=True)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', nargs='+', default=['fp32'])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument(
        '--size', type=int, default=64, help='image side (saliency: height)'
    )
    parser.add_argument('--frames', type=int, default=8, help='saliency')
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--kd-kernel',
        default=None,
        help="BiKDSegmentor's kd_kernel (default: the config's, 'auto')",
    )
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    unknown = set(args.precision) - set(PRECISIONS)
    if unknown:
        parser.error(f'--precision: unknown {sorted(unknown)}')
    device = torch.device(args.device)
    task = TASKS[Config.fromfile(args.config).model['type']]
    overrides = {}
    if task == 'seg' and args.kd_kernel:
        overrides['kd_kernel'] = args.kd_kernel
    cfg = model_config(args.config, args.size, task, overrides)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(registry(task).build(cfg)).to(device)
    model.train()
    classes = getattr(model, 'num_classes', None)
    if task == 'seg':
        data = seg_batch(args.batch, args.size, classes, device)
    elif task == 'cls':
        data = cls_batch(args.batch, args.size, classes, device)
    else:
        data = sal_batch(args.batch, args.size, args.frames, device)
    shape = (
        f'{args.frames} frames of {args.size}x{args.size * 16 // 9}'
        if task == 'sal'
        else f'{args.size}x{args.size}'
    )
    print(
        f'device: {device_label(device)}; {osp.basename(args.config)}, '
        f'batch {args.batch}, {shape}, median of {args.iters} interleaved '
        f'steps, AdamW',
        flush=True,
    )
    print('| precision | step | ms | x (sum of singles) | step peak GiB |')
    print('| --- | --- | --- | --- | --- |')
    rows = []
    for precision in args.precision:
        if precision == 'fp16' and device.type == 'cpu':
            print(f'| {precision} | not run on CPU (bfloat16 only) | | | |')
            continue
        steps = variants(model, precision, device)
        results = measure(steps, model, data, args.iters, args.warmup, device)
        single = sum(
            r['ms'] for label, r in results.items() if label.endswith('alone')
        )
        for label, r in results.items():
            peak = 'n/a' if r['peak_gib'] is None else f'{r["peak_gib"]:.2f}'
            ratio = r['ms'] / single
            print(
                f'| {precision} | {label} | {r["ms"]:.1f} | {ratio:.3f} '
                f'| {peak} |',
                flush=True,
            )
            rows.append(
                dict(precision=precision, step=label, ratio=ratio, **r)
            )
        print(f'| {precision} | sum of singles | {single:.1f} | 1.000 | |')
        del steps
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(device=str(device), argv=sys.argv, rows=rows), f, indent=2
            )


if __name__ == '__main__':
    main()
