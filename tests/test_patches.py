"""Each patch of bikd_mm.patches: active in its block only, undone after
(also after an error), and its failure without it. ``import bikd_mm``
changes none of the patched symbols.

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

import bikd_mm.patches as patches
from bikd_mm.engine.runner import BiKDRunner
from bikd_mm.patches import checkpoint_safe_globals, run_patches
from bikd_mm.utils.checkpoint import load_checkpoint_file


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


def toy_runner(
    work_dir: str, iters: int, resume: bool = False, runner_type=Runner
) -> Runner:
    return runner_type(
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
    # A stock runner inside run_patches (as the bikd_mm tools run one).
    with run_patches():
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
    with patches.checkpoint_globals(), pytest.raises(pickle.UnpicklingError):
        torch.load(_as_file({'x': ToyDataset}))


def test_history_buffer_pickles_without_getattr():
    hub = MessageHub.get_instance('compat_test')
    hub.update_scalar('train/loss', 1.0)
    # torch.save pickles with protocol 2.
    with patches.history_buffer_state():
        data = pickle.dumps(hub.state_dict(), protocol=2)
        blob = _as_file(hub.state_dict())
    assert b'getattr' not in data
    with patches.checkpoint_globals():
        restored = torch.load(blob)
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


def test_bikd_checkpoints_hold_no_getattr(tmp_path):
    """BiKDRunner saves without the statistics registry and resumes in
    weights-only mode; outside it, HistoryBuffer pickles as stock."""
    runner = toy_runner(str(tmp_path), 2, runner_type=BiKDRunner)
    runner.train()
    raw = (tmp_path / 'iter_2.pth').read_bytes()
    assert b'HistoryBuffer' in raw and b'getattr' not in raw
    assert HistoryBuffer.__getstate__ is not patches._history_buffer_getstate
    assert (
        load_checkpoint_file(str(tmp_path / 'iter_2.pth'))['meta']['iter'] == 2
    )
    resumed = toy_runner(str(tmp_path), 4, True, runner_type=BiKDRunner)
    resumed.train()
    assert resumed.iter == 4


def _symbols() -> dict:
    import mmdet.models.dense_heads.mask2former_head as mask2former_head
    import mmengine.dist.utils as dist_utils
    import mmseg.models.decode_heads.decode_head as decode_head

    return dict(
        accuracy=decode_head.accuracy,
        reduce_mean=mask2former_head.reduce_mean,
        getstate=HistoryBuffer.__dict__.get('__getstate__'),
        init_dist_pytorch=dist_utils._init_dist_pytorch,
        safe_globals=frozenset(
            map(str, torch.serialization.get_safe_globals())
        ),
    )


PATCHES = {
    'sync_free_accuracy': (patches.sync_free_accuracy, 'accuracy'),
    'local_mask_count': (patches.local_mask_count, 'reduce_mean'),
    'cpu_dist_init': (patches.cpu_dist_init, 'init_dist_pytorch'),
    'checkpoint_globals': (patches.checkpoint_globals, 'safe_globals'),
    'history_buffer_state': (patches.history_buffer_state, 'getstate'),
}


@pytest.mark.parametrize('name', sorted(PATCHES))
def test_patch_is_scoped(name):
    patch, symbol = PATCHES[name]
    before = _symbols()
    with patch():
        inside = _symbols()
        # Nested use leaves the outer block's patch in place.
        with patch():
            pass
        assert _symbols()[symbol] == inside[symbol]
    assert inside[symbol] != before[symbol]
    assert {k: v for k, v in inside.items() if k != symbol} == {
        k: v for k, v in before.items() if k != symbol
    }
    assert _symbols() == before
    with pytest.raises(KeyError), patch():
        raise KeyError('inside')
    assert _symbols() == before


def test_sync_free_accuracy_disabled_changes_nothing():
    before = _symbols()
    with patches.sync_free_accuracy(enabled=False):
        assert _symbols() == before


def test_import_changes_no_library_symbol():
    """In a fresh interpreter: the patched symbols are the same objects
    before and after importing bikd_mm and all of its modules, and the
    config scope table only gains the ``bikd_mm`` entry."""
    result = run_fresh("""
        import importlib, pkgutil
        import mmdet.models.dense_heads.mask2former_head as m2f
        import mmengine.config.config as config_module
        import mmengine.config.utils as config_utils
        import mmengine.dist.utils as dist_utils
        import mmengine.utils as mmengine_utils
        import mmengine.utils.package_utils as package_utils
        import mmseg.models.decode_heads.decode_head as decode_head
        import mmseg.models.losses as seg_losses
        import torch
        from mmengine.logging.history_buffer import HistoryBuffer

        def symbols():
            return [
                decode_head.accuracy, seg_losses.accuracy, m2f.reduce_mean,
                HistoryBuffer.__dict__.get('__getstate__'),
                HistoryBuffer.__dict__.get('__setstate__'),
                dist_utils._init_dist_pytorch, dist_utils.init_dist,
                package_utils.get_installed_path,
                mmengine_utils.get_installed_path,
                config_module.get_installed_path,
                package_utils.is_installed, config_module.is_installed,
                list(torch.serialization.get_safe_globals()),
            ]

        before = symbols()
        table = dict(config_utils.MODULE2PACKAGE)
        import bikd_mm
        after_import = symbols()
        for info in pkgutil.walk_packages(bikd_mm.__path__, 'bikd_mm.'):
            importlib.import_module(info.name)
        after_all = symbols()
        for name, (a, b, c) in enumerate(zip(before, after_import, after_all)):
            assert a is b or a == b, name
            assert a is c or a == c, name
        added = dict(config_utils.MODULE2PACKAGE)
        assert added.pop('bikd_mm') == 'bikd_mm.patches'
        assert added == table
        print('unchanged')
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith('unchanged')
