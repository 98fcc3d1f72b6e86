"""tools/dist_train.sh CONFIG 2 on a machine without GPUs, as a user types
it: no interpreter on PATH that has the stack (the script finds
.venv/bin/python), a stock runtime that asks for NCCL and a member with
SyncBN. It trains on two CPU processes with gloo and says so."""

import os
import os.path as osp
import subprocess
import sys

import torch
from mmengine.config import Config

from bikd_mm.utils.checkpoint import load_checkpoint_file

from ..conftest import REPO
from ..engine.test_dist_pair import free_port
from ..engine.test_pair_runner import PAIR, write_member_checkpoints

SYNC_BN = {
    f'model.{part}.norm_cfg.type': 'SyncBN'
    for part in ('backbone', 'decode_head', 'auxiliary_head')
}


def path_without_the_stack() -> str:
    """PATH without the folder of the interpreter running the tests."""
    here = osp.dirname(sys.executable)
    return os.pathsep.join(
        p for p in os.environ['PATH'].split(os.pathsep) if p and p != here
    )


def test_dist_train_on_cpu_with_stock_runtime_and_syncbn(
    tmp_path, seg_data_root
):
    cfg = Config.fromfile(PAIR)
    write_member_checkpoints(cfg, str(tmp_path))
    members = [dict(m) for m in cfg.model.members]
    members[0]['cfg_options'] = SYNC_BN
    config = tmp_path / 'my_pair.py'
    # The demo's runtime is mmseg's default_runtime: NCCL.
    config.write_text(
        f'_base_ = [{PAIR!r}]\n'
        f'model = dict(members={members!r})\n'
        f'train_dataloader = dict(batch_size=2, dataset=dict('
        f'data_root={seg_data_root!r}))\n'
        f'val_dataloader = dict(batch_size=2, dataset=dict('
        f'data_root={seg_data_root!r}))\n'
        'test_dataloader = val_dataloader\n'
    )
    assert Config.fromfile(str(config)).env_cfg.dist_cfg.backend == 'nccl'
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('PYTHON', 'PYTHONPATH', 'VIRTUAL_ENV')
    }
    env.update(
        PATH=path_without_the_stack(),
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',  # a machine without GPUs
    )
    work = tmp_path / 'work'
    iters = 2
    result = subprocess.run(
        [
            'bash',
            osp.join(REPO, 'tools/dist_train.sh'),
            str(config),
            '2',
            '--work-dir',
            str(work),
            '--cfg-options',
            f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters}',
            f'param_scheduler.0.end={iters}',
            f'default_hooks.checkpoint.interval={iters}',
        ],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'runs on the CPU with the gloo backend' in log
    assert "SyncBN needs GPUs: the 34 SyncBatchNorm layers of ['cnn']" in log
    saved = load_checkpoint_file(str(work / f'iter_{iters}.pth'))
    initial = load_checkpoint_file(str(tmp_path / 'cnn.pth'))
    key = 'backbone.stem.1.running_mean'
    assert not torch.equal(
        saved['state_dict'][f'members.cnn.{key}'], initial['state_dict'][key]
    )
