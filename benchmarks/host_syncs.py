"""Where a training step waits for the GPU (host synchronisations).

Builds each member alone and the pair (task losses only, KD on logits, KD
at label resolution, per ``--kd-kernels``) as ``step_overhead.py`` does
(its ``variant_builders``),
runs two warm-up steps, then one step under
``torch.cuda.set_sync_debug_mode('warn')`` and counts the synchronising
calls, each with the first frame of the call stack inside mmseg, mmengine,
mmpretrain or bikd_mm. A synchronisation stops the host from queueing work
ahead of the GPU. CUDA only.

Usage::

    python benchmarks/host_syncs.py --configs A.py B.py --size 512
"""

import argparse
import collections
import json
import os
import os.path as osp
import sys
import traceback
import warnings

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import add_kd_kernels_argument  # noqa: E402
from step_overhead import (  # noqa: E402
    DEMO,
    fake_batch,
    member_dicts,
    train_step,
    variant_builders,
)

from bikd_mm.models.member import parse_members  # noqa: E402

PACKAGES = ('/mmseg/', '/mmengine/', '/mmpretrain/', '/bikd_mm/')


def where_synced() -> str:
    """The innermost frame of the current stack inside the packages."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        for package in PACKAGES:
            if package in frame.filename:
                path = frame.filename.split(package, 1)[1]
                return (
                    f'{package.strip("/")}/{path}:{frame.lineno} '
                    f'({frame.name})'
                )
    return '?'


def count_syncs(step) -> collections.Counter:
    places = collections.Counter()

    def record(message, category, *args, **kwargs):
        if 'synchroniz' in str(message):
            places[where_synced()] += 1

    torch.cuda.synchronize()
    with warnings.catch_warnings():
        warnings.simplefilter('always')
        previous = warnings.showwarning
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode('warn')
        try:
            step()
            torch.cuda.synchronize()
        finally:
            torch.cuda.set_sync_debug_mode('default')
            warnings.showwarning = previous
    return places


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs=2, default=DEMO)
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=64)
    add_kd_kernels_argument(parser)
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type != 'cuda' or not torch.cuda.is_available():
        sys.exit('host_syncs.py needs a CUDA device (--device cuda)')
    members = member_dicts(args.configs, args.size)
    specs = parse_members(members)
    classes = specs[0].model.decode_head.num_classes
    data = fake_batch(args.batch, args.size, classes, device)
    results = {}
    for label, build in variant_builders(members, specs, args.kd_kernels):
        step = train_step(build(), data, device)
        for _ in range(2):
            step()
        places = count_syncs(step)
        results[label] = dict(places)
        print(
            f'{label}: {sum(places.values())} synchronisation(s)',
            flush=True,
        )
        for place, count in places.most_common():
            print(f'    {count} x {place}', flush=True)
        del step
        torch.cuda.empty_cache()
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(argv=sys.argv, results=results), f, indent=2)


if __name__ == '__main__':
    main()
