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

``--kd-kernels torch triton`` also times the fused Triton kernels
(``kd_kernel='triton'``; CUDA, or CPU under ``TRITON_INTERPRET=1`` where
the interpreter's time means nothing).

Usage::

    python benchmarks/kd_term.py [--device cuda] [--kd-kernels torch triton]
        [--out results.json]
"""

import argparse
import functools
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
    add_kd_kernels_argument,
    device_label,
    measured,
    peak_in_fresh_process,
    proc_status_gib,
    reset_peak_rss,
)

from bikd_mm.core import (  # noqa: E402
    LowestScoreRule,
    ce_and_masked_kl_terms,
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


def ours(
    logits: list,
    labels: torch.Tensor,
    ignore_index: int = 255,
    kernel: str = 'torch',
):
    """bikd_mm.core: CE, selection and KL in one pass over the logits,
    which are all it keeps for the backward pass."""
    _, terms, _, _ = ce_and_masked_kl_terms(
        logits,
        labels,
        LowestScoreRule('first'),  # ties as argmin in naive()
        ignore_index=ignore_index,
        per_element=True,
        predict=False,
        kernel=kernel,
    )
    return terms.sum()


def variant(name: str):
    """``naive`` or ``ours`` with a kernel (``torch``, ``triton``)."""
    if name == 'naive':
        return naive
    return functools.partial(ours, kernel=name)


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


def peak_of(name: str, batch, classes, size, members) -> None:
    """Print the peak RSS growth (GiB) of one forward + backward."""
    logits, labels = make_inputs(batch, classes, size, members, 'cpu')
    logits = [z.requires_grad_() for z in logits]
    base = reset_peak_rss()
    loss = variant(name)(logits, labels)
    loss.backward()
    print(f'{proc_status_gib("VmHWM") - base:.4f}')


def cpu_peak_gib(name: str, batch, classes, size, members) -> float:
    return peak_in_fresh_process(
        __file__,
        ['--peak-of', name]
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
    add_kd_kernels_argument(parser)
    parser.add_argument('--peak-of', choices=['naive', 'torch', 'triton'])
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
    names = ['naive', *args.kd_kernels]
    rows = []
    for batch, classes, size in itertools.product(
        args.batch, args.classes, args.size
    ):
        logits, labels = make_inputs(
            batch, classes, size, args.members, device
        )
        res = {
            n: measure(variant(n), logits, labels, device, args.iters)
            for n in names
        }
        if device.type == 'cpu' and args.cpu_memory:
            for n in names:
                res[n]['peak_gib'] = cpu_peak_gib(
                    n, batch, classes, size, args.members
                )
        row = dict(batch=batch, classes=classes, size=size)
        row['members'] = args.members
        for n in names:
            row[f'{n}_ms'] = res[n]['ms']
            row[f'{n}_peak_gib'] = res[n]['peak_gib']
        for n in args.kd_kernels:
            row[f'{n}_speedup'] = res['naive']['ms'] / res[n]['ms']
            row[f'{n}_max_loss_diff'] = abs(
                res['naive']['loss'] - res[n]['loss']
            ).item()
            row[f'{n}_max_grad_diff'] = max(
                (ga - gb).abs().max().item()
                for ga, gb in zip(res['naive']['grads'], res[n]['grads'])
            )
        rows.append(row)
    print(f'device: {device_label(device)}')
    print(
        '| B | C | HxW | '
        + ' | '.join(f'{n} ms' for n in names)
        + ' | '
        + ' | '.join(f'{n} speed-up' for n in args.kd_kernels)
        + ' | '
        + ' | '.join(f'{n} GiB' for n in names)
        + ' | max |dloss| | max |dgrad| |'
    )
    print('| --- ' * (5 + 2 * len(names) + len(args.kd_kernels)) + '|')

    def gib(value):
        return 'n/a' if value is None else f'{value:.2f}'

    for r in rows:
        cells = [f'{r["batch"]}', f'{r["classes"]}']
        cells.append(f'{r["size"]}x{r["size"]}')
        cells += [f'{r[n + "_ms"]:.1f}' for n in names]
        cells += [f'{r[n + "_speedup"]:.2f}x' for n in args.kd_kernels]
        cells += [gib(r[n + '_peak_gib']) for n in names]
        cells.append(
            '{:.1e}'.format(
                max(r[n + '_max_loss_diff'] for n in args.kd_kernels)
            )
        )
        cells.append(
            '{:.1e}'.format(
                max(r[n + '_max_grad_diff'] for n in args.kd_kernels)
            )
        )
        print('| ' + ' | '.join(cells) + ' |')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(device=str(device), rows=rows, argv=sys.argv), f, indent=2
            )


if __name__ == '__main__':
    main()
