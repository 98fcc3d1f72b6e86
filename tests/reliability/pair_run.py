"""A tiny segmentation pair config and a runner of ``tools/train.py`` in a
subprocess, shared by the reliability tests."""

import os
import os.path as osp
import subprocess
import sys
import time

from mmengine.config import Config

from ..conftest import REPO
from ..engine.test_pair_runner import PAIR, write_member_checkpoints


def write_pair_config(
    tmp_path, data_root: str, iters: int = 6, max_keep_ckpts: int = -1
) -> str:
    """A pair config file: the demo pair, ``iters`` iterations, a checkpoint
    every 2 (the last ``max_keep_ckpts`` kept), no validation, and the fault
    hooks."""
    cfg = Config.fromfile(PAIR)
    write_member_checkpoints(cfg, str(tmp_path))
    path = tmp_path / 'pair.py'
    path.write_text(
        f'_base_ = [{PAIR!r}]\n'
        "custom_imports = dict(imports=['bikd_mm', "
        "'tests.reliability.fault_hooks'], allow_failed_imports=False)\n"
        f'model = dict(members={cfg.model.members!r})\n'
        "custom_hooks = [dict(type='StallForKillHook')]\n"
        'train_dataloader = dict(batch_size=2, dataset=dict('
        f'data_root={data_root!r}))\n'
        'val_dataloader = dict(batch_size=2, dataset=dict('
        f'data_root={data_root!r}))\n'
        'test_dataloader = val_dataloader\n'
        f'train_cfg = dict(max_iters={iters}, val_interval=1000)\n'
        'param_scheduler = [dict(type="PolyLR", power=0.9, begin=0, '
        f'end={iters}, by_epoch=False)]\n'
        'default_hooks = dict(checkpoint=dict(_delete_=True, '
        "type='CheckpointHook', by_epoch=False, interval=2, "
        f'max_keep_ckpts={max_keep_ckpts}), '
        'logger=dict(interval=1))\n'
        "log_level = 'WARNING'\n"
    )
    return str(path)


def train_env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    env.update(extra)
    return env


def run_train(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    """Run ``tools/train.py`` to its end."""
    return subprocess.run(
        [sys.executable, 'tools/train.py', *args],
        cwd=REPO,
        env=env or train_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_train_until_stalled(*args, stall: str, marker, timeout=240) -> None:
    """Start ``tools/train.py``, wait for the fault hook to stall at
    ``stall``, and kill the process with SIGKILL."""
    log = open(osp.join(osp.dirname(str(marker)), 'killed_run.log'), 'w')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', *args],
        cwd=REPO,
        env=train_env(
            BIKD_TEST_STALL=stall, BIKD_TEST_STALL_MARKER=str(marker)
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    try:
        while not osp.exists(marker):
            if proc.poll() is not None:
                log.close()
                raise AssertionError(
                    f'the run ended before stalling at {stall}: '
                    + open(log.name).read()[-3000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(f'the run did not reach {stall}')
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
        log.close()
    os.remove(marker)
