"""The files a segmentation pair's default training step runs through
(the list in ``docs/layout.md``, "One training step")."""

import os.path as osp
import sys

import torch
from mmseg.registry import MODELS

import bikd_mm
from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor

from .seg_fixtures import fake_batch, member

PACKAGE = osp.dirname(osp.abspath(bikd_mm.__file__))
STEP_FILES = {
    'models/base_bikd_model.py',
    'models/segmentors/bikd_segmentor.py',
    'models/segmentors/member_adapters.py',
    'patches.py',
}


def test_default_step_runs_in_four_files_besides_core():
    torch.manual_seed(0)
    pair = MODELS.build(
        dict(type='BiKDSegmentor', members=[member('cnn'), member('swin')])
    )
    optim = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01))
    wrappers = BiKDOptimWrapperConstructor(dict(cnn=optim, swin=optim))(pair)
    batch = fake_batch()
    seen = set()

    def record(frame, event, arg):
        if event == 'call':
            seen.add(frame.f_code.co_filename)

    sys.setprofile(record)
    try:
        log_vars = pair.train_step(batch, wrappers)
    finally:
        sys.setprofile(None)
    assert torch.isfinite(log_vars['loss'])
    files = {
        osp.relpath(f, PACKAGE).replace(osp.sep, '/')
        for f in seen
        if osp.abspath(f).startswith(PACKAGE + osp.sep)
    }
    core = {f for f in files if f.startswith('core/')}
    assert core, 'the KD term is computed in bikd_mm/core'
    assert files - core == STEP_FILES
