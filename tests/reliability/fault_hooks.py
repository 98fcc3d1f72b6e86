"""Test hooks that stop a training run at a chosen point (imported through
a test config's ``custom_imports``).

The point comes from the environment, so one config serves the run that is
killed and the run that resumes:

- ``BIKD_TEST_STALL=after:<n>``: after iteration ``n`` has finished (and
  before its checkpoint, if any, is saved), write the marker file and
  sleep, waiting to be killed.
- ``BIKD_TEST_STALL=save:<n>``: while the checkpoint of iteration ``n`` is
  being written, after half of its bytes are on disk, write the marker
  file and sleep.
- ``BIKD_TEST_STALL_MARKER``: the marker file.
- ``BIKD_TEST_STALL=die:<rank>:<n>``: rank ``rank`` writes the marker
  and kills itself (SIGKILL) before iteration ``n``; ``hang:<rank>:<n>``:
  it writes the marker and sleeps there instead, alive but silent.

After a resume, the hook saves what the run starts from (iteration,
weights, optimizer and scheduler states) as ``resumed_<iter>.pth`` in the
work dir.
"""

import os
import os.path as osp
import signal
import time

import torch
from mmengine.dist import get_rank
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def _stall(marker: str) -> None:
    with open(marker, 'w') as f:
        f.write(str(os.getpid()))
    while True:
        time.sleep(1)


@HOOKS.register_module()
class StallForKillHook(Hook):
    """Stop at the point ``BIKD_TEST_STALL`` names (see module doc)."""

    def __init__(self):
        spec = os.environ.get('BIKD_TEST_STALL', '')
        self.mode, _, n = spec.partition(':')
        self.rank = None
        if self.mode in ('die', 'hang'):
            rank, _, n = n.partition(':')
            self.rank = int(rank)
        self.at = int(n) if n else None
        self.marker = os.environ.get('BIKD_TEST_STALL_MARKER', '')

    def before_train(self, runner) -> None:
        if runner.iter == 0:
            return
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        state = dict(
            iter=runner.iter,
            state_dict=model.state_dict(),
            optimizer={
                name: wrapper.state_dict()
                for name, wrapper in runner.optim_wrapper.items()
            },
            param_schedulers={
                name: [s.state_dict() for s in schedulers]
                for name, schedulers in runner.param_schedulers.items()
            },
        )
        torch.save(
            state, osp.join(runner.work_dir, f'resumed_{runner.iter}.pth')
        )

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.rank != get_rank() or runner.iter + 1 != self.at:
            return
        if self.mode == 'die':
            with open(self.marker, 'w') as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        _stall(self.marker)

    def after_train_iter(
        self, runner, batch_idx, data_batch=None, outputs=None
    ) -> None:
        if self.mode == 'after' and runner.iter + 1 == self.at:
            _stall(self.marker)

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if self.mode != 'save' or checkpoint['meta']['iter'] != self.at:
            return
        marker = self.marker

        def put_half_then_stall(backend, obj: bytes, filepath) -> None:
            with open(filepath, 'wb') as f:
                f.write(obj[: len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            _stall(marker)

        LocalBackend.put = put_half_then_stall
