"""Run every member of a pair config over its validation data and count
where they are right and wrong (:mod:`.metrics`)."""

import copy
from collections.abc import Callable, Mapping

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import Runner

from bikd_mm.models.member import member_list
from bikd_mm.utils.config import load_config

from .metrics import Complementarity

SPLITS = ('val', 'test')


def with_members(
    cfg: Config,
    checkpoints: Mapping[str, str] | None = None,
    configs: Mapping[str, str] | None = None,
) -> Config:
    """The pair config with other member configs or checkpoints.

    Args:
        cfg (Config): A pair config (``model.members``).
        checkpoints (Mapping[str, str], optional): Checkpoint per member
            name; the others keep theirs. Defaults to None.
        configs (Mapping[str, str], optional): When given, the members
            are these (name to config file, in order) instead of the pair
            config's. Defaults to None.

    Returns:
        Config: A copy with the members replaced.

    Raises:
        KeyError: If ``checkpoints`` names a member the pair has not.
    """
    cfg = copy.deepcopy(cfg)
    if configs:
        members = [dict(name=n, config=p) for n, p in configs.items()]
    else:
        members = member_list(cfg.model['members'])
    names = [m['name'] for m in members]
    unknown = sorted(set(checkpoints or {}) - set(names))
    if unknown:
        raise KeyError(
            f'--checkpoints names {unknown}, which are not members; the '
            f'members are {names}'
        )
    for member in members:
        if member['name'] in (checkpoints or {}):
            member['checkpoint'] = checkpoints[member['name']]
    cfg.model['members'] = members
    return cfg


def _ignore_index(cfg: Config, split: str, dataset) -> int:
    evaluator = cfg.get(f'{split}_evaluator')
    for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
        if isinstance(metric, dict):
            metric = metric.get('metric', metric)  # a MemberMetric
            if isinstance(metric, dict) and 'ignore_index' in metric:
                return int(metric['ignore_index'])
    return int(getattr(dataset, 'ignore_index', 255))


def _batch_predictions(outputs: list, names: list) -> tuple:
    """Per member the predicted classes of a batch, the labels, the task."""
    first = outputs[0]
    if 'pred_sem_seg' in first.members.get(names[0]):
        preds = {
            n: torch.cat(
                [
                    o.members.get(n).pred_sem_seg.data.reshape(-1)
                    for o in outputs
                ]
            )
            for n in names
        }
        labels = torch.cat([o.gt_sem_seg.data.reshape(-1) for o in outputs])
        return preds, labels, 'segmentation'
    if 'pred_label' in first.members.get(names[0]):
        preds = {
            n: torch.cat(
                [o.members.get(n).pred_label.reshape(-1)[:1] for o in outputs]
            )
            for n in names
        }
        labels = torch.cat([o.gt_label.reshape(-1)[:1] for o in outputs])
        return preds, labels, 'classification'
    raise TypeError(
        'the members predict neither pred_sem_seg (segmentation) nor '
        'pred_label (classification); complementarity supports these two '
        'tasks'
    )


def evaluate_members(
    pair_config: str | Config,
    checkpoints: Mapping[str, str] | None = None,
    configs: Mapping[str, str] | None = None,
    split: str = 'val',
    device: str | None = None,
    limit: int | None = None,
    cfg_options: dict | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Complementarity of a pair's members on its validation (or test) set.

    The pair model is built as the pair config states it (each member's
    config, checkpoint and data preprocessor) and run in predict mode over
    the config's ``<split>_dataloader``; every member's prediction of
    every sample is counted (:class:`.metrics.Complementarity`).

    Args:
        pair_config (str | Config): The pair config or its file.
        checkpoints (Mapping[str, str], optional): Checkpoint per member
            name, replacing the config's. Defaults to None.
        configs (Mapping[str, str], optional): Member configs by name, to
            evaluate instead of the pair config's members. Defaults to
            None.
        split (str): ``'val'`` or ``'test'``. Defaults to ``'val'``.
        device (str, optional): Torch device; None: CUDA when available.
        limit (int, optional): Stop after this many samples (whole
            batches). Defaults to None (all).
        cfg_options (dict, optional): Overrides of the pair config.
        log (Callable[[str], None], optional): Progress messages.

    Returns:
        dict: :meth:`.metrics.Complementarity.result` plus ``config``,
        ``split``, ``checkpoints`` (per member, None when untrained) and
        ``num_samples``.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if limit is not None and limit < 1:
        raise ValueError(f'limit must be >= 1 (samples), got {limit}')
    log = log or (lambda message: None)
    if isinstance(pair_config, Config):
        cfg = copy.deepcopy(pair_config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    else:
        cfg = load_config(pair_config, cfg_options)
    if not isinstance(cfg.get('model'), dict) or 'members' not in cfg.model:
        raise ValueError(
            f'{getattr(cfg, "filename", None) or "the config"} is not a '
            'pair config: model.members is missing'
        )
    cfg = with_members(cfg, checkpoints, configs)
    loader_cfg = cfg.get(f'{split}_dataloader')
    if not loader_cfg:
        raise KeyError(
            f'{cfg.filename}: no {split}_dataloader to run the members on'
        )
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        model = MODELS.build(cfg.model)
        model.init_weights()
        loader = Runner.build_dataloader(copy.deepcopy(loader_cfg))
    names = list(model.member_names)
    used = {
        m['name']: m.get('checkpoint') for m in member_list(cfg.model.members)
    }
    for name, path in used.items():
        if path is None:
            log(f'member {name!r} has no checkpoint: its weights are random')
    model.to(device).eval()
    dataset = loader.dataset
    num_classes = len(dataset.metainfo['classes'])
    meter, seen = None, 0
    total = len(dataset) if limit is None else min(limit, len(dataset))
    with torch.no_grad():
        for batch in loader:
            outputs = model.test_step(batch)
            preds, labels, task = _batch_predictions(outputs, names)
            if meter is None:
                ignore = (
                    _ignore_index(cfg, split, dataset)
                    if task == 'segmentation'
                    else None
                )
                meter = Complementarity(names, num_classes, task, ignore)
            meter.update(preds, labels)
            seen += len(outputs)
            if seen * 10 // total != (seen - len(outputs)) * 10 // total:
                log(f'{seen}/{total} samples')
            if limit is not None and seen >= limit:
                break
    if meter is None:
        raise ValueError(f'the {split} dataloader yielded no sample')
    result = meter.result()
    result.update(
        config=cfg.filename
        if isinstance(pair_config, Config)
        else pair_config,
        split=split,
        checkpoints=used,
        num_samples=seen,
    )
    return result
