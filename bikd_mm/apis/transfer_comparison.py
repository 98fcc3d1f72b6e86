"""Does Bi-KD improve both members? Compare transfer regimes on one pair.

For one pair config, every regime fine-tunes the same pretrained members
for the same iterations with the same optimizers, data and seeds; only who
teaches whom differs:

==============  =========================================================
independent     no KD term (``kd_weight=0``): each member alone
dml             Deep Mutual Learning: every member distils into every
                other on every element, the teacher side detached as in
                the DML paper (``selection='all', detach_teacher=True``)
bikd_image      Bi-KD, per image: the member with the lower mean loss on
                the image teaches (segmentation's reference)
bikd_sample     Bi-KD, per sample: the more confident member teaches
                (classification's reference)
bikd_pixel      Bi-KD, per pixel (segmentation)
one_way         classic teacher-student: the member that is better at the
                start teaches everywhere and stays frozen
                (``fixed_teacher``)
==============  =========================================================

Every run evaluates each member every ``val_interval`` iterations; the
result is a JSON of all runs, a Markdown table (each member's final metric,
mean and standard deviation over seeds) and PNG plots of the metric and of
the teach share over iterations.
"""

import copy
import json
import math
import multiprocessing
import os.path as osp
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from mmengine.config import Config

from bikd_mm.apis.pretrain import pretrain_members, quiet
from bikd_mm.utils.io import dump_json_atomic, write_text_atomic

TASKS = {
    'seg': dict(
        metric='mIoU',
        pretrain_task='seg',
        regimes=('independent', 'dml', 'bikd_image', 'bikd_pixel', 'one_way'),
    ),
    'cls': dict(
        metric='accuracy/top1',
        pretrain_task='cls',
        regimes=('independent', 'dml', 'bikd_sample', 'one_way'),
    ),
}
REGIME_TITLES = {
    'independent': 'independent fine-tuning',
    'dml': 'Deep Mutual Learning',
    'bikd_image': 'Bi-KD, per image (reference)',
    'bikd_sample': 'Bi-KD, per sample (reference)',
    'bikd_pixel': 'Bi-KD, per pixel',
    'one_way': 'one-way KD from the better member (frozen)',
}


def regime_options(regime: str, task: str, teacher: str) -> dict:
    """Model options of the pair wrapper for one regime.

    Args:
        regime (str): A key of :data:`REGIME_TITLES`.
        task (str): ``'seg'`` or ``'cls'``.
        teacher (str): The member that teaches in ``one_way``.

    Returns:
        dict: Keyword arguments of ``BiKDSegmentor`` / ``BiKDClassifier``
        that replace the pair config's.
    """
    if regime not in TASKS[task]['regimes']:
        raise ValueError(
            f'regime {regime!r} does not apply to {task!r}; choose from '
            f'{TASKS[task]["regimes"]}'
        )
    # Every regime states every option, so the pair config's own choice
    # (e.g. its granularity) cannot leak into another regime.
    options = dict(
        kd_weight=1.0,
        selection='best',
        fixed_teacher=None,
        detach_teacher=False,
    )
    if task == 'seg':
        options['granularity'] = 'image'
    if regime == 'independent':
        options['kd_weight'] = 0.0
    elif regime == 'dml':
        options.update(selection='all', detach_teacher=True)
    elif regime == 'bikd_pixel':
        options['granularity'] = 'pixel'
    elif regime == 'one_way':
        options['fixed_teacher'] = teacher
    return options


def _run_config(
    pair_cfg: Config, work_dir: str, iters: int, val_interval: int, seed: int
) -> Config:
    """The pair config with the comparison's budget, seed and logging."""
    cfg = quiet(copy.deepcopy(pair_cfg))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=val_interval
    )
    # Schedules that span the pair config's training span the comparison's;
    # shorter ones (warm-ups) keep their length.
    span = pair_cfg.train_cfg.max_iters
    for scheduler in cfg.param_scheduler:
        if scheduler.get('end', math.inf) >= min(span, iters):
            scheduler['end'] = iters
    # Teach shares are logged as means over windows of val_interval / 5.
    cfg.default_hooks.logger = dict(
        type='LoggerHook',
        interval=max(1, val_interval // 5),
        log_metric_by_epoch=False,
    )
    # Nothing to keep but the scalars.
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=10**9,
        save_last=False,
    )
    cfg.custom_hooks = []
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    _unique_visualizer(cfg)
    return cfg


