"""A demo pair trained once for the probes that load, resume and lock, and
helpers of the reliability cases."""

import copy
import hashlib
import logging
import os
import os.path as osp

import pytest
from mmengine.logging import MMLogger
from mmengine.registry import RUNNERS

from ..engine.test_pair_runner import pair_cfg


def probe_cfg(tmp_path, data_root, iters: int = 2):
    """The demo pair for ``iters`` iterations, a checkpoint every 2, no
    validation and no picture hook."""
    cfg = pair_cfg(tmp_path, data_root, iters=iters)
    cfg.custom_hooks = []
    cfg.train_cfg.val_interval = 1000
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.checkpoint.save_best = None
    return cfg


@pytest.fixture(scope='session')
def trained_pair(tmp_path_factory, seg_data_root) -> dict:
    """``cfg`` (a config to copy), ``checkpoint`` (its ``iter_2.pth``)."""
    tmp_path = tmp_path_factory.mktemp('trained_pair')
    cfg = probe_cfg(tmp_path, seg_data_root)
    RUNNERS.build(copy.deepcopy(cfg)).train()
    return dict(cfg=cfg, checkpoint=osp.join(cfg.work_dir, 'iter_2.pth'))


class Records(logging.Handler):
    """Collects the messages of the current MMLogger."""

    def __init__(self, level=logging.INFO):
        super().__init__(level)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        self.logger = MMLogger.get_current_instance()
        self.logger.addHandler(self)
        self.old_level = self.logger.level
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.old_level)


def snapshot(folder) -> dict:
    """``{relative path: (size, mtime_ns, sha256)}`` of every file."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            stat = os.stat(path)
            out[osp.relpath(path, folder)] = (
                stat.st_size,
                stat.st_mtime_ns,
                digest,
            )
    return out
