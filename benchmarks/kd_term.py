"""The KD term alone: bikd_mm.core vs the straightforward formula, for
every teacher selection the wrappers offer and N members.

Both compute, for N members' segmentation logits ``[B, C, H, W]`` and a
label map: per-pixel cross-entropy of every member, the teacher, and the
KL of the teacher into every other member, averaged over valid pixels;
then backward. Selections (``--selection``):

- ``pixel``: the lowest CE per pixel teaches (``granularity='pixel'``);
- ``image``: the lowest mean CE per image (``granularity='image'``);
- ``pixel_score``: a per-pixel map from another score (as
  ``selection_loss='bce_dice'`` gives it; here a fixed random score);
- ``image_score``: per image from another score (as a Mask2Former pair's
  ``selection_loss='task_loss'``);
- ``fixed``: member 0 teaches everywhere (``fixed_teacher``);
- ``all``: every member teaches every other (``selection='all'``, DML).

Variants: ``naive`` (separate softmaxes, full-size float masks), and
``bikd_mm.core.ce_and_masked_kl_terms`` with ``--kd-kernels``: ``torch``
(chunked PyTorch), ``triton`` (the kernels the dispatch picks: the pair
kernels for two members with a per-pixel rule, else the N-member ones;
CUDA, or CPU under ``TRITON_INTERPRET=1`` where the interpreter's time
means nothing) and ``triton_n`` (the N-member kernels forced, also for
the pair case). Reported: median time of forward + backward, peak memory
above the inputs, the largest difference in value and gradient to the
naive formula, and per selection the time per member pair (N (N - 1) / 2
pairs) against the two-member kernels with per-pixel selection. On CUDA
the peak comes from the allocator; on CPU (``--cpu-memory``, ``pixel``
selection) each variant runs once in a fresh process and the growth of
its peak resident set size is read from the kernel.

Usage::

    python benchmarks/kd_term.py [--device cuda] [--kd-kernels torch triton]
        [--members 2 3 4] [--selection pixel image all] [--out results.json]
"""

import argparse
import contextlib
import functools
import itertools
import json
import os
import os.path as osp
import statistics
import sys
from unittest import mock

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
    LowestScoreRule,
    ce_and_masked_kl_terms,
    ce_masked_kl,  # noqa: E402
    select_teachers,
)

SELECTIONS = ('pixel', 'image', 'pixel_score', 'image_score', 'fixed', 'all')
KERNELS = ('torch', 'triton', 'triton_n')


def score_of(labels: torch.Tensor, members: int) -> torch.Tensor:
    """A fixed random score per member and pixel (another task loss)."""
    gen = torch.Generator().manual_seed(1)
    return torch.rand((members, *labels.shape), generator=gen).to(
        labels.device
    )


def teachers(selection, ce, labels, valid, members):
    """Teacher map of a selection, written directly (first of ties)."""
    if selection == 'pixel':
        return ce.argmin(0)
    if selection == 'fixed':
        return torch.zeros_like(labels)
    scores = ce if selection == 'image' else score_of(labels, members)
    if selection.startswith('image'):
        mean = (scores * valid).flatten(2).sum(2) / valid.flatten(1).sum(1)
        return mean.argmin(0)[:, None, None].expand_as(labels)
    return scores.argmin(0)


def naive(logits, labels, selection='pixel', ignore_index=255):
    """Straightforward formula: separate softmaxes, full-size masks."""
    valid = labels != ignore_index
    safe = labels.clone()
    safe[~valid] = 0
    ce = torch.stack(
        [F.cross_entropy(z, safe, reduction='none') for z in logits]
    )
    best = teachers(selection, ce.detach(), labels, valid, len(logits))
    total = (ce * valid).sum() / valid.sum()
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
            taught = valid if selection == 'all' else (best == t) & valid
            total = total + (kl * taught.float()).sum() / valid.sum()
    return total


def select_for(selection, labels, valid, members):
    """``(select, per_element)`` of ``ce_and_masked_kl_terms``."""
    if selection in ('pixel', 'all'):
        return LowestScoreRule('first'), True  # ties as argmin
    if selection == 'fixed':
        return LowestScoreRule(fixed=0), True
    score = score_of(labels, members) if 'score' in selection else None

    def select(ce):
        scores = ce if score is None else score
        if selection.startswith('image'):
            scores = (scores * valid).flatten(2).sum(2)
            scores = scores / valid.flatten(1).sum(1)
            best = select_teachers(scores, False, tie='first')
            return best[:, None, None].expand_as(labels)
        return select_teachers(scores, False, tie='first')

    return select, False


