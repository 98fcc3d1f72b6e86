"""tools/dist_train.sh with a pair: 2 CPU processes (gloo) end with the same
weights on both ranks."""

import os
import os.path as osp
import socket
import subprocess
import sys

import torch
from mmengine.config import Config

from ..conftest import REPO
from .test_pair_runner import PAIR, write_member_checkpoints


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_pair_training_keeps_ranks_in_sync(
    tmp_path, seg_data_root
):
    cfg = Config.fromfile(PAIR)
    write_member_checkpoints(cfg, str(tmp_path))
    config = tmp_path / 'pair_dist.py'
    config.write_text(
        f'_base_ = [{PAIR!r}]\n'
        "custom_imports = dict(imports=['bikd_mm', "
        "'tests.engine.rank_weights_hook'], allow_failed_imports=False)\n"
        f'model = dict(members={cfg.model.members!r})\n'
        "custom_hooks = [dict(type='RankWeightsHook')]\n"
        'train_dataloader = dict(batch_size=2, dataset=dict('
        f'data_root={seg_data_root!r}))\n'
        'val_dataloader = dict(batch_size=2, dataset=dict('
        f'data_root={seg_data_root!r}))\n'
        'test_dataloader = val_dataloader\n'
        "env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=120))\n"
    )
    work = tmp_path / 'work'
    env = dict(
        os.environ,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        PATH=f'{osp.dirname(sys.executable)}:{os.environ["PATH"]}',
    )
    result = subprocess.run(
        [
            'bash',
            'tools/dist_train.sh',
            str(config),
            '2',
            '--work-dir',
            str(work),
            '--cfg-options',
            'train_cfg.max_iters=3',
            'train_cfg.val_interval=3',
            'param_scheduler.0.end=3',
            'default_hooks.checkpoint.interval=3',
            'log_level=WARNING',
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rank0 = torch.load(work / 'rank0.pth', weights_only=True)
    rank1 = torch.load(work / 'rank1.pth', weights_only=True)
    initial = torch.load(tmp_path / 'cnn.pth', weights_only=True)['state_dict']
    assert set(rank0) == set(rank1)
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0)
    moved = [
        k
        for k, v in initial.items()
        if f'members.cnn.{k}' in rank0
        and not torch.equal(v, rank0[f'members.cnn.{k}'])
    ]
    assert moved, 'training did not change the cnn member'
