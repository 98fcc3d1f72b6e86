"""Checkpoints that do not fit: a member loaded with ``strict=False``, a
``load_from`` file and a resume from a checkpoint of another run. Each is
refused, or reported, saying what the file holds; the file and the work
dir are left as they were."""

import copy
import logging
import os
import os.path as osp
import re
import shutil

import pytest
import torch
from mmengine.registry import RUNNERS
from mmseg.registry import MODELS as SEG_MODELS

from bikd_mm.models.member import build_member, parse_members
from bikd_mm.utils.checkpoint import load_checkpoint_file
from bikd_mm.utils.export import export_member
from tests.models.segmentors.seg_fixtures import member

from .conftest import Records, snapshot


def swin_state() -> dict:
    spec = parse_members([member('cnn'), member('swin')])[1]
    torch.manual_seed(1)
    return build_member(spec, SEG_MODELS).state_dict()


def build_swin(path, **options):
    spec = parse_members(
        [member('cnn'), member('swin', checkpoint=path, **options)]
    )[1]
    return build_member(spec, SEG_MODELS)


def strict_false_checkpoint_matching_nothing(tmp_path):
    """An ImageNet-style backbone file (keys without ``backbone.``) loaded
    with ``strict=False``: stock, the member trains from random weights
    without a word."""
    state = {
        k[len('backbone.') :]: v
        for k, v in swin_state().items()
        if k.startswith('backbone.')
    }
    path = str(tmp_path / 'swin_imagenet.pth')
    torch.save(dict(state_dict=state), path)
    before = snapshot(tmp_path)
    with pytest.raises(
        RuntimeError,
        match=f"member 'swin': checkpoint {path} \\(strict=False\\) loaded "
        r'0 of \d+ tensors; missing \d+, unexpected \d+, mis-shaped 0: 0% '
        r'of the model, below min_loaded=0.5.*Lower min_loaded',
    ):
        build_swin(path, strict=False)
    # The threshold is the member's min_loaded: 0 accepts it, reported.
    with Records(logging.WARNING) as records:
        build_swin(path, strict=False, min_loaded=0)
    assert any(
        f"member 'swin': checkpoint {path}: loaded 0 of" in m
        for m in records.messages
    )
    assert snapshot(tmp_path) == before


def strict_false_checkpoint_partly_matching(tmp_path):
    """Reported per member at load: loaded, missing, unexpected and
    mis-shaped counts; the matching tensors are loaded."""
    state = swin_state()
    keys = list(state)
    head = [k for k in keys if k.startswith('decode_head.')]
    partial = {k: v for k, v in state.items() if k not in head}
    bad = next(k for k in partial if partial[k].ndim == 1)
    partial[bad] = torch.zeros(partial[bad].numel() + 1)
    partial['extra.weight'] = torch.ones(1)
    path = str(tmp_path / 'swin_partial.pth')
    torch.save(dict(state_dict=partial), path)
    with Records(logging.WARNING) as records:
        model = build_swin(path, strict=False)
    loaded = len(keys) - len(head) - 1
    assert (
        f"member 'swin': checkpoint {path}: loaded {loaded} of {len(keys)} "
        f'tensors; missing {len(head)}, unexpected 1, mis-shaped 1'
    ) in records.messages
    got = model.state_dict()
    some = next(k for k in partial if k != bad and k in got)
    torch.testing.assert_close(got[some], partial[some])


