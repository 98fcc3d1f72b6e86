"""tools/dist_train.sh with a pair: 2 CPU processes (gloo) end with the same
weights on both ranks."""

import os
import os.path as osp
import socket
import subprocess
import sys

import torch
from mmengine.config import Config

from bikd_mm.utils.checkpoint import load_checkpoint_file
from tests.models.segmentors.seg_fixtures import MEMBER_CONFIGS

from ..conftest import REPO
from .test_pair_runner import PAIR, write_member_checkpoints


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def train_on_two_ranks(
    tmp_path,
    data_root: str,
    members: list | None = None,
    model: dict | None = None,
    train_dataloader: dict | None = None,
    iters: int = 3,
) -> list:
    """Train the demo pair config for ``iters`` steps on 2 gloo processes.

    Args:
        tmp_path (Path): Where the config, checkpoints and work dir go.
        data_root (str): The digits segmentation data.
        members (list, optional): Member dicts replacing the demo's (their
            checkpoints are written here from a random initialisation).
        model (dict, optional): Further ``model`` settings of the pair.
        train_dataloader (dict, optional): Merged into the training
            dataloader.
        iters (int): Training steps.

    Returns:
        list[dict]: Each rank's ``RankWeightsHook`` record.
    """
    cfg = Config.fromfile(PAIR)
    if members is not None:
        cfg.model.members = members
    write_member_checkpoints(cfg, str(tmp_path))
    model = dict(model or {}, members=cfg.model.members)
    train_dataloader = {'batch_size': 2, **(train_dataloader or {})}
    train_dataloader.setdefault('dataset', {})['data_root'] = data_root
    config = tmp_path / 'pair_dist.py'
    config.write_text(
        f'_base_ = [{PAIR!r}]\n'
        "custom_imports = dict(imports=['bikd_mm', "
        "'tests.engine.rank_weights_hook'], allow_failed_imports=False)\n"
        f'model = dict({", ".join(f"{k}={v!r}" for k, v in model.items())})\n'
        "custom_hooks = [dict(type='RankWeightsHook')]\n"
        'default_hooks = dict(checkpoint=dict(save_best='
        f'{[m["name"] + "/mIoU" for m in cfg.model.members]!r}))\n'
        f'train_dataloader = {train_dataloader!r}\n'
        'val_dataloader = dict(batch_size=2, dataset=dict('
        f'data_root={data_root!r}))\n'
        'test_dataloader = val_dataloader\n'
        # A lost or hanging rank fails the test in a minute.
        "env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=60))\n"
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
            f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters}',
            f'param_scheduler.0.end={iters}',
            f'default_hooks.checkpoint.interval={iters}',
            'log_level=WARNING',
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return [
        load_checkpoint_file(str(work / f'rank{rank}.pth')) for rank in (0, 1)
    ]


def assert_same_and_trained(ranks: list, tmp_path, member: str) -> None:
    """Both ranks hold the same parameters, and ``member``'s moved."""
    rank0, rank1 = (r['params'] for r in ranks)
    assert set(rank0) == set(rank1)
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0)
    initial = load_checkpoint_file(str(tmp_path / f'{member}.pth'))
    moved = [
        k
        for k, v in initial['state_dict'].items()
        if f'members.{member}.{k}' in rank0
        and not torch.equal(v, rank0[f'members.{member}.{k}'])
    ]
    assert moved, f'training did not change the {member} member'


def test_two_process_pair_training_keeps_ranks_in_sync(
    tmp_path, seg_data_root
):
    ranks = train_on_two_ranks(tmp_path, seg_data_root)
    assert_same_and_trained(ranks, tmp_path, 'cnn')


def test_two_process_mask2former_pair_with_image_task_loss(
    tmp_path, seg_data_root
):
    """Per-image selection by each image's Mask2Former loss counts masks
    per process; with batches of different sizes on the two ranks (23
    images, no padding: 12 and 11) the ranks neither hang nor drift."""
    config = osp.join(REPO, MEMBER_CONFIGS['m2f'])
    ranks = train_on_two_ranks(
        tmp_path,
        seg_data_root,
        members=[
            dict(name='m2f', config=config),
            dict(name='m2f_b', config=config),
        ],
        model=dict(granularity='image', selection_loss='task_loss'),
        train_dataloader=dict(
            batch_size=4,
            sampler=dict(round_up=False),
            dataset=dict(indices=23),
        ),
    )
    assert [r['batch_sizes'] for r in ranks] == [[4, 4, 4], [4, 4, 3]]
    assert_same_and_trained(ranks, tmp_path, 'm2f')
    assert_same_and_trained(ranks, tmp_path, 'm2f_b')