def _unique_visualizer(cfg: Config) -> None:
    """Give the run its own visualizer.

    Visualizers are global instances looked up by name, and stock runtimes
    may fix the name (mmseg's is ``'visualizer'``): a second runner in the
    same process would then log into the first one's folder.
    """
    cfg.visualizer.name = f'{cfg.work_dir}@{time.time_ns()}'


def read_scalars(path: str, names: list, metric: str) -> dict:
    """Validation curves and teach shares from a ``scalars.json``.

    Returns:
        dict: ``metric`` and ``teach_share``, each ``{member: [[iteration,
        value], ...]}``.
    """
    curves = {n: [] for n in names}
    shares = {n: [] for n in names}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            step = record.get('step')
            for n in names:
                if f'{n}/{metric}' in record:
                    curves[n].append([step, record[f'{n}/{metric}']])
                if f'{n}.teach_share' in record:
                    shares[n].append([step, record[f'{n}.teach_share']])
    return dict(metric=curves, teach_share=shares)


def evaluate(pair_cfg: Config, work_dir: str, threads: int | None) -> dict:
    """Every member's validation metrics, before any fine-tuning."""
    import torch
    from mmengine.registry import RUNNERS

    import bikd_mm  # noqa: F401

    if threads:
        torch.set_num_threads(threads)
    cfg = quiet(copy.deepcopy(pair_cfg))
    cfg.work_dir = work_dir
    cfg.default_hooks.checkpoint.pop('save_best', None)
    cfg.custom_hooks = []
    _unique_visualizer(cfg)
    return {k: float(v) for k, v in RUNNERS.build(cfg).val().items()}


def run_regime(
    pair_cfg: Config,
    task: str,
    regime: str,
    teacher: str,
    seed: int,
    iters: int,
    val_interval: int,
    work_dir: str,
    threads: int | None,
) -> dict:
    """Fine-tune the pair under one regime and seed; return its record."""
    import torch
    from mmengine.registry import RUNNERS

    import bikd_mm  # noqa: F401

    if threads:
        torch.set_num_threads(threads)
    start = time.time()
    cfg = _run_config(
        pair_cfg,
        osp.join(work_dir, f'{regime}_seed{seed}'),
        iters,
        val_interval,
        seed,
    )
    cfg.model.update(regime_options(regime, task, teacher))
    runner = RUNNERS.build(cfg)
    runner.train()
    names = [m['name'] for m in cfg.model.members]
    metric = TASKS[task]['metric']
    scalars = read_scalars(
        osp.join(runner.log_dir, 'vis_data', 'scalars.json'), names, metric
    )
    return dict(
        regime=regime,
        seed=seed,
        final={n: scalars['metric'][n][-1][1] for n in names},
        curves=scalars,
        seconds=round(time.time() - start, 1),
    )


def _mean_std(values: list) -> dict:
    return dict(
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else 0.0,
        n=len(values),
    )


def summarise(runs: list, names: list, regimes: tuple) -> dict:
    """Each regime's final metric and mean teach share, over seeds.

    Returns:
        dict: ``{regime: {member: {metric: {mean, std, n}, teach_share:
        {mean, std, n} or None}}}``; the teach share of a run is its mean
        over the logged windows.
    """
    summary = {}
    for regime in regimes:
        mine = [r for r in runs if r['regime'] == regime]
        summary[regime] = {}
        for n in names:
            shares = [
                statistics.fmean(v for _, v in r['curves']['teach_share'][n])
                for r in mine
                if r['curves']['teach_share'][n]
            ]
            summary[regime][n] = dict(
                metric=_mean_std([r['final'][n] for r in mine]),
                teach_share=_mean_std(shares) if shares else None,
            )
    return summary