def load_from_single_model_file(tmp_path, trained_pair):
    """``load_from`` a member's own checkpoint: stock, mmengine loads no
    tensor and warns of missing keys; the pair trains from the members'
    checkpoints as if load_from were not set."""
    cfg = copy.deepcopy(trained_pair['cfg'])
    cfg.work_dir = str(tmp_path / 'work')
    member_file = cfg.model.members[0].checkpoint
    cfg.load_from = member_file
    runner = RUNNERS.build(cfg)
    with pytest.raises(
        RuntimeError,
        match=f'load_from: {member_file} is the weights of a single model '
        r"\(a member checkpoint\).*members \['cnn', 'swin'\] get less than "
        r'load_from_min_loaded=0.5.*cnn: loaded 0 of .*give it as that '
        r"member's checkpoint \(model.members\[i\].checkpoint\)",
    ):
        runner.load_or_resume()
    # A pair checkpoint loads, reported per member.
    cfg = copy.deepcopy(trained_pair['cfg'])
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = trained_pair['checkpoint']
    runner = RUNNERS.build(cfg)
    with Records() as records:
        runner.load_or_resume()
    state = load_checkpoint_file(str(trained_pair['checkpoint']))
    total = sum(1 for k in state['state_dict'] if k.startswith('members.cnn.'))
    assert any(
        f'cnn: loaded {total} of {total} tensors; missing 0' in m
        for m in records.messages
    )


def file_state(path) -> tuple | None:
    if not osp.exists(path):
        return None
    with open(path, 'rb') as f:
        return os.stat(path).st_mtime_ns, f.read()


def resume(
    tmp_path,
    trained_pair,
    match=None,
    members=None,
    checkpoint=None,
    error=RuntimeError,
):
    """Resume the trained pair (other ``members`` or another
    ``checkpoint``); with ``match``, expect the refusal (``{path}``: the
    checkpoint). The checkpoint must stay unchanged and the work dir must
    get no checkpoint."""
    cfg = copy.deepcopy(trained_pair['cfg'])
    cfg.work_dir = str(tmp_path / 'work')
    if checkpoint is None:
        checkpoint = str(tmp_path / 'iter_2.pth')
        shutil.copy(trained_pair['checkpoint'], checkpoint)
    if members is not None:
        cfg.model.members = members
    cfg.resume = True
    cfg.load_from = checkpoint
    before = file_state(checkpoint)
    runner = RUNNERS.build(cfg)
    if match is None:
        runner.load_or_resume()
    else:
        with pytest.raises(
            error, match=match.replace('{path}', re.escape(checkpoint))
        ):
            runner.load_or_resume()
    assert file_state(checkpoint) == before
    assert not [f for f in os.listdir(cfg.work_dir) if f.endswith('.pth')]
    return runner


def pair_members(cfg, *names_and_sources) -> list:
    """Member dicts named ``name`` with the settings of ``source``."""
    by_name = {m.name: m for m in cfg.model.members}
    out = []
    for name, source in names_and_sources:
        entry = copy.deepcopy(dict(by_name[source]))
        entry['name'] = name
        out.append(entry)
    return out


DECLARED = "the config declares \\['{}', '{}'\\]"


def resume_after_member_renamed(tmp_path, trained_pair):
    """Stock: ``Mismatched state_dict! cannot found cnn in
    OptimWrapperDict``."""
    members = pair_members(
        trained_pair['cfg'], ('cnn', 'cnn'), ('vit', 'swin')
    )
    resume(
        tmp_path,
        trained_pair,
        r"resume: {path} is a pair training checkpoint with members \['cnn', "
        r"'swin'\] \(in this order\); "
        + DECLARED.format('cnn', 'vit')
        + r" \(\['swin'\] not in the config, \['vit'\] not in the "
        r'checkpoint\).*load_from',
        members=members,
    )


def resume_after_member_added(tmp_path, trained_pair):
    members = pair_members(
        trained_pair['cfg'], ('cnn', 'cnn'), ('swin', 'swin'), ('cnn2', 'cnn')
    )
    resume(
        tmp_path,
        trained_pair,
        r"resume: {path} is a pair .*config declares \['cnn', 'swin', "
        r"'cnn2'\] \(\['cnn2'\] not in the checkpoint\)",
        members=members,
    )


