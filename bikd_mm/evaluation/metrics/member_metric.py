import contextlib
import logging
import os.path as osp
from collections.abc import Iterator, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.registry import METRICS


def _metric_class(metric: dict):
    """The class that ``METRICS.build(metric)`` would instantiate."""
    metric_type = metric.get('type')
    if not isinstance(metric_type, str):
        return metric_type
    # As in build: look up under the current default scope.
    with METRICS.switch_scope_and_registry(None) as registry:
        return registry.get(metric_type)


class _MemberName(logging.Filter):
    """Prefixes each record with a member name (``[r50] ...``)."""

    def __init__(self, name: str):
        super().__init__()
        self.member = name

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        sep = '' if text.startswith('\n') else ' '
        record.msg = f'[{self.member}]{sep}{text}'
        return True


@contextlib.contextmanager
def _logs_named(name: str) -> Iterator[None]:
    """What the current logger logs inside names member ``name``."""
    logger = MMLogger.get_current_instance()
    named = _MemberName(name)
    logger.addFilter(named)
    try:
        yield
    finally:
        logger.removeFilter(named)


def _own_outputs(cfg: dict, name: str) -> dict:
    """Give a member's metric its own output folder (``<dir>/<name>``)."""
    if cfg.get('output_dir'):
        cfg['output_dir'] = osp.join(cfg['output_dir'], name)
    if cfg.get('out_file_path'):
        path = cfg['out_file_path']
        cfg['out_file_path'] = osp.join(
            osp.dirname(path), name, osp.basename(path)
        )
    return cfg


@METRICS.register_module()
class MemberMetric(BaseMetric):
    """Evaluate a stock metric once per member of a Bi-KD model.

    A Bi-KD model's predictions carry every member's outputs under
    ``sample['members'][<name>]``. For each member, this metric shows the
    wrapped metric the sample with that member's outputs in place of the
    top-level ones, and reports its results prefixed with the member name
    (``r50/mIoU``, ``swin/mIoU``), so ``save_best='r50/mIoU'`` works. A
    metric's own prefix stays below the member name:
    ``vit_b/accuracy/top1`` for mmpretrain's ``Accuracy``. Files a metric
    writes (``output_dir`` of ``IoUMetric``, ``out_file_path`` of
    ``DumpResults``) go to a folder per member (``<output_dir>/<name>``).
    What a metric logs (``IoUMetric``'s per-class table) is prefixed with
    the member name.

    Args:
        metric (dict): The stock metric config (e.g. ``IoUMetric``).
        members (Sequence[str]): Member names, in model order.
        collect_device (str): Device for collecting results across ranks.
    """

    # Unused (each member's metric has its own prefix); set so that mmengine
    # does not warn that the metric has none.
    default_prefix = 'members'

    def __init__(
        self,
        metric: dict,
        members: Sequence[str],
        collect_device: str = 'cpu',
        prefix: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.member_names = list(members)
        self.metrics = {}
        own_prefix = metric.get('prefix') or getattr(
            _metric_class(metric), 'default_prefix', None
        )
        for name in self.member_names:
            cfg = _own_outputs(dict(metric), name)
            # Keep the metric's own prefix below the member name
            # (``vit_b/accuracy/top1``), as a stock run names it.
            cfg['prefix'] = f'{name}/{own_prefix}' if own_prefix else name
            self.metrics[name] = METRICS.build(cfg)

    @property
    def dataset_meta(self) -> dict | None:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics.values():
            metric.dataset_meta = dataset_meta

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for name, metric in self.metrics.items():
            views = []
            for sample in data_samples:
                members = sample.get('members')
                if members is None or name not in members:
                    raise KeyError(
                        f'MemberMetric: prediction has no outputs of member '
                        f'{name!r}; is the model a Bi-KD model?'
                    )
                views.append({**sample, **members[name]})
            metric.process(data_batch, views)

    def compute_metrics(self, results: list) -> dict:
        raise NotImplementedError(
            'MemberMetric evaluates its members in evaluate()'
        )

    def evaluate(self, size: int) -> dict:
        out = {}
        for name, metric in self.metrics.items():
            with _logs_named(name):
                out.update(metric.evaluate(size))
        return out
