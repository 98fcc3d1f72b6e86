"""Timing and memory helpers shared by the benchmarks."""

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