def markdown_table(result: dict) -> str:
    """The Markdown report: settings, the summary table, every seed."""
    names, metric = result['members'], result['metric']
    start = result['start']
    lines = [
        f'# Transfer regimes on `{result["pair_config"]}`',
        '',
        f'Command: `{result["command"]}`',
        '',
        f'Each regime fine-tunes the same pretrained members for '
        f'{result["iters"]} iterations (same optimizers, data order per '
        f'seed); seeds {result["seeds"]}. Final `{metric}` on the '
        'validation split after the last iteration (no best-checkpoint '
        'selection), mean +- standard deviation over seeds; teach share: '
        'the share of the training elements a member taught, averaged over '
        f'the run. One-way teacher: `{result["one_way_teacher"]}` (better '
        'at the start).',
        '',
        '| regime | '
        + ' | '.join(f'{n} {metric}' for n in names)
        + ' | '
        + ' | '.join(f'{n} teach share' for n in names)
        + ' |',
        '| --- |' + ' --- |' * (2 * len(names)),
        '| pretrained (start) | '
        + ' | '.join(f'{start[n]:.2f}' for n in names)
        + ' |'
        + ' |' * len(names),
    ]
    for regime, per_member in result['summary'].items():
        cells = []
        for n in names:
            m = per_member[n]['metric']
            delta = m['mean'] - start[n]
            cells.append(f'{m["mean"]:.2f} +- {m["std"]:.2f} ({delta:+.2f})')
        for n in names:
            share = per_member[n]['teach_share']
            cells.append(
                '-'
                if share is None
                else f'{share["mean"]:.2f} +- {share["std"]:.2f}'
            )
        lines.append(
            f'| {REGIME_TITLES[regime]} | ' + ' | '.join(cells) + ' |'
        )
    lines += [
        '',
        'In brackets: the change from the start. Teach share: with Deep '
        'Mutual Learning every member teaches every element (1); in '
        'one-way KD the frozen teacher teaches every element; independent '
        'fine-tuning distils nothing, and where a share is shown it is the '
        'share the member would have taught.',
        '',
        '## Every run',
        '',
        '| regime | seed | '
        + ' | '.join(f'{n} {metric}' for n in names)
        + ' | seconds |',
        '| --- | --- |' + ' --- |' * (len(names) + 1),
    ]
    for run in result['runs']:
        lines.append(
            f'| {run["regime"]} | {run["seed"]} | '
            + ' | '.join(f'{run["final"][n]:.2f}' for n in names)
            + f' | {run["seconds"]:.0f} |'
        )
    return '\n'.join(lines) + '\n'


def _curve_stats(runs: list, key: str, name: str) -> tuple:
    """Iterations and the mean and std over seeds of one curve."""
    series = [r['curves'][key][name] for r in runs if r['curves'][key][name]]
    if not series:
        return [], [], []
    length = min(len(s) for s in series)
    steps = [series[0][i][0] for i in range(length)]
    values = [[s[i][1] for s in series] for i in range(length)]
    means = [statistics.fmean(v) for v in values]
    stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
    return steps, means, stds


