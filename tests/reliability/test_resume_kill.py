"""A pair run killed with SIGKILL resumes from its last complete checkpoint
with both members' weights, every optimizer and scheduler state and the
iteration counter.

One run of 6 iterations (a checkpoint every 2) is killed twice: first
while ``iter_4.pth`` is being written (half of it on disk), then, resumed
from ``iter_2.pth``, between checkpoints at iteration 5; the last resume
starts from ``iter_4.pth`` and finishes.
"""

import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS

from bikd_mm.engine.runner.checkpoint_files import (
    find_resumable_checkpoint,
    partial_name,
    remove_partial_checkpoints,
    resume_candidates,
)
from bikd_mm.engine.runner.work_dir_lock import LOCK_FILE
from bikd_mm.utils.checkpoint import load_checkpoint_file, save_atomic

from .pair_run import run_train_until_stalled, write_pair_config


def assert_resumed_from(work, iteration: int, saved: dict) -> None:
    """The resumed run started exactly from checkpoint ``saved``."""
    started = load_checkpoint_file(str(work / f'resumed_{iteration}.pth'))
    assert saved['meta']['iter'] == started['iter'] == iteration
    assert set(started['state_dict']) == set(saved['state_dict'])
    assert any(k.startswith('members.cnn.') for k in saved['state_dict'])
    assert any(k.startswith('members.swin.') for k in saved['state_dict'])
    torch.testing.assert_close(
        started['state_dict'], saved['state_dict'], rtol=0, atol=0
    )
    for name in ('cnn', 'swin'):
        want, got = saved['optimizer'][name], started['optimizer'][name]
        assert want['state'], f'{name}: no optimizer state was saved'
        torch.testing.assert_close(got['state'], want['state'], rtol=0, atol=0)
        assert got['param_groups'] == want['param_groups']
        assert (
            started['param_schedulers'][name]
            == saved['param_schedulers'][name]
        )
        assert saved['param_schedulers'][name][0]['last_step'] == iteration


def test_killed_runs_resume_from_the_last_complete_checkpoint(
    tmp_path, seg_data_root
):
    # Keeping one checkpoint: the previous one may only be deleted once the
    # next one is complete.
    config = write_pair_config(
        tmp_path, seg_data_root, iters=6, max_keep_ckpts=1
    )
    work = tmp_path / 'work'
    marker = tmp_path / 'stalled'
    args = [config, '--work-dir', str(work)]

    # 1. Killed while iter_4.pth is being written.
    run_train_until_stalled(*args, stall='save:4', marker=marker)
    assert sorted(p for p in os.listdir(work) if p.endswith('.pth')) == [
        'iter_2.pth'
    ]
    # The partial file is named for its writer: .iter_4.pth.<pid>-<x>.part
    (partial,) = work.glob('.iter_4.pth.*.part')
    assert 0 < osp.getsize(partial) < osp.getsize(work / 'iter_2.pth')
    # The killed run's lock file stays, unlocked: the resumes below start.
    assert (work / LOCK_FILE).is_file()
    assert (work / 'last_checkpoint').read_text().endswith('iter_2.pth')
    iter_2 = load_checkpoint_file(str(work / 'iter_2.pth'))

    # 2. Resumed from iter_2.pth, killed between checkpoints (after
    # iteration 5 ran, iter_4.pth being complete).
    run_train_until_stalled(*args, '--resume', stall='after:5', marker=marker)
    assert not partial.exists()
    assert_resumed_from(work, 2, iter_2)
    assert sorted(p for p in os.listdir(work) if '.pth' in p) == [
        'iter_4.pth',
        'resumed_2.pth',
    ]
    iter_4 = load_checkpoint_file(str(work / 'iter_4.pth'))

    # 3. Resumed from iter_4.pth (in this process, as tools/train.py
    # --resume sets it up): finishes.
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work)
    cfg.resume = True
    RUNNERS.build(cfg).train()
    assert_resumed_from(work, 4, iter_4)
    final = load_checkpoint_file(str(work / 'iter_6.pth'))
    assert final['meta']['iter'] == 6
    assert not [p for p in os.listdir(work) if p.endswith('.part')]


def save_training_checkpoint(path, iteration: int) -> None:
    torch.save(
        dict(
            meta=dict(iter=iteration, epoch=0),
            state_dict={'w': torch.full((2,), float(iteration))},
        ),
        path,
    )


def test_resume_skips_unreadable_checkpoints(tmp_path):
    for iteration in (2, 4, 6):
        save_training_checkpoint(tmp_path / f'iter_{iteration}.pth', iteration)
    whole = (tmp_path / 'iter_6.pth').read_bytes()
    (tmp_path / 'iter_6.pth').write_bytes(whole[: len(whole) // 2])
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    (tmp_path / 'best_w_iter_8.pth').write_bytes(b'')  # not a candidate
    last = tmp_path / 'last_checkpoint'
    last.write_text(str(tmp_path / 'iter_6.pth'))
    assert resume_candidates(str(tmp_path)) == [
        str(tmp_path / f'iter_{i}.pth') for i in (6, 4, 2)
    ]
    path, checkpoint = find_resumable_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'iter_2.pth')
    assert checkpoint['meta']['iter'] == 2

    # An empty last_checkpoint (killed while the hook rewrote it): the
    # numbered files decide.
    save_training_checkpoint(tmp_path / 'iter_6.pth', 6)
    last.write_text('')
    path, _ = find_resumable_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'iter_6.pth')


def test_resume_refuses_when_no_checkpoint_loads(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    (tmp_path / 'iter_2.pth').write_bytes(b'garbage')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    with pytest.raises(RuntimeError) as err:
        find_resumable_checkpoint(str(tmp_path))
    message = str(err.value)
    assert f'no complete checkpoint in {tmp_path}' in message
    assert f'{tmp_path / "iter_4.pth"}: resume: checkpoint file not found' in (
        message
    )
    assert f'{tmp_path / "iter_2.pth"}: resume: cannot read' in message


def test_interrupted_atomic_save_keeps_the_old_file(tmp_path):
    path = tmp_path / 'swin.pth'
    save_atomic({'w': torch.ones(2)}, str(path))
    before = path.read_bytes()
    with pytest.raises(AttributeError, match='pickle'):
        save_atomic({'w': lambda: None}, str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['swin.pth']
    partial = tmp_path / partial_name('iter_2.pth')
    partial.write_bytes(b'half')
    assert remove_partial_checkpoints(str(tmp_path)) == [str(partial)]
    assert os.listdir(tmp_path) == ['swin.pth']
