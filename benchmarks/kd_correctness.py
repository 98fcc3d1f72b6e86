"""The one-pass CE + KD function on a device against a float64 CPU formula.

Runs :func:`bikd_mm.core.ce_and_masked_kl_terms` on ``--device`` (float32,
and float16 / bfloat16 logits as autocast produces them) for N = 2, 3 and
4 members and every teacher selection the wrappers offer (per pixel and
per image by the CE, a per-pixel and a per-image map from another score as
``bce_dice`` and Mask2Former's task loss give it, a fixed teacher, every
member teaching: ``selection='all'``), temperature 1 and 2, with and
without a detached teacher, with the PyTorch path (19 classes) and the
Triton kernels (150 classes; the pair kernels where they apply, else the
N-member ones; CUDA, or CPU with ``TRITON_INTERPRET=1``), and compares
the per-pixel CE, the KD terms and the gradients of a weighted sum of both
with the straightforward formula (``F.cross_entropy``, element-wise KL
maps, float masks) computed in float64 on the CPU. Prints one row per case
and exits non-zero if a difference exceeds its tolerance. The unit tests
cover the same on CPU; this script is for accelerators.

Usage::

    python benchmarks/kd_correctness.py --device cuda
"""

import argparse
import itertools
import json
import os
import os.path as osp
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from bench_utils import device_label  # noqa: E402

from bikd_mm.core import (  # noqa: E402
    LowestScoreRule,
    ce_and_masked_kl_terms,
    select_teachers,
)
from bikd_mm.core.ce_masked_kl import implementation  # noqa: E402
from bikd_mm.core.ce_masked_kl_triton import INTERPRET  # noqa: E402

IGNORE = 255
SELECTIONS = ('pixel', 'image', 'pixel_score', 'image_score', 'fixed', 'all')
# Relative tolerance per logits dtype (largest difference / largest value).
TOLERANCE = {
    torch.float32: 1e-4,
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
}


def teacher_map(selection, ce, score, valid):
    """Teacher per pixel from the CE ``[N, B, H, W]`` or another score,
    per pixel or per image (ties: nobody for N > 2, the last of two)."""
    if selection == 'fixed':
        return torch.zeros_like(valid, dtype=torch.long).masked_fill(
            ~valid, -1
        )
    scores = score if 'score' in selection else ce
    if selection in ('pixel', 'pixel_score', 'all'):
        return select_teachers(scores, False, valid=valid)
    mean = (scores * valid).flatten(2).sum(2) / valid.flatten(1).sum(1)
    best = select_teachers(mean, False)[:, None, None]
    return best.expand_as(valid).masked_fill(~valid, -1)


def direct(logits, labels, selection, score, temperature, detach_teacher):
    """float64 reference: CE maps, teachers, [N, N] KD terms."""
    valid = labels != IGNORE
    ce = torch.stack(
        [
            F.cross_entropy(z, labels, ignore_index=IGNORE, reduction='none')
            for z in logits
        ]
    )
    teacher = teacher_map(selection, ce.detach(), score, valid)
    lps = [F.log_softmax(z / temperature, 1) for z in logits]
    n = len(logits)
    terms = torch.zeros(n, n, dtype=logits[0].dtype)
    for t in range(n):
        lp_t = lps[t].detach() if detach_teacher else lps[t]
        for s in range(n):
            if s == t:
                continue
            kl = (lp_t.exp() * (lp_t - lps[s])).sum(1)
            taught = valid if selection == 'all' else (teacher == t) & valid
            terms[t, s] = (kl * taught.to(kl.dtype)).sum() / valid.sum()
    return ce, terms * temperature**2


