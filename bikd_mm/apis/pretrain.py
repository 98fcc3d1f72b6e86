"""Members trained alone from their own configs, cached machine-wide.

These checkpoints play the role of pretrained models in the CPU demos and
in the transfer comparison. They are cached under ``~/.cache/bikd_mm/demo``
(or ``$BIKD_CACHE/demo``) under a hash of the member config and the number
of iterations, so later runs and other clones reuse them.
"""

import hashlib
import json
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
from bikd_mm.utils.checksums import (
    read_sha256sums,
    sha256_file,
    verify_sha256sums,
    write_sha256sums,
)
from bikd_mm.utils.device import device_name
from bikd_mm.utils.io import copy_atomic, dump_json_atomic

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


def pretrained_path(
    member: dict, task: str, iters: int | None, seed: int | None = None
) -> str:
    """Where a member's pre-trained weights live, keyed by its config.

    Args:
        member (dict): Member description with ``name`` and ``config``.
        task (str): Folder of the cache (``'seg'``, ``'cls'``).
        iters (int, optional): Pre-training iterations; None for the
            config's own schedule.
        seed (int, optional): Seed of the run; None for the config's.

    Returns:
        str: ``<cache>/<task>/<name>-<hash>.pth`` (``<name>-seed<seed>-``
        with a seed).
    """
    cfg = Config.fromfile(member['config'])
    key = cfg.pretty_text + str(iters if iters is not None else 'config')
    if seed is not None:
        key += f'seed={seed}'
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    stem = member['name'] if seed is None else f'{member["name"]}-seed{seed}'
    return osp.join(demo_cache(), task, f'{stem}-{digest}.pth')


def pretrain_member(
    member: dict,
    work_dir: str,
    iters: int | None,
    out: str,
    threads: int | None,
    seed: int | None = None,
    validate: bool = False,
) -> str:
    """Train one member alone from its config; save its weights to out.

    Args:
        member (dict): Member description with ``name`` and ``config``.
        work_dir (str): Parent of the run's work directory.
        iters (int, optional): Training iterations (also the end of the
            first parameter scheduler); None keeps the config's schedule.
        out (str): Checkpoint to write (atomically).
        threads (int, optional): CPU threads of torch.
        seed (int, optional): Seed of the run (``randomness.seed``); None
            keeps the config's.
        validate (bool): Whether to keep the config's validation. Its
            curve is then stored in the checkpoint's ``meta['val_curve']``
            and beside it as ``<out without .pth>.json``. Defaults to
            False.

    Returns:
        str: ``out``.
    """
    if threads:
        torch.set_num_threads(threads)
    cfg = Config.fromfile(member['config'])
    run = f'{member["name"]}_alone' + ('' if seed is None else f'_seed{seed}')
    cfg.work_dir = osp.join(work_dir, run)
    if iters is None:
        iters = cfg.train_cfg.max_iters
    else:
        cfg.train_cfg.max_iters = iters
        cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    if not validate:
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
    meta = dict(iter=iters, seed=seed, device=device_name())
    if validate:
        meta['val_curve'] = val_curve(
            osp.join(runner.log_dir, 'vis_data', 'scalars.json')
        )
        dump_json_atomic(
            dict(member=member['name'], config=member['config'], **meta),
            osp.splitext(out)[0] + '.json',
        )
    save_atomic(dict(state_dict=state, meta=meta), out)
    return out


def val_curve(scalars: str) -> dict:
    """Every validation metric of a run: ``{key: [[iteration, value]]}``.

    Args:
        scalars (str): The run's ``vis_data/scalars.json``.
    """
    curves = {}
    with open(scalars) as f:
        for line in f:
            record = json.loads(line)
            if 'lr' in record or 'loss' in record:
                continue
            for key, value in record.items():
                if key not in ('step', 'iter', 'epoch', 'time', 'data_time'):
                    curves.setdefault(key, []).append([record['step'], value])
    return curves


