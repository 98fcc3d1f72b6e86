"""Member descriptions parse the same every time they are parsed."""

import copy
import os.path as osp

from mmengine.config import Config

from bikd_mm.models.member import parse_members

from ..conftest import REPO

MEMBER = osp.join(REPO, 'configs/bikd/demo/members/resnet-tiny_digits.py')


def test_delete_in_cfg_options_holds_on_every_parse():
    # A completed pair config is parsed again when the model is built; its
    # member dicts are ConfigDicts, which merging would change.
    ce = dict(_delete_=True, type='CrossEntropyLoss', loss_weight=0.5)
    members = Config(
        dict(
            members=[
                dict(
                    name=n, config=MEMBER, cfg_options={'model.head.loss': ce}
                )
                for n in ('a', 'b')
            ]
        )
    ).members
    before = copy.deepcopy(members)
    for _ in range(2):
        for spec in parse_members(members):
            assert dict(spec.model.head.loss) == dict(
                type='CrossEntropyLoss', loss_weight=0.5
            )
    assert members == before
