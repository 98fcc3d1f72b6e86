"""What the KD term adds to the members' decode losses, time and memory.

The backbones and heads of a pair cost the same with and without the KD
term; what differs is the loss computed on the decode logits. This
benchmark builds a pair from two member configs, feeds it decode logits
``[B, C, S/4, S/4]`` (random, one leaf tensor per member, like the output
of a UPerNet head on ``S x S`` images) and labels ``[B, S, S]``, and runs
forward + backward of:

- ``task losses only``: each member's stock ``decode_head.loss_by_feat``
  (upsampling to the label size, cross-entropy, top-1 accuracy: the
  pair's sync-free one, or mmseg's with ``--stock-accuracy``);
- ``task + KD on logits``: the same plus the pair's KD term at logit
  resolution;
- ``task + KD at label resolution``: the pair's label-resolution path, in
  which members with a plain CE decode loss take it from the KD term's
  log-probabilities (``share_decode_ce``);
- with ``--kd-kernels torch triton`` both KD variants also with the fused
  Triton kernels (``kd_kernel='triton'``, CUDA).

The whole step's peak with KD is at most the step's peak without it plus
the difference measured here: the loss runs when every activation is
kept, and its backward runs first. On CUDA peaks come from the allocator;
on CPU each variant runs in a fresh process and the growth of its peak
resident set size (``VmHWM``, reset after the pair and inputs are made)
is read from the kernel. Allocations are the same on both devices; CPU
time shows the number of full-size passes, not GPU time.

Usage::

    python benchmarks/loss_head.py --batch 4 --size 512   # ADE20K shapes
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
    device_label,
    measured,
    peak_in_fresh_process,
    proc_status_gib,
    reset_peak_rss,
)
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import bikd_mm  # noqa: E402,F401
from bikd_mm.models.segmentors.sync_free_accuracy import (  # noqa: E402
    sync_free_accuracy,
)

STOCK = [
    'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_'
    'ade20k-512x512.py',
]
# Variant -> (KD resolution, kd_kernel).
VARIANTS = {
    'task losses only': (None, 'torch'),
    'task + KD on logits': ('logits', 'torch'),
    'task + KD at label resolution': ('labels', 'torch'),
    'task + KD on logits (triton)': ('logits', 'triton'),
    'task + KD at label resolution (triton)': ('labels', 'triton'),
}


def build_pair(configs: list, stock_accuracy: bool = False):
    small = {'model.pretrained': None, 'model.backbone.init_cfg': None}
    members = [
        dict(name=f'm{i}', config=c, cfg_options=small)
        for i, c in enumerate(configs)
    ]
    return MODELS.build(
        dict(
            type='BiKDSegmentor',
            members=members,
            granularity='pixel',
            sync_free_accuracy=not stock_accuracy,
        )
    )


def amp_dtype(device) -> torch.dtype:
    """The autocast dtype of ``--amp``: float16 on CUDA, bfloat16 on CPU."""
    return torch.float16 if device.type == 'cuda' else torch.bfloat16


def make_inputs(pair, batch: int, size: int, device, amp: bool) -> tuple:
    gen = torch.Generator().manual_seed(0)
    classes = pair.num_classes
    labels = torch.randint(0, classes, (batch, size, size), generator=gen)
    labels[:, : size // 8] = pair.ignore_index
    samples = []
    for label in labels:
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None].to(device))
        sample.set_metainfo(dict(img_shape=(size, size)))
        samples.append(sample)
    # Under autocast a decode head's logits come out in half precision.
    dtype = amp_dtype(device) if amp else torch.float32
    logits = [
        torch.randn(batch, classes, size // 4, size // 4, generator=gen).to(
            device, dtype
        )
        for _ in pair.member_names
    ]
    return logits, labels.to(device), samples


def loss_of(pair, variant: str, logits: list, labels, samples, amp=False):
    """The summed losses of one variant on leaf ``logits``."""
    device = logits[0].device
    with torch.autocast(device.type, amp_dtype(device), enabled=amp):
        return _loss_of(pair, variant, logits, labels, samples)


def _loss_of(pair, variant: str, logits: list, labels, samples):
    resolution, pair.kd_kernel = VARIANTS[variant]
    names = pair.member_names
    losses = {}
    shared = set()
    if resolution is not None:
        pair.kd_resolution = resolution
        shared = pair._shared_ce_members()
    for name, z in zip(names, logits):
        if name not in shared:
            head = pair.members[name].decode_head
            with sync_free_accuracy(pair.sync_free_accuracy):
                own = head.loss_by_feat(z, samples)
            losses.update({f'{name}.{k}': v for k, v in own.items()})
    if resolution is not None:
        losses.update(
            pair._kd_losses(dict(zip(names, logits)), labels, shared)
        )
    return sum(v for k, v in losses.items() if 'loss' in k)


def run_variant(pair, variant, inputs, device, iters: int, amp) -> dict:
    logits, labels, samples = inputs
    times, peak = [], None
    for i in range(iters + 1):
        leaves = [z.detach().requires_grad_() for z in logits]
        with measured(device) as step:
            loss_of(pair, variant, leaves, labels, samples, amp).backward()
        peak = step['peak_gib']
        if i >= 1:
            times.append(step['ms'])
    return dict(ms=statistics.median(times), peak_gib=peak)


def peak_of(args) -> None:
    """Print the peak RSS growth (GiB) of one forward + backward."""
    pair = build_pair(args.configs, args.stock_accuracy)
    logits, labels, samples = make_inputs(
        pair, args.batch, args.size, torch.device('cpu'), args.amp
    )
    leaves = [z.requires_grad_() for z in logits]
    base = reset_peak_rss()
    loss = loss_of(pair, args.peak_of, leaves, labels, samples, args.amp)
    loss.backward()
    print(f'{proc_status_gib("VmHWM") - base:.4f}')


def cpu_peak_gib(args, variant: str) -> float:
    return peak_in_fresh_process(
        __file__,
        ['--peak-of', variant]
        + ['--batch', str(args.batch), '--size', str(args.size)]
        + ['--configs', *args.configs]
        + (['--amp'] if args.amp else [])
        + (['--stock-accuracy'] if args.stock_accuracy else []),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs=2, default=STOCK)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument(
        '--amp',
        action='store_true',
        help='half-precision logits and losses under autocast (float16 on '
        'CUDA, bfloat16 on CPU), as with tools/train.py --amp',
    )
    add_kd_kernels_argument(parser)
    add_stock_accuracy_argument(parser)
    parser.add_argument('--peak-of', choices=list(VARIANTS))
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    if args.peak_of:
        peak_of(args)
        return
    device = torch.device(args.device)
    pair = build_pair(args.configs, args.stock_accuracy).to(device)
    inputs = make_inputs(pair, args.batch, args.size, device, args.amp)
    results = {}
    for variant, (_, kernel) in VARIANTS.items():
        if kernel not in args.kd_kernels:
            continue
        results[variant] = run_variant(
            pair, variant, inputs, device, args.iters, args.amp
        )
        if device.type == 'cpu':
            results[variant]['peak_gib'] = cpu_peak_gib(args, variant)
    base = results['task losses only']
    logit_gib = inputs[0][0].numel() * 16 * inputs[0][0].element_size() / 2**30
    print(
        f'device: {device_label(device)}'
        + f'; batch {args.batch}, {args.size}x{args.size}, '
        f'{pair.num_classes} classes, median of {args.iters}'
        + (f', autocast {amp_dtype(device)}' if args.amp else '')
        + '; one '
        f"member's logits at label size: {logit_gib:.2f} GiB"
    )
    print('| loss | ms | x (task only) | peak GiB | peak - task only GiB |')
    print('| --- | --- | --- | --- | --- |')
    for label, r in results.items():
        print(
            f'| {label} | {r["ms"]:.1f} | {r["ms"] / base["ms"]:.3f} '
            f'| {r["peak_gib"]:.2f} '
            f'| {r["peak_gib"] - base["peak_gib"]:+.2f} |'
        )
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    device=device_label(device),
                    amp=args.amp,
                    argv=sys.argv,
                    results=results,
                ),
                f,
                indent=2,
            )


if __name__ == '__main__':
    main()
