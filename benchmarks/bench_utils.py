"""Timing and memory helpers shared by the benchmarks."""

import contextlib
import subprocess
import sys
import time

import torch


def clock(device: torch.device) -> float:
    """Seconds: wall clock on CUDA; on CPU the process's CPU time, which
    other jobs on shared cores disturb much less than the wall clock."""
    if device.type == 'cpu':
        return time.process_time()
    return time.perf_counter()


def device_label(device: torch.device) -> str:
    """``cpu`` or ``cuda (<card name>)``."""
    if device.type == 'cuda':
        return f'{device} ({torch.cuda.get_device_name(device)})'
    return str(device)


def proc_status_gib(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak) of this process, in GiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 2**20
    raise RuntimeError(f'{field} not in /proc/self/status')


def reset_peak_rss() -> float:
    """Reset this process's peak resident size to the current one (Linux
    >= 4.0) and return the current one, in GiB."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return proc_status_gib('VmRSS')


def peak_in_fresh_process(script: str, argv: list) -> float:
    """Run ``script argv`` in a fresh Python process and read the number it
    prints last (a peak measured there, in GiB)."""
    out = subprocess.run(
        [sys.executable, script, *argv],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.split()[-1])


@contextlib.contextmanager
def measured(device: torch.device):
    """Time the block (see :func:`clock`) and, on CUDA, its peak memory
    above what was allocated when it started. Yields a dict that gets
    ``ms`` and ``peak_gib`` (None on CPU) when the block ends."""
    result = dict(ms=None, peak_gib=None)
    cuda = device.type == 'cuda'
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    start = clock(device)
    yield result
    if cuda:
        torch.cuda.synchronize()
    result['ms'] = (clock(device) - start) * 1e3
    if cuda:
        result['peak_gib'] = (torch.cuda.max_memory_allocated() - base) / 2**30


def add_kd_kernels_argument(parser) -> None:
    """``--kd-kernels``: the ``kd_kernel`` values of the KD variants."""
    parser.add_argument(
        '--kd-kernels',
        nargs='+',
        choices=['torch', 'triton'],
        default=['torch'],
        help="kd_kernel of the KD variants ('triton': CUDA, or CPU in "
        "Triton's interpreter with TRITON_INTERPRET=1)",
    )


def add_stock_accuracy_argument(parser) -> None:
    """``--stock-accuracy``: pairs log ``acc_seg`` with mmseg's accuracy
    (``BiKDSegmentor(sync_free_accuracy=False)``)."""
    parser.add_argument(
        '--stock-accuracy',
        action='store_true',
        help="pairs log acc_seg with mmseg's accuracy (topk, host "
        'synchronisation) instead of the sync-free one '
        '(BiKDSegmentor(sync_free_accuracy=False))',
    )
