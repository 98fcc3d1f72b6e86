"""Checks of a completed pair config that would otherwise fail mid-run.

``BiKDRunner`` runs them when it is built, so a mistake is named before
the first training step rather than after the first validation, hours in.

- ``default_hooks.checkpoint.save_best``: every key must be a metric the
  pair reports. A pair's metrics are prefixed with the member name
  (``r50/mIoU``, ``vit/accuracy/top1``), so a stock habit such as
  ``save_best='mIoU'`` would only fail with mmengine's bare
  ``KeyError: 'mIoU'`` after the first validation.
- the training dataset's classes against the members' ``num_classes``: a
  head with fewer classes would fail at the first label it cannot
  predict, one with more would train without a word. Checked when both
  are known (the dataset config's ``metainfo`` or its class's
  ``METAINFO``; datasets that find their classes on disk are not).
"""

from collections.abc import Callable

from mmengine.config import Config

MEMBER_METRIC = ('MemberMetric', 'bikd_mm.MemberMetric')

_IOU_NAMES = {
    'mIoU': ['mIoU', 'mAcc'],
    'mDice': ['mDice', 'mAcc'],
    'mFscore': ['mFscore', 'mPrecision', 'mRecall'],
}


def _iou_metric_names(metric: dict) -> list[str]:
    """What mmseg's ``IoUMetric`` reports (its ``compute_metrics``)."""
    chosen = metric.get('iou_metrics', ['mIoU'])
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    names = ['aAcc']
    for key in chosen:
        names += [n for n in _IOU_NAMES.get(key, []) if n not in names]
    return names


def _accuracy_names(metric: dict) -> list[str]:
    """What mmpretrain's ``Accuracy`` reports (its ``compute_metrics``)."""
    topk = metric.get('topk', (1,))
    topk = (topk,) if isinstance(topk, int) else tuple(topk)
    thrs = metric.get('thrs', 0.0)
    thrs = tuple(thrs) if isinstance(thrs, (list, tuple)) else (thrs,)
    names = []
    for k in topk:
        for thr in thrs:
            name = f'top{k}'
            if len(thrs) > 1:
                name += '_no-thr' if thr is None else f'_thr-{thr:.2f}'
            names.append(name)
    return names


METRIC_NAMES: dict[str, Callable[[dict], list[str]]] = {
    'IoUMetric': _iou_metric_names,
    'Accuracy': _accuracy_names,
}
# Their classes' ``default_prefix``.
DEFAULT_PREFIX = {'IoUMetric': None, 'Accuracy': 'accuracy'}


def metric_names(metric: dict) -> list[str] | None:
    """The names a stock metric reports, with its prefix; None if unknown.

    Args:
        metric (dict): A metric config (``IoUMetric``, ``Accuracy``, ...).

    Returns:
        list[str] | None: E.g. ``['aAcc', 'mIoU', 'mAcc']`` or
        ``['accuracy/top1']``; None for metrics this module does not know.
    """
    kind = metric.get('type')
    kind = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    kind = kind.split('.')[-1]
    names = METRIC_NAMES.get(kind)
    if names is None:
        return None
    prefix = metric.get('prefix') or DEFAULT_PREFIX[kind]
    found = names(metric)
    return [f'{prefix}/{n}' for n in found] if prefix else found


def check_save_best(cfg: Config) -> None:
    """Refuse ``save_best`` keys that no member's metric reports.

    Args:
        cfg (Config): A completed pair config (evaluators wrapped in
            ``MemberMetric``).

    Raises:
        ValueError: Naming the key and the metrics that exist.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if not isinstance(hook, dict) or not hook.get('save_best'):
        return
    keys = hook['save_best']
    keys = [keys] if isinstance(keys, str) else list(keys)
    keys = [k for k in keys if k != 'auto']
    evaluator = cfg.get('val_evaluator')
    if not keys or evaluator is None:
        return
    evaluators = evaluator if isinstance(evaluator, list) else [evaluator]
    names, members, complete = [], [], True
    for metric in evaluators:
        if metric.get('type') not in MEMBER_METRIC:
            return  # not a pair's evaluator: stock behaviour
        own = metric_names(metric['metric'])
        complete = complete and own is not None
        for member in metric['members']:
            if member not in members:
                members.append(member)
            names += [f'{member}/{n}' for n in own or []]
    for key in keys:
        if key in names:
            continue
        if not complete and key.split('/')[0] in members:
            continue  # a metric whose names are not known here
        known = (
            f'the metrics are {names}'
            if complete
            else f'metric names start with a member name {members}'
        )
        raise ValueError(
            f'default_hooks.checkpoint.save_best: {key!r} is not a metric '
            f'of this pair; {known}. A pair evaluates every member and '
            "prefixes its metrics with the member's name, e.g. "
            f'{(names or [members[0] + "/mIoU"])[0]!r}.'
        )


def dataset_classes(dataset: dict, scope: str | None) -> tuple | None:
    """The classes a dataset config declares, or None if not known."""
    if not isinstance(dataset, dict):
        return None
    meta = dataset.get('metainfo') or {}
    if meta.get('classes'):
        return tuple(meta['classes'])
    kind = dataset.get('type')
    if isinstance(kind, str):
        from mmengine.registry import DATASETS

        with DATASETS.switch_scope_and_registry(scope) as registry:
            kind = registry.get(kind)
    classes = getattr(kind, 'METAINFO', {}).get('classes')
    return tuple(classes) if classes else None


def check_dataset_classes(cfg: Config, model) -> None:
    """Refuse members whose heads predict another number of classes than
    the training dataset has.

    Args:
        cfg (Config): The completed pair config.
        model (nn.Module): The built pair (``num_classes``).

    Raises:
        ValueError: Naming the dataset, its classes and the heads' count.
    """
    num = getattr(model, 'num_classes', None)
    loader = cfg.get('train_dataloader')
    if not isinstance(num, int) or not isinstance(loader, dict):
        return
    dataset = loader.get('dataset')
    try:
        classes = dataset_classes(dataset, cfg.get('default_scope'))
    except Exception:
        return  # a dataset type this check cannot resolve
    if classes is None or len(classes) == num:
        return
    shown = ', '.join(map(str, classes[:5])) + (
        ', ...' if len(classes) > 5 else ''
    )
    raise ValueError(
        f'train_dataloader.dataset ({dataset.get("type")}) has '
        f'{len(classes)} classes ({shown}), the members predict {num}; '
        "set the members' num_classes (heads and data_preprocessor) or "
        "the dataset's metainfo"
    )


def check_pair_config(cfg: Config) -> None:
    """Run every build-time check of a completed pair config."""
    check_save_best(cfg)