def pretrain_members(
    members: list,
    task: str,
    work_dir: str,
    iters: int,
    threads: int | None,
    log=print,
    workers: int | None = None,
    publish_dir: str | None = None,
    seed: int | None = None,
    validate: bool = False,
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
        seed (int, optional): Seed of every run (a cache entry of its
            own); None keeps each config's.
        validate (bool): Keep each config's validation and store its
            curve (see :func:`pretrain_member`). Defaults to False.
    """
    todo = []
    for member in members:
        member['checkpoint'] = pretrained_path(member, task, iters, seed)
        if osp.isfile(member['checkpoint']):
            log(f'reusing pretrained {member["name"]}: {member["checkpoint"]}')
        else:
            todo.append(member)
    if todo:
        _pretrain(todo, work_dir, iters, threads, log, workers, seed, validate)
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
    seed: int | None = None,
    validate: bool = False,
) -> None:
    log(
        'pre-training '
        + ', '.join(m['name'] for m in todo)
        + ' alone for '
        + (f'{iters} iterations' if iters else 'their schedules')
        + ('' if seed is None else f', seed {seed}')
        + (' ...' if workers == 0 else ' (in parallel) ...')
    )
    if workers == 0:
        for m in todo:
            pretrain_member(
                dict(m),
                work_dir,
                iters,
                m['checkpoint'],
                threads,
                seed,
                validate,
            )
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
                seed,
                validate,
            )
            for m in todo
        ]
        for job in jobs:
            job.result()


def pretrain_seeds(
    members: list,
    task: str,
    seeds: list,
    work_dir: str,
    threads: int | None = 1,
    workers: int | None = None,
    log=print,
    iters: int | None = None,
) -> dict:
    """Every member trained alone once per seed, with its validation.

    Runs the members' own schedules (``iters=None``), cached per seed like
    :func:`pretrain_members`; all (member, seed) runs share one pool of
    processes.

    Args:
        members (list[dict]): Member descriptions (``name``, ``config``).
        task (str): Folder of the cache (``'seg'``, ``'cls'``).
        seeds (list[int]): Seeds of the pre-trainings.
        work_dir (str): Where the runs write their logs.
        threads (int, optional): Torch threads per process. Defaults to 1.
        workers (int, optional): Processes; 0 runs in this process.
            Defaults to one per core.
        log (callable): Progress printer.
        iters (int, optional): Iterations of every run instead of the
            configs' schedules (see :func:`pretrain_member`).

    Returns:
        dict: ``{seed: {name: checkpoint}}``.
    """
    jobs, paths = [], {}
    for seed in seeds:
        for member in members:
            out = pretrained_path(member, task, iters, seed)
            paths.setdefault(seed, {})[member['name']] = out
            if osp.isfile(out):
                log(f'reusing pretrained {member["name"]} seed {seed}: {out}')
            else:
                jobs.append(
                    (dict(member), work_dir, iters, out, threads, seed)
                )
    if jobs:
        log(
            f'pre-training {len(jobs)} runs alone: '
            + ', '.join(f'{j[0]["name"]} seed {j[5]}' for j in jobs)
        )
    if workers == 0:
        for job in jobs:
            pretrain_member(*job, validate=True)
            log(f'done: {job[3]}')
    elif jobs:
        workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
        context = multiprocessing.get_context('spawn')
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(pretrain_member, *job, validate=True)
                for job in jobs
            ]
            for job, future in zip(jobs, futures):
                future.result()
                log(f'done: {job[0]["name"]} seed {job[5]}: {job[3]}')
    return paths


def reuse_pretrained(
    members: list,
    task: str,
    seeds: list,
    folder: str,
    iters: int | None = None,
    log=print,
) -> list:
    """Put pre-trainings kept in ``folder`` into the cache.

    A pre-training repeated on another machine need not give the same
    weights, so runs that must start from the same checkpoints (a
    comparison resumed in a new checkout) reuse the kept files instead.
    ``<folder>/<name>-seed<seed>.pth`` is checked against
    ``<folder>/SHA256SUMS`` and copied (atomically) to
    :func:`pretrained_path` where the cache lacks it; (member, seed) pairs
    with no file in ``folder`` are left to train.

    Args:
        members (list[dict]): Member descriptions (``name``, ``config``).
        task (str): Folder of the cache (``'seg'``, ``'cls'``).
        seeds (list[int]): Seeds of the pre-trainings.
        folder (str): The kept files and their ``SHA256SUMS``.
        iters (int, optional): As :func:`pretrain_seeds`.
        log (callable): Progress printer.

    Returns:
        list[str]: The cache paths that were filled.

    A ``folder`` that holds no kept file (or does not exist yet) fills
    nothing.

    Raises:
        FileNotFoundError: A kept file is to be copied and ``folder`` has
            no ``SHA256SUMS``.
        ValueError: A kept file is not listed there or does not match its
            checksum (the error names the file).
    """
    sums = osp.join(folder, 'SHA256SUMS')
    filled = []
    for seed in seeds:
        for member in members:
            name = f'{member["name"]}-seed{seed}.pth'
            if not osp.isfile(osp.join(folder, name)):
                continue
            out = pretrained_path(member, task, iters, seed)
            if osp.isfile(out):
                continue
            if not osp.isfile(sums):
                raise FileNotFoundError(
                    f'{sums} is missing: the kept pre-trainings need their '
                    'checksums (sha256sum *.pth > SHA256SUMS)'
                )
            (src,) = verify_sha256sums(sums, [name]).values()
            copy_atomic(src, out)
            log(f'reusing kept pre-training {src} as {out}')
            filled.append(out)
    return filled


def keep_pretrained(paths: dict, folder: str, log=print) -> list:
    """Write pre-trainings into ``folder`` for :func:`reuse_pretrained`.

    Each ``paths[seed][name]`` becomes ``<folder>/<name>-seed<seed>.pth``
    where that file is absent (a kept file is never replaced), and its
    checksum is added to ``<folder>/SHA256SUMS``; both are written
    atomically.

    Args:
        paths (dict): ``{seed: {name: checkpoint}}``, as
            :func:`pretrain_seeds` returns.
        folder (str): Where the files are kept.
        log (callable): Progress printer.

    Returns:
        list[str]: The files written.
    """
    sums_path = osp.join(folder, 'SHA256SUMS')
    sums = read_sha256sums(sums_path) if osp.isfile(sums_path) else {}
    written = []
    for seed, members in paths.items():
        for name, path in members.items():
            kept = f'{name}-seed{seed}.pth'
            out = osp.join(folder, kept)
            if osp.lexists(out):
                continue
            copy_atomic(path, out)
            sums[kept] = sha256_file(out)
            log(f'kept {path} as {out}')
            written.append(out)
    if written:
        write_sha256sums(sums, sums_path)
    return written


def plateau(curve: list, tail: float = 0.2) -> dict:
    """How flat a validation curve is over the last ``tail`` of its run.

    Args:
        curve (list): ``[[iteration, value], ...]`` in order.
        tail (float): Share of the last iteration that counts as the end.

    Returns:
        dict: ``final`` (last value), ``tail_from`` (first iteration of the
        tail), ``tail_range`` (max - min over the points in the tail, the
        point just before it included) and ``tail_points``.
    """
    if not curve:
        raise ValueError('empty validation curve')
    last = curve[-1][0]
    start = last * (1 - tail)
    first = max(
        (i for i, (step, _) in enumerate(curve) if step <= start), default=0
    )
    values = [v for _, v in curve[first:]]
    return dict(
        final=curve[-1][1],
        tail_from=curve[first][0],
        tail_range=max(values) - min(values),
        tail_points=len(values),
    )
