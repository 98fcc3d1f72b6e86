"""Members trained alone from their own configs, cached machine-wide.

These checkpoints play the role of pretrained models in the CPU demos and
in the transfer comparison. They are cached under ``~/.cache/bikd_mm/demo``
(or ``$BIKD_CACHE/demo``) under a hash of the member config and the number
of iterations, so later runs and other clones reuse them.
"""

import hashlib
import logging
import multiprocessing
import os
import os.path as osp
import time
from concurrent.futures import ProcessPoolExecutor

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from bikd_mm.patches import run_patches
from bikd_mm.utils.checkpoint import (
    extract_state_dict,
    load_checkpoint_file,
    save_atomic,
)
from bikd_mm.utils.io import copy_atomic

# Log lines of the pinned stack that every run prints and no user can act
# on (mmengine's own CheckpointHook uses the file client it deprecates).
KNOWN_LOG_LINES = (
    '"FileClient" will be deprecated',
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


class KnownLogLines(logging.Filter):
    """Drops :data:`KNOWN_LOG_LINES` from a logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not any(text.startswith(line) for line in KNOWN_LOG_LINES)


def quiet(cfg: Config) -> Config:
    """Log warnings only, and no training log lines.

    The run also keeps the process' multiprocessing start method (spawned
    workers of :func:`pretrain_members`), instead of the ``fork`` that
    stock runtimes set with a warning; the demo's loaders use no worker
    processes.
    """
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger.interval = 10**6
    current = multiprocessing.get_start_method(allow_none=True)
    if current is not None:
        env_cfg = dict(cfg.get('env_cfg') or {})
        env_cfg['mp_cfg'] = dict(
            env_cfg.get('mp_cfg') or {}, mp_start_method=current
        )
        cfg.env_cfg = env_cfg
    return cfg


def quiet_runner(runner):
    """Drop the pinned stack's :data:`KNOWN_LOG_LINES` from its log."""
    runner.logger.addFilter(KnownLogLines())
    return runner


def demo_cache() -> str:
    """Machine-wide cache of pre-trained demo members (shared by clones)."""
    return osp.join(
        os.environ.get('BIKD_CACHE', osp.expanduser('~/.cache/bikd_mm')),
        'demo',
    )


def pretrained_path(member: dict, task: str, iters: int) -> str:
    """Where a member's pre-trained weights live, keyed by its config.

    Args:
        member (dict): Member description with ``name`` and ``config``.
        task (str): Folder of the cache (``'seg'``, ``'cls'``).
        iters (int): Pre-training iterations.

    Returns:
        str: ``<cache>/<task>/<name>-<hash>.pth``.
    """
    cfg = Config.fromfile(member['config'])
    digest = hashlib.sha256(
        (cfg.pretty_text + str(iters)).encode()
    ).hexdigest()[:12]
    return osp.join(demo_cache(), task, f'{member["name"]}-{digest}.pth')


def pretrain_member(
    member: dict, work_dir: str, iters: int, out: str, threads: int | None
) -> str:
    """Train one member alone from its config; save its weights to out.

    Args:
        member (dict): Member description with ``name`` and ``config``.
        work_dir (str): Parent of the run's work directory.
        iters (int): Training iterations (also the end of the first
            parameter scheduler).
        out (str): Checkpoint to write (atomically).
        threads (int, optional): CPU threads of torch.

    Returns:
        str: ``out``.
    """
    if threads:
        torch.set_num_threads(threads)
    cfg = Config.fromfile(member['config'])
    cfg.work_dir = osp.join(work_dir, f'{member["name"]}_alone')
    cfg.train_cfg.max_iters = iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    # The pair evaluates its members; nothing to validate here.
    cfg.train_cfg.pop('val_interval', None)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.pop('save_best', None)
    # A visualizer of its own (stock runtimes may fix a global name).
    cfg.visualizer.name = f'{cfg.work_dir}@{time.time_ns()}'
    with run_patches():
        runner = quiet_runner(Runner.from_cfg(quiet(cfg)))
        runner.train()
    last = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    state = extract_state_dict(load_checkpoint_file(last))
    save_atomic(dict(state_dict=state, meta=dict(iter=iters)), out)
    return out


def pretrain_members(
    members: list,
    task: str,
    work_dir: str,
    iters: int,
    threads: int | None,
    log=print,
    workers: int | None = None,
    publish_dir: str | None = None,
) -> None:
    """Point each member's ``checkpoint`` at its cached pre-trained weights,
    pre-training (in parallel) the members that have none yet.

    Each member trains in its own spawned process (one per core), so the
    members of a pair pre-train side by side.

    With ``publish_dir``, each member's weights are also copied (atomically)
    to ``<publish_dir>/<name>.pth``: the fixed names that the demo pair
    configs give as member checkpoints, so those configs train with
    ``tools/train.py`` as they are.

    Args:
        members (list[dict]): Member descriptions; their ``checkpoint`` is
            set in place.
        task (str): Folder of the cache (``'seg'``, ``'cls'``).
        work_dir (str): Where the pre-training runs write their logs.
        iters (int): Pre-training iterations.
        threads (int, optional): CPU threads of torch per process.
        log (callable): Progress printer. Defaults to ``print``.
        workers (int, optional): Processes; 0 trains in this process, one
            member after the other. Defaults to one per member, at most one
            per core.
        publish_dir (str, optional): Where to copy each member's weights
            under its name.
    """
    todo = []
    for member in members:
        member['checkpoint'] = pretrained_path(member, task, iters)
        if osp.isfile(member['checkpoint']):
            log(f'reusing pretrained {member["name"]}: {member["checkpoint"]}')
        else:
            todo.append(member)
    if todo:
        _pretrain(todo, work_dir, iters, threads, log, workers)
    if publish_dir is not None:
        for member in members:
            out = osp.join(publish_dir, f'{member["name"]}.pth')
            copy_atomic(member['checkpoint'], out)
            log(f'{member["name"]} weights for the demo configs: {out}')


def _pretrain(
    todo: list,
    work_dir: str,
    iters: int,
    threads: int | None,
    log,
    workers: int | None,
) -> None:
    log(
        'pre-training '
        + ', '.join(m['name'] for m in todo)
        + f' alone for {iters} iterations'
        + (' ...' if workers == 0 else ' (in parallel) ...')
    )
    if workers == 0:
        for m in todo:
            pretrain_member(dict(m), work_dir, iters, m['checkpoint'], threads)
        return
    workers = max(1, min(len(todo), workers or os.cpu_count() or 1))
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        jobs = [
            pool.submit(
                pretrain_member,
                dict(m),
                work_dir,
                iters,
                m['checkpoint'],
                threads,
            )
            for m in todo
        ]
        for job in jobs:
            job.result()