def resume_after_member_removed(tmp_path, trained_pair):
    """A checkpoint of three members, a config of two of them."""
    state = load_checkpoint_file(str(trained_pair['checkpoint']))
    for key in list(state['state_dict']):
        if key.startswith('members.cnn.'):
            new = key.replace('members.cnn.', 'members.cnn2.', 1)
            state['state_dict'][new] = state['state_dict'][key].clone()
    for part in ('optimizer', 'param_schedulers'):
        state[part]['cnn2'] = copy.deepcopy(state[part]['cnn'])
    path = str(tmp_path / 'three.pth')
    torch.save(state, path)
    resume(
        tmp_path,
        trained_pair,
        r"resume: {path} is a pair training checkpoint with members \['cnn', "
        r"'swin', 'cnn2'\] .*\(\['cnn2'\] not in the config\)",
        checkpoint=path,
    )


def resume_after_members_reordered(tmp_path, trained_pair):
    members = pair_members(
        trained_pair['cfg'], ('swin', 'swin'), ('cnn', 'cnn')
    )
    resume(
        tmp_path,
        trained_pair,
        r'resume: {path} is a pair .*'
        + DECLARED.format('swin', 'cnn')
        + r' \(the same members in another order\).*decides ties',
        members=members,
    )


def resume_after_member_architecture_changed(tmp_path, trained_pair):
    """Same names, but member ``swin`` is now built from cnn's config."""
    members = pair_members(
        trained_pair['cfg'], ('cnn', 'cnn'), ('swin', 'cnn')
    )
    resume(
        tmp_path,
        trained_pair,
        r"resume: member 'swin' of {path} does not match the config's model "
        r"'swin' .*loaded \d+ of \d+ tensors; missing \d+, unexpected \d+",
        members=members,
    )


def resume_from_member_checkpoint(tmp_path, trained_pair):
    """Stock: ``KeyError: 'meta'``."""
    member_file = trained_pair['cfg'].model.members[1].checkpoint
    resume(
        tmp_path,
        trained_pair,
        r'resume: {path} is the weights of a single model \(a member '
        r'checkpoint\), without training state, not a training checkpoint of '
        r"a Bi-KD pair; the config declares the members \['cnn', 'swin'\]"
        r".*give it as that member's checkpoint",
        checkpoint=member_file,
    )


def resume_from_single_model_run(tmp_path, trained_pair):
    """The checkpoint of a stock run of one model (its ``state_dict``,
    ``optimizer`` and ``param_schedulers`` of one model)."""
    state = load_checkpoint_file(str(trained_pair['checkpoint']))
    prefix = 'members.cnn.'
    single = dict(
        meta=state['meta'],
        state_dict={
            k[len(prefix) :]: v
            for k, v in state['state_dict'].items()
            if k.startswith(prefix)
        },
        message_hub=state['message_hub'],
        optimizer=state['optimizer']['cnn'],
        param_schedulers=state['param_schedulers']['cnn'],
    )
    path = str(tmp_path / 'cnn_run_iter_2.pth')
    torch.save(single, path)
    resume(
        tmp_path,
        trained_pair,
        r'resume: {path} is a single-model training checkpoint \(a run of one '
        r'model, not a Bi-KD pair\), not a training checkpoint of a Bi-KD '
        r'pair.*load_from',
        checkpoint=path,
    )


def resume_from_exported_file(tmp_path, trained_pair):
    """Stock: ``KeyError: 'message_hub'``."""
    path = str(tmp_path / 'swin_exported.pth')
    export_member(trained_pair['checkpoint'], 'swin', path)
    resume(
        tmp_path,
        trained_pair,
        r"resume: {path} is a member exported from a pair \(member 'swin' of "
        r'.*iter_2.pth\), model weights only, not a training checkpoint',
        checkpoint=path,
    )


def resume_file_missing(tmp_path, trained_pair):
    path = str(tmp_path / 'iter_9.pth')
    resume(
        tmp_path,
        trained_pair,
        r'runner: checkpoint file not found: {path}',
        checkpoint=path,
        error=FileNotFoundError,
    )
