"""One live run per work dir, and partial files unique to their writer."""

import copy
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS

from bikd_mm.engine.runner.work_dir_lock import (
    LOCK_FILE,
    WorkDirInUseError,
    WorkDirLock,
)

from ..conftest import REPO
from .conftest import probe_cfg, snapshot
from .pair_run import run_train, write_pair_config

# Holds the lock of a work dir from another process; loads the module
# from its file, without importing the package (and mmengine).
HOLDER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location('lock', sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.WorkDirLock(sys.argv[2]).acquire()
print('held', flush=True)
time.sleep(600)
"""
LOCK_MODULE = osp.join(REPO, 'bikd_mm', 'engine', 'runner', 'work_dir_lock.py')


class SecondRun(Hook):
    """At the first iteration, starts ``tools/train.py`` with the same
    config and work dir in another process, and records its exit."""

    def __init__(self, config: str):
        self.config = config
        self.result = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter != 0:
            return
        self.before = snapshot(runner.work_dir)
        self.result = run_train(
            self.config, '--work-dir', runner.work_dir, timeout=240
        )
        self.after = snapshot(runner.work_dir)


def second_live_run_in_a_work_dir(tmp_path, seg_data_root):
    """Stock: the second run's save dies with ``FileNotFoundError:
    .iter_4.pth.part`` after the first renamed the shared name."""
    config = write_pair_config(tmp_path, seg_data_root, iters=2)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    probe = SecondRun(config)
    runner = RUNNERS.build(cfg)
    runner.register_hook(probe)
    runner.train()
    result = probe.result
    assert result.returncode != 0
    assert (
        f'WorkDirInUseError: work_dir {cfg.work_dir} is in use by a live '
        f'training run (pid {os.getpid()}, lock '
        f'{osp.join(cfg.work_dir, LOCK_FILE)})'
    ) in result.stderr, result.stderr[-3000:]
    # Refused before it wrote anything: no log folder, no config dump.
    assert probe.after == probe.before
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_2.pth'))
    # Released at the end of the run.
    WorkDirLock(cfg.work_dir).acquire().release()


def killed_run_leaves_no_stale_lock(tmp_path):
    work = str(tmp_path / 'work')
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLDER, LOCK_MODULE, work],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(
            WorkDirInUseError,
            match=f'in use by a live training run \\(pid {holder.pid},',
        ):
            WorkDirLock(work).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert osp.isfile(osp.join(work, LOCK_FILE))  # the file stays ...
    deadline = time.monotonic() + 10
    lock = WorkDirLock(work)
    while True:  # ... but its lock went with the process
        try:
            lock.acquire()
            break
        except WorkDirInUseError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with open(osp.join(work, LOCK_FILE)) as f:
        assert f.read().strip() == str(os.getpid())
    lock.release()


def two_writers_of_one_checkpoint(tmp_path, seg_data_root, monkeypatch):
    """Two processes saving ``iter_4.pth`` into one folder: while one
    writes, the other writes and renames its own file; both complete."""
    cfg = probe_cfg(tmp_path, seg_data_root)
    first = RUNNERS.build(copy.deepcopy(cfg))
    second_cfg = copy.deepcopy(cfg)
    second_cfg.work_dir = str(tmp_path / 'work2')
    second = RUNNERS.build(second_cfg)
    out = str(tmp_path / 'shared')
    os.makedirs(out)
    put = LocalBackend.put
    names = []

    def put_and_interleave(backend, obj, filepath):
        names.append(osp.basename(filepath))
        put(backend, obj, filepath)
        if len(names) == 1:  # the first writer is mid-save
            second.save_checkpoint(
                out,
                'iter_4.pth',
                save_optimizer=False,
                save_param_scheduler=False,
            )

    monkeypatch.setattr(LocalBackend, 'put', put_and_interleave)
    first.save_checkpoint(
        out, 'iter_4.pth', save_optimizer=False, save_param_scheduler=False
    )
    assert len(set(names)) == 2 and all(
        n.startswith('.iter_4.pth.') and n.endswith('.part') for n in names
    )
    assert os.listdir(out) == ['iter_4.pth']
    saved = torch.load(osp.join(out, 'iter_4.pth'), weights_only=False)
    assert set(saved) >= {'meta', 'state_dict', 'message_hub'}
