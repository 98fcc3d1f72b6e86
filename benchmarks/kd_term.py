"""The per-pixel KD term alone: bikd_mm.core vs the straightforward formula.

Both compute, for N members' segmentation logits ``[B, C, H, W]`` and a
label map: per-pixel cross-entropy of every member, the teacher per pixel
(lowest CE), and the masked KL of the teacher into every other member,
averaged over valid pixels; then backward. Reported: median time of
forward + backward, peak memory above the inputs, and the largest
difference in value and gradient between the two. On CUDA the peak comes
from the allocator; on CPU (``--cpu-memory``) each variant runs once in a
fresh process and the growth of its peak resident set size (``VmHWM``,
reset after the inputs are made) is read from the kernel, so it also counts
allocator slack.

Usage::

    python benchmarks/kd_term.py [--device cuda] [--out results.json]
"""

import argparse
import itertools
import json
import os
import os.path as osp
import statistics
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from bench_utils import (  # noqa: E402
    device_label,
    measured,
    peak_in_fresh_process,
    proc_status_gib,
    reset_peak_rss,
)

from bikd_mm.core import (  # noqa: E402
    ce_and_masked_kl_terms,
    select_teachers,
)


def naive(logits: list, labels: torch.Tensor, ignore_index: int = 255):
    """Straightforward formula: separate softmaxes, full-size masks."""
    valid = labels != ignore_index
    safe = labels.clone()
    safe[~valid] = 0
    ce = torch.stack(
        [F.cross_entropy(z, safe, reduction='none') for z in logits]
    )
    best = ce.argmin(0)
    total = 0
    for t, zt in enumerate(logits):
        for s, zs in enumerate(logits):
            if s == t:
                continue
            kl = F.kl_div(
                F.log_softmax(zs, 1),
                F.log_softmax(zt, 1),
                reduction='none',
                log_target=True,
            ).sum(1)
            mask = ((best == t) & valid).float()
            total = total + (kl * mask).sum() / valid.sum()
    return total


def ours(logits: list, labels: torch.Tensor, ignore_index: int = 255):
    """bikd_mm.core: CE, selection and KL in one pass over the logits,
    which are all it keeps for the backward pass."""

    def select(ce):
        # Per pixel: also serves chunks of pixels (per_element).
        return select_teachers(ce, higher_is_better=False, tie='first')

    _, terms, _, _ = ce_and_masked_kl_terms(
        logits,
        labels,
        select,
        ignore_index=ignore_index,
        per_element=True,
        predict=False,
    )
    return terms.sum()


def measure(fn, logits, labels, device, iters: int) -> dict:
    times, peak = [], None
    for i in range(iters + 2):
        grads = [z.detach().requires_grad_() for z in logits]
        with measured(device) as step:
            loss = fn(grads, labels)
            loss.backward()
        peak = step['peak_gib']
        if i >= 2:
            times.append(step['ms'])
    return dict(
        ms=statistics.median(times),
        peak_gib=peak,
        loss=loss.detach(),
        grads=[g.grad for g in grads],
    )


def make_inputs(batch, classes, size, members, device):
    gen = torch.Generator(device='cpu').manual_seed(0)
    logits = [
        torch.randn(batch, classes, size, size, generator=gen).to(device)
        for _ in range(members)
    ]
    labels = torch.randint(0, classes, (batch, size, size), generator=gen).to(
        device
    )
    labels[:, : size // 8] = 255
    return logits, labels


def peak_of(variant: str, batch, classes, size, members) -> None:
    """Print the peak RSS growth (GiB) of one forward + backward."""
    logits, labels = make_inputs(batch, classes, size, members, 'cpu')
    logits = [z.requires_grad_() for z in logits]
    base = reset_peak_rss()
    loss = {'naive': naive, 'ours': ours}[variant](logits, labels)
    loss.backward()
    print(f'{proc_status_gib("VmHWM") - base:.4f}')


def cpu_peak_gib(variant: str, batch, classes, size, members) -> float:
    return peak_in_fresh_process(
        __file__,
        ['--peak-of', variant]
        + ['--batch', str(batch), '--classes', str(classes)]
        + ['--size', str(size), '--members', str(members)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--members', type=int, default=2)
    parser.add_argument('--batch', type=int, nargs='+', default=[2, 4])
    parser.add_argument('--classes', type=int, nargs='+', default=[19, 150])
    parser.add_argument('--size', type=int, nargs='+', default=[64, 128])
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument(
        '--cpu-memory',
        action='store_true',
        help='on CPU, measure the peak RSS growth of each variant in a '
        'fresh process',
    )
    parser.add_argument('--peak-of', choices=['naive', 'ours'])
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    if args.peak_of:
        peak_of(
            args.peak_of,
            args.batch[0],
            args.classes[0],
            args.size[0],
            args.members,
        )
        return
    device = torch.device(args.device)
    rows = []
    for batch, classes, size in itertools.product(
        args.batch, args.classes, args.size
    ):
        logits, labels = make_inputs(
            batch, classes, size, args.members, device
        )
        a = measure(naive, logits, labels, device, args.iters)
        b = measure(ours, logits, labels, device, args.iters)
        if device.type == 'cpu' and args.cpu_memory:
            for key, r in (('naive', a), ('ours', b)):
                r['peak_gib'] = cpu_peak_gib(
                    key, batch, classes, size, args.members
                )
        diff = max(
            (ga - gb).abs().max().item()
            for ga, gb in zip(a['grads'], b['grads'])
        )
        rows.append(
            dict(
                batch=batch,
                classes=classes,
                size=size,
                members=args.members,
                naive_ms=a['ms'],
                ours_ms=b['ms'],
                speedup=a['ms'] / b['ms'],
                naive_peak_gib=a['peak_gib'],
                ours_peak_gib=b['peak_gib'],
                max_loss_diff=abs(a['loss'] - b['loss']).item(),
                max_grad_diff=diff,
            )
        )
    print(f'device: {device_label(device)}')
    print(
        '| B | C | HxW | naive ms | ours ms | speed-up | naive GiB |'
        ' ours GiB | max |dloss| | max |dgrad| |'
    )
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for r in rows:
        gib = (
            (
                '{:.2f}'.format(r['naive_peak_gib']),
                '{:.2f}'.format(r['ours_peak_gib']),
            )
            if r['naive_peak_gib'] is not None
            else ('n/a', 'n/a')
        )
        print(
            f'| {r["batch"]} | {r["classes"]} | {r["size"]}x{r["size"]} '
            f'| {r["naive_ms"]:.1f} | {r["ours_ms"]:.1f} '
            f'| {r["speedup"]:.2f}x | {gib[0]} | {gib[1]} '
            f'| {r["max_loss_diff"]:.1e} | {r["max_grad_diff"]:.1e} |'
        )
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(device=str(device), rows=rows, argv=sys.argv), f, indent=2
            )


if __name__ == '__main__':
    main()
