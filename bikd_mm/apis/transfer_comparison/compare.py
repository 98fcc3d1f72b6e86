"""Run every regime for every seed of one pair config."""

import copy
import multiprocessing
import os.path as osp
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from mmengine.config import Config

from bikd_mm.apis.pretrain import pretrain_members
from bikd_mm.apis.pretrain import pretrain_seeds as pretrain_seeds_alone
from bikd_mm.models.member import member_list

from .regimes import TASKS, regime_options
from .report import (
    _run_line,
    paired_differences,
    summarise,
    write_outputs,
)
from .runs import evaluate, run_config, run_regime


def compare_transfer(
    task: str,
    pair_config: str,
    out_prefix: str,
    work_dir: str,
    iters: int,
    val_interval: int,
    seeds: list,
    pretrain_iters: int,
    workers: int = 2,
    threads: int | None = 1,
    regimes: tuple | None = None,
    cfg_options: dict | None = None,
    command: str = '',
    log=print,
    pretrain_seeds: list | None = None,
    record_dir: str | None = None,
) -> dict:
    """Run every regime for every seed and write JSON, Markdown and PNGs.

    Args:
        task (str): ``'seg'`` or ``'cls'``.
        pair_config (str): The pair config (its members are pre-trained
            alone first, see :func:`bikd_mm.apis.pretrain_members`).
        out_prefix (str): Outputs go to ``<out_prefix>.json``, ``.md``,
            ``_metric.png`` and ``_teach_share.png``.
        work_dir (str): Parent of the runs' work directories.
        iters (int): Fine-tuning iterations of every run.
        val_interval (int): Iterations between evaluations.
        seeds (list[int]): Seeds; each regime runs once per seed.
        pretrain_iters (int): Pre-training iterations of each member.
        workers (int): Runs in parallel (spawned processes); 0 runs them
            in this process. Defaults to 2.
        threads (int, optional): Torch threads per run. Defaults to 1.
        regimes (tuple, optional): A subset of the task's regimes.
        cfg_options (dict, optional): Overrides merged into the pair
            config (as ``--cfg-options`` of the tools).
        command (str): The command line, recorded in the outputs.
        log (callable): Progress printer. Defaults to ``print``.
        pretrain_seeds (list[int], optional): Pre-train every member once
            per seed (:func:`bikd_mm.apis.pretrain_seeds`, the members'
            own schedules unless ``pretrain_iters`` is given) and run every
            regime and seed from each; runs then pair up by pre-training
            and fine-tuning seed (``paired`` in the result). Defaults to
            None: one pre-training per member.
        record_dir (str, optional): Keep every finished run's record (and
            every start's evaluation) as ``<record_dir>/<run>.json``
            instead of ``record.json`` in the run's folder: a folder of
            small files to commit, so that a comparison spread over
            several machines resumes where it stopped. Defaults to None.

    Returns:
        dict: The result that is written as JSON.
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {sorted(TASKS)}, got {task!r}')
    if iters < 1 or val_interval < 1 or val_interval > iters:
        raise ValueError(
            f'need 1 <= val_interval <= iters, got iters={iters}, '
            f'val_interval={val_interval}'
        )
    if not seeds:
        raise ValueError('give at least one seed')
    spec = TASKS[task]
    regimes = tuple(regimes or spec['regimes'])
    pair_cfg = Config.fromfile(pair_config)
    if cfg_options:
        pair_cfg.merge_from_dict(cfg_options)
    members = member_list(pair_cfg.model.members)
    names = [m['name'] for m in members]
    if pretrain_seeds:
        by_seed = pretrain_seeds_alone(
            members,
            spec['pretrain_task'],
            pretrain_seeds,
            osp.join(work_dir, 'pretrain'),
            threads=threads,
            workers=workers,
            log=log,
            iters=pretrain_iters,
        )
        starts = [(ps, by_seed[ps]) for ps in pretrain_seeds]
    else:
        pretrain_members(
            members,
            spec['pretrain_task'],
            osp.join(work_dir, 'pretrain'),
            pretrain_iters,
            threads,
            log=log,
            workers=workers,
        )
        starts = [(None, {m['name']: m['checkpoint'] for m in members})]
    metric = spec['metric']

    jobs, start_by_seed, teachers, evaluated = [], {}, {}, {}
    for ps, checkpoints in starts:
        cfg = copy.deepcopy(pair_cfg)
        cfg.model.members = [
            dict(m, checkpoint=checkpoints[m['name']]) for m in members
        ]
        tag = '' if ps is None else f'_pretrain{ps}'
        log(f'evaluating the pretrained members{tag} ...')
        before = evaluate(
            cfg, osp.join(work_dir, f'start{tag}'), threads, record_dir
        )
        start_n = {n: before[f'{n}/{metric}'] for n in names}
        teacher = max(names, key=lambda n: start_n[n])
        start_by_seed[ps], teachers[ps], evaluated[ps] = (
            start_n,
            teacher,
            before,
        )
        log(
            'start: '
            + ', '.join(f'{n} {start_n[n]:.2f}' for n in names)
            + f'; one-way teacher: {teacher}'
        )
        jobs += [
            (cfg, task, regime, teacher, seed, iters, val_interval)
            + (work_dir, threads, ps, record_dir)
            for seed in seeds
            for regime in regimes
        ]
    log(
        f'{len(jobs)} runs of {iters} iterations '
        f'({len(regimes)} regimes x {len(seeds)} seeds x {len(starts)} '
        f'pretrained starts, {workers} at a time) ...'
    )
    begin = time.time()
    runs = []
    if workers:
        context = multiprocessing.get_context('spawn')
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(run_regime, *job) for job in jobs]
            for future in futures:
                runs.append(future.result())
                log(_run_line(runs[-1], names))
    else:
        for job in jobs:
            runs.append(run_regime(*job))
            log(_run_line(runs[-1], names))

    first = starts[0][0]
    start = {
        n: statistics.fmean(s[n] for s in start_by_seed.values())
        for n in names
    }
    teacher = teachers[first]
    members = [dict(m, checkpoint=starts[0][1][m['name']]) for m in members]
    result = dict(
        task=task,
        pair_config=osp.relpath(pair_config),
        command=command,
        metric=metric,
        members=names,
        checkpoints={m['name']: m['checkpoint'] for m in members},
        pretrain_iters=pretrain_iters,
        pretrain_seeds=list(pretrain_seeds or []),
        start_by_pretrain_seed=(
            {str(k): v for k, v in start_by_seed.items()}
            if pretrain_seeds
            else None
        ),
        checkpoints_by_pretrain_seed=(
            {str(ps): dict(ckpts) for ps, ckpts in starts}
            if pretrain_seeds
            else None
        ),
        one_way_teachers=(
            {str(k): v for k, v in teachers.items()}
            if pretrain_seeds
            else None
        ),
        iters=iters,
        val_interval=val_interval,
        seeds=list(seeds),
        regimes=list(regimes),
        regime_options={r: regime_options(r, task, teacher) for r in regimes},
        one_way_teacher=teacher,
        optim_wrapper=pair_cfg.optim_wrapper.to_dict(),
        param_scheduler=[
            dict(s)
            for s in run_config(
                pair_cfg, work_dir, iters, val_interval, 0
            ).param_scheduler
        ],
        start=start,
        start_all=evaluated[first],
        wall_seconds=round(time.time() - begin, 1),
        runs=runs,
        summary=summarise(runs, names, regimes),
        paired=paired_differences(runs, names, regimes),
        paired_vs_dml=paired_differences(runs, names, regimes, 'dml'),
    )
    write_outputs(result, out_prefix)
    return result
