"""Members given as a dict keyed by name: a derived config or
``--cfg-options model.members.<name>...`` changes one member and keeps
the others; the order of the dict is the member order."""

import pytest
from mmengine.config import Config
from mmengine.registry import RUNNERS

import bikd_mm  # noqa: F401
from bikd_mm.models.member import member_list, parse_members
from bikd_mm.utils.config import load_config

from ..engine.test_pair_runner import pair_cfg


def write_pair_by_name(tmp_path, data_root) -> str:
    """A user's pair config with ``members=dict(...)`` (as in the docs)."""
    cfg = pair_cfg(tmp_path, data_root)
    by_name = {m['name']: dict(m) for m in cfg.model.members}
    for member in by_name.values():
        member.pop('name')
    cfg.model.members = by_name
    cfg.custom_hooks = []
    path = tmp_path / 'pair_by_name.py'
    cfg.dump(str(path))
    return str(path)


def test_derived_config_changes_one_member(tmp_path, seg_data_root):
    base = write_pair_by_name(tmp_path, seg_data_root)
    derived = tmp_path / 'pair_swin_strict_off.py'
    derived.write_text(
        f'_base_ = [{base!r}]\n'
        'model = dict(members=dict(swin=dict(strict=False)))\n'
    )
    specs = parse_members(Config.fromfile(str(derived)).model.members)
    assert [s.name for s in specs] == ['cnn', 'swin']
    assert [s.strict for s in specs] == [True, False]
    assert specs[0].checkpoint == str(tmp_path / 'cnn.pth')
    assert specs[1].checkpoint == str(tmp_path / 'swin.pth')
    runner = RUNNERS.build(Config.fromfile(str(derived)))
    assert runner.model.member_names == ['cnn', 'swin']
    assert set(runner.cfg.optim_wrapper) == {'constructor', 'cnn', 'swin'}


def test_command_line_overrides_one_member(tmp_path, seg_data_root):
    base = write_pair_by_name(tmp_path, seg_data_root)
    other = str(tmp_path / 'other.pth')
    cfg = load_config(base, {'model.members.swin.checkpoint': other})
    specs = parse_members(cfg.model.members)
    assert specs[1].checkpoint == other
    assert specs[0].checkpoint == str(tmp_path / 'cnn.pth')
    with pytest.raises(KeyError, match="'model.members.vit' is not in"):
        load_config(base, {'model.members.vit.checkpoint': other})


def test_a_keyed_member_may_not_carry_another_name():
    with pytest.raises(ValueError, match='members.a: "name" is \'b\''):
        member_list(dict(a=dict(name='b', model={}), c=dict(model={})))