def write_plots(result: dict, prefix: str) -> list:
    """``<prefix>_metric.png`` and ``<prefix>_teach_share.png``.

    Returns:
        list[str]: The files written.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names, metric = result['members'], result['metric']
    regimes = list(result['summary'])
    files = []

    fig, axes = plt.subplots(
        1, len(names), figsize=(5 * len(names), 4), squeeze=False
    )
    for ax, n in zip(axes[0], names):
        for regime in regimes:
            runs = [r for r in result['runs'] if r['regime'] == regime]
            steps, means, stds = _curve_stats(runs, 'metric', n)
            steps = [0] + steps
            means = [result['start'][n]] + means
            stds = [0.0] + stds
            ax.plot(steps, means, marker='o', ms=3, label=regime)
            ax.fill_between(
                steps,
                [m - s for m, s in zip(means, stds)],
                [m + s for m, s in zip(means, stds)],
                alpha=0.15,
            )
        ax.set_title(f'{n}: validation {metric}')
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    files.append(_save(fig, f'{prefix}_metric.png'))
    plt.close(fig)

    shown = [
        regime
        for regime in regimes
        if any(
            r['curves']['teach_share'][n]
            for r in result['runs']
            if r['regime'] == regime
            for n in names
        )
    ]
    fig, axes = plt.subplots(
        1, max(1, len(shown)), figsize=(4 * max(1, len(shown)), 3.5)
    )
    axes = list(axes) if len(shown) > 1 else [axes]
    for ax, regime in zip(axes, shown):
        runs = [r for r in result['runs'] if r['regime'] == regime]
        for n in names:
            steps, means, stds = _curve_stats(runs, 'teach_share', n)
            ax.plot(steps, means, label=n)
            ax.fill_between(
                steps,
                [m - s for m, s in zip(means, stds)],
                [m + s for m, s in zip(means, stds)],
                alpha=0.15,
            )
        ax.set_title(regime, fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('teach share')
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    files.append(_save(fig, f'{prefix}_teach_share.png'))
    plt.close(fig)
    return files


def _save(fig, filename: str) -> str:
    """Save a figure atomically (a temporary sibling, then a rename)."""
    import os
    import tempfile

    folder = osp.dirname(osp.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix='.png', dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, filename)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return filename


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
    members = [dict(m) for m in pair_cfg.model.members]
    names = [m['name'] for m in members]
    pretrain_members(
        members,
        spec['pretrain_task'],
        osp.join(work_dir, 'pretrain'),
        pretrain_iters,
        threads,
        log=log,
        workers=workers,
    )
    pair_cfg.model.members = members
    metric = spec['metric']

    log('evaluating the pretrained members ...')
    before = evaluate(pair_cfg, osp.join(work_dir, 'start'), threads)
    start = {n: before[f'{n}/{metric}'] for n in names}
    teacher = max(names, key=lambda n: start[n])
    log(
        'start: '
        + ', '.join(f'{n} {start[n]:.2f}' for n in names)
        + f'; one-way teacher: {teacher}'
    )

    jobs = [
        (pair_cfg, task, regime, teacher, seed, iters, val_interval)
        + (work_dir, threads)
        for seed in seeds
        for regime in regimes
    ]
    log(
        f'{len(jobs)} runs of {iters} iterations '
        f'({len(regimes)} regimes x {len(seeds)} seeds, {workers} at a '
        'time) ...'
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

    result = dict(
        task=task,
        pair_config=osp.relpath(pair_config),
        command=command,
        metric=metric,
        members=names,
        checkpoints={m['name']: m['checkpoint'] for m in members},
        pretrain_iters=pretrain_iters,
        iters=iters,
        val_interval=val_interval,
        seeds=list(seeds),
        regimes=list(regimes),
        regime_options={r: regime_options(r, task, teacher) for r in regimes},
        one_way_teacher=teacher,
        optim_wrapper=pair_cfg.optim_wrapper.to_dict(),
        param_scheduler=[
            dict(s)
            for s in _run_config(
                pair_cfg, work_dir, iters, val_interval, 0
            ).param_scheduler
        ],
        start=start,
        start_all=before,
        wall_seconds=round(time.time() - begin, 1),
        runs=runs,
        summary=summarise(runs, names, regimes),
    )
    write_outputs(result, out_prefix)
    return result


def write_outputs(result: dict, out_prefix: str) -> list:
    """Write the JSON, the Markdown table and the plots of a result.

    Returns:
        list[str]: The files written.
    """
    dump_json_atomic(result, f'{out_prefix}.json')
    write_text_atomic(markdown_table(result), f'{out_prefix}.md')
    return [f'{out_prefix}.json', f'{out_prefix}.md'] + write_plots(
        result, out_prefix
    )


def _run_line(run: dict, names: list) -> str:
    return (
        f'{run["regime"]} seed {run["seed"]}: '
        + ', '.join(f'{n} {run["final"][n]:.2f}' for n in names)
        + f' ({run["seconds"]:.0f} s)'
    )