def ours(logits, labels, selection='pixel', ignore_index=255, kernel='torch'):
    """bikd_mm.core: CE, selection and KL from the logits, which are all
    it keeps for the backward pass."""
    valid = labels != ignore_index
    select, per_element = select_for(selection, labels, valid, len(logits))
    forced = kernel == 'triton_n'
    patch = (
        mock.patch.object(
            ce_masked_kl, 'implementation', lambda *a: 'triton_n'
        )
        if forced
        else contextlib.nullcontext()
    )
    with patch:
        ce, terms, _, _ = ce_and_masked_kl_terms(
            logits,
            labels,
            select,
            ignore_index=ignore_index,
            per_element=per_element,
            predict=False,
            kernel='triton' if forced else kernel,
            mutual=selection == 'all',
        )
    return ce.sum() / valid.sum() + terms.sum()


def variant(name: str, selection: str = 'pixel'):
    """``naive`` or ``ours`` with a kernel."""
    if name == 'naive':
        return functools.partial(naive, selection=selection)
    return functools.partial(ours, selection=selection, kernel=name)


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
    """Print the peak RSS growth (GiB) of one forward + backward
    (per-pixel selection)."""
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
    parser.add_argument('--members', type=int, nargs='+', default=[2])
    parser.add_argument(
        '--selection', nargs='+', choices=SELECTIONS, default=['pixel']
    )
    parser.add_argument('--batch', type=int, nargs='+', default=[2, 4])
    parser.add_argument('--classes', type=int, nargs='+', default=[19, 150])
    parser.add_argument('--size', type=int, nargs='+', default=[64, 128])
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument(
        '--cpu-memory',
        action='store_true',
        help='on CPU, measure the peak RSS growth of each variant in a '
        'fresh process (per-pixel selection)',
    )
    parser.add_argument(
        '--kd-kernels',
        nargs='+',
        choices=KERNELS,
        default=['torch'],
        help="kernel of ce_and_masked_kl_terms ('triton', 'triton_n': "
        "CUDA, or CPU in Triton's interpreter with TRITON_INTERPRET=1)",
    )
    parser.add_argument('--peak-of', choices=['naive', *KERNELS])
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    if args.peak_of:
        peak_of(
            args.peak_of,
            args.batch[0],
            args.classes[0],
            args.size[0],
            args.members[0],
        )
        return
    device = torch.device(args.device)
    names = ['naive', *args.kd_kernels]
    rows = []
    for members, selection, batch, classes, size in itertools.product(
        args.members, args.selection, args.batch, args.classes, args.size
    ):
        logits, labels = make_inputs(batch, classes, size, members, device)
        res = {
            n: measure(
                variant(n, selection), logits, labels, device, args.iters
            )
            for n in names
        }
        if device.type == 'cpu' and args.cpu_memory:
            for n in names:
                res[n]['peak_gib'] = cpu_peak_gib(
                    n, batch, classes, size, members
                )
        row = dict(batch=batch, classes=classes, size=size)
        row.update(members=members, selection=selection)
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
        del logits, res
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    print(f'device: {device_label(device)}')
    print(
        '| N | selection | B | C | HxW | '
        + ' | '.join(f'{n} ms' for n in names)
        + ' | '
        + ' | '.join(f'{n} speed-up' for n in args.kd_kernels)
        + ' | '
        + ' | '.join(f'{n} GiB' for n in names)
        + ' | max |dloss| | max |dgrad| |'
    )
    print('| --- ' * (7 + 2 * len(names) + len(args.kd_kernels)) + '|')

    def gib(value):
        return 'n/a' if value is None else f'{value:.2f}'

    for r in rows:
        cells = [str(r['members']), r['selection']]
        cells += [f'{r["batch"]}', f'{r["classes"]}']
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
    if 'triton' in args.kd_kernels:
        per_pair_table(rows)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(device=str(device), rows=rows, argv=sys.argv), f, indent=2
            )


def per_pair_table(rows: list) -> None:
    """Time per member pair of the Triton path against the two-member
    kernels with per-pixel selection at the same size (goal <= 2x), and
    against the naive formula (goal >= 1x speed-up)."""
    base = {
        (r['batch'], r['classes'], r['size']): r['triton_ms']
        for r in rows
        if r['members'] == 2 and r['selection'] == 'pixel'
    }
    if not base:
        return
    print()
    print(
        '| N | selection | B | C | HxW | triton ms per member pair '
        '| x (pair, per pixel) | x faster than naive |'
    )
    print('| --- ' * 8 + '|')
    for r in rows:
        key = (r['batch'], r['classes'], r['size'])
        if key not in base:
            continue
        pairs = r['members'] * (r['members'] - 1) // 2
        per_pair = r['triton_ms'] / pairs
        print(
            f'| {r["members"]} | {r["selection"]} | {r["batch"]} '
            f'| {r["classes"]} | {r["size"]}x{r["size"]} | {per_pair:.2f} '
            f'| {per_pair / base[key]:.2f} | {r["triton_speedup"]:.2f}x |'
        )


if __name__ == '__main__':
    main()
