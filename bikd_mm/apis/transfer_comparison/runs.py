"""One fine-tuning run of a pair under one regime and seed."""

import copy
import hashlib
import json
import math
import os.path as osp
import time
from collections.abc import Callable

from mmengine.config import Config

from bikd_mm.apis.pretrain import quiet
from bikd_mm.models.member import member_list
from bikd_mm.utils.checksums import sha256_file
from bikd_mm.utils.device import device_name
from bikd_mm.utils.io import dump_json_atomic

from .regimes import TASKS, regime_options


def run_config(
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


def evaluate(
    pair_cfg: Config,
    work_dir: str,
    threads: int | None,
    record_dir: str | None = None,
) -> dict:
    """Every member's validation metrics, before any fine-tuning.

    Kept under the :func:`run_key` of the evaluated config (see
    :func:`record_path`) and read from there by a later call with the same
    config.
    """
    import torch
    from mmengine.registry import RUNNERS

    import bikd_mm  # noqa: F401

    if threads:
        torch.set_num_threads(threads)
    cfg = quiet(copy.deepcopy(pair_cfg))
    cfg.work_dir = work_dir
    cfg.default_hooks.checkpoint.pop('save_best', None)
    cfg.custom_hooks = []

    def validate() -> dict:
        _unique_visualizer(cfg)
        return {k: float(v) for k, v in RUNNERS.build(cfg).val().items()}

    return cached_record(
        record_path(work_dir, record_dir), run_key(cfg), validate
    )


RECORD_FILE = 'record.json'


def run_key(cfg: Config) -> str:
    """A hash of everything a run trains from.

    Two runs with the same key start from the same checkpoints (the same
    bytes: each member checkpoint's SHA-256 is part of the key, so a
    pre-training repeated elsewhere, which need not give the same weights,
    is another start) with the same options, budget, seed and data, so
    one's record stands for the other's. The run's own folder and
    visualizer name are left out, and the home folder is written ``~``, so
    a record stays valid in another checkout.
    """
    state = cfg.to_dict()
    state.pop('visualizer', None)
    state.pop('work_dir', None)
    members = cfg.get('model', {}).get('members')
    if members:
        state['member_checkpoint_sha256'] = {
            m['name']: sha256_file(m['checkpoint'])
            for m in member_list(members)
            if isinstance(m.get('checkpoint'), str)
            and osp.isfile(m['checkpoint'])
        }
    text = json.dumps(state, sort_keys=True, default=repr)
    home = osp.expanduser('~')
    if home not in ('', '~', '/'):
        text = text.replace(home, '~')
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_path(run_dir: str, record_dir: str | None = None) -> str:
    """Where the record of the run in ``run_dir`` is kept.

    ``record.json`` inside the run's folder, or ``<record_dir>/<run
    folder name>.json`` where ``record_dir`` is given: a folder of small
    files that can be kept (committed) apart from the runs' logs.
    """
    if record_dir is None:
        return osp.join(run_dir, RECORD_FILE)
    return osp.join(record_dir, osp.basename(osp.normpath(run_dir)) + '.json')


def finished_record(path: str, key: str) -> dict | None:
    """The record saved in the file ``path``, if its key is ``key``.

    A record of other settings, or an unreadable one, counts as absent
    (the run is repeated and its record replaced).
    """
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get('key') != key:
        return None
    return saved.get('record')


def cached_record(path: str, key: str, compute: Callable[[], dict]) -> dict:
    """The record saved at ``path`` under ``key``, else ``compute()``.

    A computed record is written to ``path`` atomically with its key, so an
    interrupted comparison resumes where it stopped and a half-written
    record never stands for a finished run.
    """
    done = finished_record(path, key)
    if done is not None:
        return done
    record = compute()
    dump_json_atomic(dict(key=key, record=record), path)
    return record


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
    pretrain_seed: int | None = None,
    record_dir: str | None = None,
) -> dict:
    """Fine-tune the pair under one regime and seed; return its record.

    ``pretrain_seed`` names the pretrained start (its work folder and its
    record's ``pretrain_seed``); None for a single start. The record is
    kept with the :func:`run_key` of its config (:func:`cached_record`, at
    :func:`record_path`); a later call with the same settings returns it
    without training.
    """
    import torch
    from mmengine.registry import RUNNERS

    import bikd_mm  # noqa: F401

    if threads:
        torch.set_num_threads(threads)
    start = time.time()
    cfg = run_config(
        pair_cfg,
        osp.join(
            work_dir,
            f'{regime}_seed{seed}'
            + ('' if pretrain_seed is None else f'_pretrain{pretrain_seed}'),
        ),
        iters,
        val_interval,
        seed,
    )
    cfg.model.update(regime_options(regime, task, teacher))

    def train() -> dict:
        runner = RUNNERS.build(cfg)
        runner.train()
        names = [m['name'] for m in member_list(cfg.model.members)]
        metric = TASKS[task]['metric']
        scalars = read_scalars(
            osp.join(runner.log_dir, 'vis_data', 'scalars.json'),
            names,
            metric,
        )
        record = dict(
            regime=regime,
            seed=seed,
            final={n: scalars['metric'][n][-1][1] for n in names},
            curves=scalars,
            seconds=round(time.time() - start, 1),
            device=device_name(),
        )
        if pretrain_seed is not None:
            record['pretrain_seed'] = pretrain_seed
        return record

    return cached_record(
        record_path(cfg.work_dir, record_dir), run_key(cfg), train
    )
