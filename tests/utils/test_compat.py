"""Each compatibility fix of bikd_mm.utils.compat, and its failure without.

A fresh interpreter that does not import bikd_mm shows the stock behaviour
of the pinned stack on torch 2.14.
"""

import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner

import bikd_mm  # noqa: F401  (applies the fixes)
from bikd_mm.utils.compat import checkpoint_safe_globals


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=(out - data_samples).pow(2).mean())
        return out


class ToyDataset(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return dict(
            inputs=torch.full((2,), float(idx)),
            data_samples=torch.tensor([float(idx)]),
        )


def toy_runner(work_dir: str, iters: int, resume: bool = False) -> Runner:
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=ToyDataset(),
            batch_size=2,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
        ),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(
            type='LinearLR', by_epoch=False, begin=0, end=iters
        ),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False)
        ),
        resume=resume,
        load_from=osp.join(work_dir, 'iter_2.pth') if resume else None,
        experiment_name=f'toy_{iters}_{resume}',
        log_level='WARNING',
    )


def run_fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_resume_round_trip_in_weights_only_mode(tmp_path):
    runner = toy_runner(str(tmp_path), 2)
    runner.train()
    ckpt = tmp_path / 'iter_2.pth'
    # torch 2.14 defaults to weights_only=True, also inside mmengine.
    saved = torch.load(ckpt)
    assert saved['meta']['iter'] == 2
    resumed = toy_runner(str(tmp_path), 4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    momentum = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert momentum  # optimizer state came back and kept going


def test_stock_loading_fails_without_the_allow_list(tmp_path):
    runner = toy_runner(str(tmp_path), 2)
    runner.train()
    result = run_fresh(f"""
        import torch
        torch.load({str(tmp_path / 'iter_2.pth')!r})
    """)
    assert result.returncode != 0
    assert 'HistoryBuffer' in result.stderr or 'numpy' in result.stderr


def test_allow_list_is_exact():
    allowed = checkpoint_safe_globals()
    assert HistoryBuffer in allowed
    assert np.ndarray in allowed
    assert getattr not in allowed
    # Anything else is still refused.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(_as_file({'x': ToyDataset}))


def test_history_buffer_pickles_without_getattr():
    hub = MessageHub.get_instance('compat_test')
    hub.update_scalar('train/loss', 1.0)
    # torch.save pickles with protocol 2.
    data = pickle.dumps(hub.state_dict(), protocol=2)
    assert b'getattr' not in data
    restored = torch.load(_as_file(hub.state_dict()))
    assert restored['log_scalars']['train/loss'].mean() == 1.0
    assert restored['log_scalars']['train/loss'].current() == 1.0
    stock = run_fresh("""
        import pickle
        from mmengine.logging import MessageHub
        hub = MessageHub.get_instance('x')
        hub.update_scalar('train/loss', 1.0)
        print(b'getattr' in pickle.dumps(hub.state_dict(), protocol=2))
    """)
    assert stock.stdout.strip() == 'True', stock.stderr


def _as_file(obj):
    import io

    blob = io.BytesIO()
    torch.save(obj, blob)
    blob.seek(0)
    return blob
