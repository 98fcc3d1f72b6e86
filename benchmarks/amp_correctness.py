"""Mixed precision against float32: a Bi-KD model trained some steps with
fp16 AMP and with bf16 follows the float32 loss curve.

Builds the model of a Bi-KD config (random weights, see ``pair_step.py``)
three times from one initial state and trains each copy ``--steps`` steps
(AdamW, ``--lr``) on the same batch through the pair's own training step
(``run_train_step``: one backward, every member's optimizer): with
``OptimWrapper`` (fp32), ``AmpOptimWrapper`` (fp16 autocast, the dynamic
GradScaler of the first member scales the one backward pass for all) and
``AmpOptimWrapper(dtype='bfloat16')``. Reports the loss curves, the
largest relative difference to fp32 per precision, and for the scaler
(growing after 10 clean steps in a run of 50): its scale at the end (it
must have been updated: grown or backed off), that no other member's
scaler was used, and that every optimizer was
unscaled exactly once per step. Exits non-zero if a check fails.

On CPU only fp32 and bf16 run (the AMP wrappers get a CPU GradScaler).

Usage::

    python benchmarks/amp_correctness.py --device cuda \\
        --config configs/bikd/seg_pair_r50_swin.py --size 256
"""

import argparse
import collections
import copy
import json
import os
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import device_label  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.model import revert_sync_batchnorm  # noqa: E402
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict  # noqa: E402
from pair_step import (  # noqa: E402
    TASKS,
    cls_batch,
    model_config,
    registry,
    sal_batch,
    seg_batch,
    wrapper,
)

from bikd_mm.engine.optimizers.member_step import run_train_step  # noqa: E402

#: Largest relative difference of a step's loss to fp32.
TOLERANCE = {'fp16': 0.05, 'bf16': 0.1}
#: The dynamic GradScaler's first scale; it grows after
#: :func:`growth_interval` steps without an overflow (the default 2000) so
#: that its update shows within the run.
INIT_SCALE = 2.0**16


def growth_interval(steps: int) -> int:
    """10 for runs of 50 steps, fewer for shorter runs (5 growths)."""
    return max(1, min(10, steps // 5))


def train(model, precision, data, steps, lr, device) -> dict:
    scale = dict(init_scale=INIT_SCALE, growth_interval=growth_interval(steps))
    optim = OptimWrapperDict(
        **{
            n: wrapper(m.parameters(), precision, device, scale)
            for n, m in model.members.items()
        }
    )
    for w in optim.values():
        for group in w.optimizer.param_groups:
            group['lr'] = lr
    unscales = collections.Counter()
    scalers = [
        w.loss_scaler for w in optim.values() if isinstance(w, AmpOptimWrapper)
    ]
    for scaler in scalers:
        real = scaler.unscale_

        def counted(optimizer, real=real, scaler=scaler):
            unscales[(id(scaler), id(optimizer))] += 1
            return real(optimizer)

        scaler.unscale_ = counted
    losses, scales = [], []
    for _ in range(steps):
        log_vars = run_train_step(model, model, copy.deepcopy(data), optim)
        losses.append(float(log_vars['loss'].detach()))
        if scalers:
            scales.append(float(scalers[0].get_scale()))
    out = dict(losses=losses, scales=scales)
    if scalers:
        lead = scalers[0]
        out['unscaled_by_lead_per_step'] = sorted(
            {
                count / steps
                for (s, _), count in unscales.items()
                if s == id(lead)
            }
        )
        out['unscales_by_other_scalers'] = sum(
            c for (s, _), c in unscales.items() if s != id(lead)
        )
        out['optimizers_unscaled'] = len(
            {o for (s, o), _ in unscales.items() if s == id(lead)}
        )
        out['other_scales'] = [float(s.get_scale()) for s in scalers[1:]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', required=True)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--precision', nargs='+', default=['fp32', 'fp16', 'bf16']
    )
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    task = TASKS[Config.fromfile(args.config).model['type']]
    cfg = model_config(args.config, args.size, task, {})
    torch.manual_seed(0)
    first = revert_sync_batchnorm(registry(task).build(cfg))
    state = copy.deepcopy(first.state_dict())
    classes = getattr(first, 'num_classes', None)
    if task == 'seg':
        data = seg_batch(args.batch, args.size, classes, device)
    elif task == 'cls':
        data = cls_batch(args.batch, args.size, classes, device)
    else:
        data = sal_batch(args.batch, args.size, args.frames, device)
    precisions = ['fp32'] + [p for p in args.precision if p != 'fp32']
    if device.type == 'cpu' and 'fp16' in precisions:
        precisions.remove('fp16')
        print('fp16: not run on CPU (mmengine autocast takes bfloat16 only)')
    curves = {}
    for precision in precisions:
        model = first if precision == 'fp32' else copy.deepcopy(first)
        model.load_state_dict(state)
        model = model.to(device).train()
        curves[precision] = train(
            model, precision, data, args.steps, args.lr, device
        )
        del model
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    print(
        f'device: {device_label(device)}; {osp.basename(args.config)}, '
        f'batch {args.batch}, size {args.size}, {args.steps} steps of '
        f'AdamW lr {args.lr:g} on one batch'
    )
    ref = torch.tensor(curves['fp32']['losses'])
    marks = sorted({0, *range(9, args.steps, 10), args.steps - 1})
    print('| precision | ' + ' | '.join(f'loss {i + 1}' for i in marks) + ' |')
    print('| --- ' * (len(marks) + 1) + '|')
    failed = []
    summary = {}
    for precision, curve in curves.items():
        losses = torch.tensor(curve['losses'])
        cells = ' | '.join(f'{losses[i]:.4f}' for i in marks)
        print(f'| {precision} | {cells} |')
        if precision == 'fp32':
            continue
        rel = float(((losses - ref).abs() / ref.abs().clamp_min(1e-12)).max())
        ok = bool(torch.isfinite(losses).all()) and rel <= TOLERANCE[precision]
        scales = curve['scales']
        checks = dict(
            max_rel_diff=float(rel),
            loss_ok=ok,
            scale_start=scales[0],
            scale_end=scales[-1],
            scale_updated=scales[-1] != INIT_SCALE,
            unscaled_once=curve['unscaled_by_lead_per_step'] == [1.0],
            other_scalers_unused=curve['unscales_by_other_scalers'] == 0,
            optimizers_unscaled=curve['optimizers_unscaled'],
        )
        summary[precision] = checks
        if not (
            ok
            and checks['unscaled_once']
            and checks['other_scalers_unused']
            and checks['scale_updated']
        ):
            failed.append(precision)
    print()
    print(
        '| precision | max rel. diff to fp32 | tolerance | scale first '
        '-> last step | each optimizer unscaled once per step '
        '| other scalers unused | ok |'
    )
    print('| --- ' * 7 + '|')
    for precision, c in summary.items():
        print(
            f'| {precision} | {c["max_rel_diff"]:.2e} '
            f'| {TOLERANCE[precision]:g} '
            f'| {c["scale_start"]:g} -> {c["scale_end"]:g} '
            f'| {c["unscaled_once"]} ({c["optimizers_unscaled"]} '
            f'optimizers) | {c["other_scalers_unused"]} '
            f'| {"yes" if precision not in failed else "NO"} |'
        )
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    device=str(device),
                    argv=sys.argv,
                    curves=curves,
                    summary=summary,
                    failed=failed,
                ),
                f,
                indent=2,
            )
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
