"""A non-finite loss stops pair training, naming the member and the
iteration, and leaves the last good checkpoint as it was."""

import math
import os
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS

import bikd_mm  # noqa: F401
from bikd_mm.engine.optimizers import NonFiniteLossError
from bikd_mm.utils.checkpoint import load_checkpoint_file

from ..engine.test_pair_runner import pair_cfg


class PoisonMemberHook(Hook):
    """Before iteration ``at`` (1-based), record the checkpoint on disk and
    make one member's output NaN."""

    def __init__(self, at: int, member: str, checkpoint: str):
        self.at, self.member, self.checkpoint = at, member, checkpoint

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 != self.at:
            return
        self.saved = (
            open(self.checkpoint, 'rb').read(),
            os.stat(self.checkpoint).st_mtime_ns,
        )
        head = runner.model.members[self.member].decode_head.conv_seg
        head.bias.data.fill_(math.nan)


def test_nan_loss_stops_training_and_keeps_the_last_checkpoint(
    tmp_path, seg_data_root
):
    cfg = pair_cfg(tmp_path, seg_data_root, iters=6)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.checkpoint.save_best = None
    cfg.custom_hooks = []
    good = osp.join(cfg.work_dir, 'iter_2.pth')
    runner = RUNNERS.build(cfg)
    poison = PoisonMemberHook(at=3, member='swin', checkpoint=good)
    runner.register_hook(poison)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    message = str(err.value)
    assert "at iteration 3 in member(s) ['swin']" in message
    assert 'swin.decode.loss_ce=nan' in message
    assert 'cnn.' not in message
    # The checkpoint before the fault is untouched and nothing was saved
    # after it.
    assert (open(good, 'rb').read(), os.stat(good).st_mtime_ns) == (
        poison.saved
    )
    assert [p for p in os.listdir(cfg.work_dir) if '.pth' in p] == [
        'iter_2.pth'
    ]
    last = open(osp.join(cfg.work_dir, 'last_checkpoint')).read()
    assert last == good
    saved = load_checkpoint_file(str(good))
    assert saved['meta']['iter'] == 2
    assert all(
        torch.isfinite(v).all()
        for v in saved['state_dict'].values()
        if v.is_floating_point()
    )