def run_case(
    device, dtype, n, selection, temperature, detach_teacher, kernel, classes
):
    gen = torch.Generator().manual_seed(n + 10 * int(temperature))
    shape = (2, classes, 24, 40)
    base = [torch.randn(shape, generator=gen) * 3 for _ in range(n)]
    labels = torch.randint(0, shape[1], (2, *shape[2:]), generator=gen)
    labels[:, :3] = IGNORE
    score = torch.rand((n, *labels.shape), generator=gen).double()
    # Both sides see exactly the same logit values.
    base = [z.to(dtype).to(torch.float64) for z in base]
    ref_z = [z.clone().requires_grad_() for z in base]
    dev_z = [z.to(device, dtype).requires_grad_() for z in base]
    dev_labels = labels.to(device)
    dev_score = score.to(device)
    valid = dev_labels != IGNORE
    per_element = selection in ('pixel', 'fixed', 'all')
    if selection == 'fixed':
        select = LowestScoreRule(fixed=0)
    elif per_element:
        select = LowestScoreRule()
    else:

        def select(ce):
            return teacher_map(selection, ce, dev_score, valid)

    opts = dict(
        select=select,
        per_element=per_element,
        class_dim=1,
        mutual=selection == 'all',
    )
    path = implementation(kernel, dev_z, opts)
    ce, terms, _, _ = ce_and_masked_kl_terms(
        dev_z,
        dev_labels,
        select,
        temperature=temperature,
        detach_teacher=detach_teacher,
        per_element=per_element,
        chunk_elements=2**14,
        kernel=kernel,
        mutual=selection == 'all',
    )
    ref_ce, ref_terms = direct(
        ref_z, labels, selection, score, temperature, detach_teacher
    )
    weights = torch.arange(1.0, n * n + 1).reshape(n, n)
    (ce.sum() / 100 + (terms * weights.to(device)).sum()).backward()
    (
        ref_ce.sum() / 100 + (ref_terms * weights.to(torch.float64)).sum()
    ).backward()

    def rel(a, b):
        a = a.detach().double().cpu()
        return ((a - b.detach()).abs().max() / b.detach().abs().max()).item()

    return path, dict(
        ce=rel(ce, ref_ce),
        terms=rel(terms, ref_terms),
        grad=max(rel(z.grad, r.grad) for z, r in zip(dev_z, ref_z)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu'
    )
    parser.add_argument('--members', type=int, nargs='+', default=[2, 3, 4])
    parser.add_argument(
        '--selection', nargs='+', choices=SELECTIONS, default=SELECTIONS
    )
    parser.add_argument(
        '--quick',
        action='store_true',
        help='temperature 1 without a detached teacher only',
    )
    parser.add_argument('--out', default=None, help='JSON of every case')
    args = parser.parse_args()
    device = torch.device(args.device)
    half = torch.float16 if device.type == 'cuda' else torch.bfloat16
    print(f'device: {device_label(device)}')
    kernels = [('torch', 19)]
    if device.type == 'cuda' or INTERPRET:
        kernels.append(('triton', 150))
    print(
        '| kernel | path | C | dtype | N | selection | T | detach | CE '
        '| terms | grad | ok |'
    )
    print('| --- ' * 12 + '|')
    failed = 0
    cases = []
    temps = (1.0,) if args.quick else (1.0, 2.0)
    detaches = (0,) if args.quick else (0, 1)
    for (
        kernel,
        classes,
    ), dtype, n, selection, temp, detach in itertools.product(
        kernels,
        (torch.float32, half),
        args.members,
        args.selection,
        temps,
        detaches,
    ):
        path, diff = run_case(
            device, dtype, n, selection, temp, detach, kernel, classes
        )
        ok = max(diff.values()) <= TOLERANCE[dtype]
        failed += not ok
        cases.append(
            dict(
                kernel=kernel,
                path=path,
                classes=classes,
                dtype=str(dtype)[6:],
                members=n,
                selection=selection,
                temperature=temp,
                detach=bool(detach),
                max_diff=diff,
                ok=ok,
            )
        )
        print(
            f'| {kernel} | {path} | {classes} | {str(dtype)[6:]} | {n} '
            f'| {selection} | {temp:g} | {bool(detach)} '
            f'| {diff["ce"]:.1e} | {diff["terms"]:.1e} '
            f'| {diff["grad"]:.1e} | {"yes" if ok else "NO"} |',
            flush=True,
        )
    print(f'{failed} case(s) beyond tolerance')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(device=str(device), failed=failed, cases=cases),
                f,
                indent=2,
            )
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
