"""Checkpoints are unpickled with ``weights_only=True``: a planted file
whose unpickling would run code is refused, by every loader, with a
message that says how to opt in; opting in loads it."""

import os.path as osp
import pathlib

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmseg.registry import MODELS as SEG_MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.runner.checkpoint_files import find_resumable_checkpoint
from bikd_mm.models.member import build_member, parse_members
from bikd_mm.utils.checkpoint import (
    UNSAFE_ENV,
    UnsafeCheckpointError,
    load_checkpoint_file,
)
from bikd_mm.utils.export import export_member
from tests.models.segmentors.seg_fixtures import member

from ..engine.test_pair_runner import pair_cfg

OPT_IN = (
    r'`allow_unsafe_checkpoint=True` in the config, '
    r'`--allow-unsafe-checkpoint` on the command line, or '
    f'{UNSAFE_ENV}=1'
)


class Payload:
    """Unpickling it creates ``path``: stands for arbitrary code."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.path),)


def plant(path, evidence, state_dict=None) -> str:
    """A checkpoint with usable weights and a payload next to them."""
    torch.save(
        dict(
            state_dict=state_dict or {'members.cnn.w': torch.ones(1)},
            meta=dict(iter=2, epoch=0),
            payload=Payload(str(evidence)),
        ),
        path,
    )
    return str(path)


@pytest.fixture
def no_opt_in(monkeypatch):
    monkeypatch.setenv(UNSAFE_ENV, '0')


def test_planted_file_is_refused_by_every_loader(tmp_path, no_opt_in):
    evidence = tmp_path / 'code_ran'
    path = plant(tmp_path / 'iter_2.pth', evidence)
    refusals = [
        lambda: load_checkpoint_file(path, owner='test'),
        lambda: export_member(path, 'cnn', str(tmp_path / 'cnn.pth')),
        lambda: find_resumable_checkpoint(str(tmp_path)),
    ]
    for load in refusals:
        with pytest.raises(UnsafeCheckpointError, match=OPT_IN):
            load()
    assert not evidence.exists()
    assert not osp.exists(tmp_path / 'cnn.pth')


def test_planted_member_checkpoint_is_refused(tmp_path, no_opt_in):
    spec = parse_members([member('cnn'), member('swin')])[1]
    evidence = tmp_path / 'code_ran'
    path = plant(
        tmp_path / 'swin.pth',
        evidence,
        build_member(spec, SEG_MODELS).state_dict(),
    )
    spec.checkpoint = path
    with pytest.raises(
        UnsafeCheckpointError, match=f"member 'swin': {path} holds objects"
    ):
        build_member(spec, SEG_MODELS)
    assert not evidence.exists()


def test_opt_in_loads_the_file(tmp_path, monkeypatch, no_opt_in):
    evidence = tmp_path / 'code_ran'
    path = plant(tmp_path / 'iter_2.pth', evidence)
    loaded = load_checkpoint_file(path, allow_unsafe=True)
    assert evidence.exists()
    torch.testing.assert_close(
        loaded['state_dict']['members.cnn.w'], torch.ones(1)
    )
    evidence.unlink()
    monkeypatch.setenv(UNSAFE_ENV, '1')
    load_checkpoint_file(path)
    assert evidence.exists()


def test_runner_refuses_a_planted_load_from_unless_the_config_opts_in(
    tmp_path, seg_data_root, no_opt_in
):
    cfg = pair_cfg(tmp_path, seg_data_root)
    # Weights unlike the members' own checkpoints, to see they are loaded.
    state = {
        f'members.{name}.{key}': value + 1
        for name in ('cnn', 'swin')
        for key, value in load_checkpoint_file(str(tmp_path / f'{name}.pth'))[
            'state_dict'
        ].items()
    }
    evidence = tmp_path / 'code_ran'
    path = plant(tmp_path / 'planted.pth', evidence, state)
    cfg.load_from = path
    runner = RUNNERS.build(cfg)
    with pytest.raises(UnsafeCheckpointError, match='runner: .*planted.pth'):
        runner.load_or_resume()
    assert not evidence.exists()

    cfg = Config(cfg.to_dict())
    cfg.allow_unsafe_checkpoint = True
    runner = RUNNERS.build(cfg)
    runner.load_or_resume()
    assert evidence.exists()
    for key, value in state.items():
        torch.testing.assert_close(runner.model.state_dict()[key], value)
