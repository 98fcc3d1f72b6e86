"""``optim_wrapper_override``: a pair config changes a few values of each
member's own optimizer wrapper and keeps the rest; every member's own
gradient clipping is applied to that member only."""

import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import bikd_mm  # noqa: F401
from bikd_mm.engine.optimizers.member_step import update_members
from bikd_mm.engine.runner import BiKDRunner, expand_pair_config
from bikd_mm.engine.runner.optim_wrapper_override import apply_override
from bikd_mm.engine.runner.paramwise_check import check_paramwise_cfg

from ..conftest import REPO

M2F_OWN = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)
    ),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1, decay_mult=1.0),
            'query_embed': dict(lr_mult=1.0, decay_mult=0.0),
        },
        norm_decay_mult=0.0,
    ),
)
SGD_OWN = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    clip_grad=None,
)
REFERENCE = dict(optimizer=dict(lr=1e-6, weight_decay=1e-5))


def own_wrappers() -> dict:
    return copy.deepcopy(dict(m2f=M2F_OWN, cnn=SGD_OWN))


def test_override_for_every_member_keeps_the_rest():
    merged = apply_override(
        own_wrappers(),
        dict(
            REFERENCE,
            paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.2))),
        ),
    )
    m2f = merged['m2f']
    assert m2f['optimizer'] == dict(
        type='AdamW', lr=1e-6, weight_decay=1e-5, eps=1e-8, betas=(0.9, 0.999)
    )
    assert m2f['clip_grad'] == dict(max_norm=0.01, norm_type=2)
    keys = m2f['paramwise_cfg']['custom_keys']
    assert keys['backbone'] == dict(lr_mult=0.2, decay_mult=1.0)
    assert keys['query_embed'] == dict(lr_mult=1.0, decay_mult=0.0)
    assert m2f['paramwise_cfg']['norm_decay_mult'] == 0.0
    # A member without parameter groups gets the ones the override names.
    assert merged['cnn'] == dict(
        SGD_OWN,
        optimizer=dict(type='SGD', lr=1e-6, momentum=0.9, weight_decay=1e-5),
        paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.2))),
    )
    # The members' own settings are left as they were.
    assert own_wrappers()['m2f']['optimizer']['lr'] == 1e-4


def test_override_per_member_and_replacing_a_dict():
    own = own_wrappers()
    merged = apply_override(
        own,
        dict(
            cnn=dict(
                optimizer=dict(
                    _delete_=True, type='AdamW', lr=1e-6, weight_decay=1e-5
                ),
                clip_grad=dict(max_norm=1.0),
            )
        ),
    )
    assert merged['m2f'] == own['m2f']
    assert merged['cnn'] == dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-6, weight_decay=1e-5),
        clip_grad=dict(max_norm=1.0),
    )
    # ``None`` drops a setting, as in config inheritance.
    merged = apply_override(own, dict(m2f=dict(clip_grad=None)))
    assert merged['m2f']['clip_grad'] is None


@pytest.mark.parametrize(
    'override, error, match',
    [
        (
            dict(m2f=REFERENCE, optimizer=dict(lr=1.0)),
            KeyError,
            r"\['optimizer'\] are not member names but \['m2f'\]",
        ),
        (
            dict(clip_grads=dict(max_norm=1.0)),
            KeyError,
            r"'clip_grads' is not a key of member 'm2f'.*OptimWrapper",
        ),
        (
            dict(clip_grad=dict(max_norms=1.0)),
            KeyError,
            r"'m2f': clip_grad \['max_norms'\] are not among .*'max_norm'",
        ),
        (
            dict(paramwise_cfg=dict(norm_decay_mul=0.0)),
            KeyError,
            r"'m2f': paramwise_cfg \['norm_decay_mul'\] are not read by "
            r'DefaultOptimWrapperConstructor',
        ),
        (
            dict(m2ff=REFERENCE),
            KeyError,
            r"'m2ff' is not a key .*members: \['m2f', 'cnn'\]",
        ),
        (
            dict(cnn=dict(optimizer=dict(type='AdamW'))),
            KeyError,
            r"'cnn': optimizer.momentum is not an argument of AdamW "
            r'\(kept from its own SGD optimizer; replace the optimizer with '
            r'optimizer=dict\(_delete_=True',
        ),
        (
            dict(optimizer=dict(learning_rate=1e-6)),
            KeyError,
            r"'m2f': optimizer.learning_rate is not an argument of AdamW "
            r"\(AdamW takes \[.*'lr'",
        ),
        (dict(cnn=0.1), TypeError, r'optim_wrapper_override.cnn: expected'),
        ([REFERENCE], TypeError, r'optim_wrapper_override: expected a dict'),
    ],
)
def test_bad_overrides_name_the_key(override, error, match):
    with pytest.raises(error, match=match):
        apply_override(own_wrappers(), override)


def demo_pair() -> Config:
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/bikd/demo/seg_pair_digits.py')
    )
    for member in cfg.model.members:
        member['checkpoint'] = None
    return cfg


def test_expansion_merges_into_the_completed_wrappers():
    # Each member's own wrapper: no top-level optim_wrapper.
    cfg = demo_pair()
    cfg.optim_wrapper = None
    cfg.optim_wrapper_override = dict(optimizer=dict(lr=1e-5))
    expand_pair_config(cfg)
    assert 'optim_wrapper_override' not in cfg
    cnn, swin = cfg.optim_wrapper.cnn, cfg.optim_wrapper.swin
    assert (cnn.optimizer.lr, cnn.optimizer.weight_decay) == (1e-5, 0.01)
    assert swin.optimizer.lr == 1e-5
    assert swin.optimizer.betas == (0.9, 0.999)
    assert swin.paramwise_cfg.custom_keys.absolute_pos_embed.decay_mult == 0
    # A completed config completes to itself.
    completed = cfg.optim_wrapper.to_dict()
    expand_pair_config(cfg)
    assert cfg.optim_wrapper.to_dict() == completed
    # The override also applies on top of the pair config's own wrapper.
    cfg = demo_pair()
    cfg.optim_wrapper_override = dict(swin=dict(clip_grad=dict(max_norm=2)))
    expand_pair_config(cfg)
    assert cfg.optim_wrapper.swin.optimizer.lr == 2e-4
    assert cfg.optim_wrapper.swin.clip_grad == dict(max_norm=2)
    assert 'clip_grad' not in cfg.optim_wrapper.cnn


class TwoMembers(nn.Module):
    """The part of a Bi-KD model the optimizer constructor reads."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.members = nn.ModuleDict(
            dict(m2f=nn.Linear(4, 3), cnn=nn.Linear(4, 3))
        )


def test_each_member_clips_its_own_gradients():
    own = own_wrappers()
    for wrapper in own.values():
        # Plain gradient steps make the update equal lr x gradient.
        wrapper['optimizer'] = dict(type='SGD', lr=0.5)
        wrapper.pop('paramwise_cfg', None)
    wrappers = apply_override(own, dict(optimizer=dict(lr=1.0)))
    pair = TwoMembers()
    optim = build_optim_wrapper(
        pair,
        dict(constructor='BiKDOptimWrapperConstructor', **wrappers),
    )
    before = {
        n: [p.detach().clone() for p in m.parameters()]
        for n, m in pair.members.items()
    }
    x = torch.randn(5, 4)
    loss = sum((m(x) ** 2).sum() for m in pair.members.values())
    grads = {
        n: torch.autograd.grad(
            (m(x) ** 2).sum(), list(m.parameters()), retain_graph=True
        )
        for n, m in pair.members.items()
    }
    update_members(loss, optim, ['m2f', 'cnn'])
    norms = {
        n: torch.cat([g.flatten() for g in gs]).norm()
        for n, gs in grads.items()
    }
    # Both gradients are far above the clipping norm of 0.01.
    assert min(norms.values()) > 1.0
    scale = dict(m2f=0.01 / norms['m2f'], cnn=1.0)
    for name, module in pair.members.items():
        for start, grad, now in zip(
            before[name], grads[name], module.parameters()
        ):
            torch.testing.assert_close(
                start - now.detach(), grad * scale[name], rtol=1e-5, atol=1e-7
            )


def test_custom_keys_typo_is_refused_at_completion_and_runner_build():
    cfg = demo_pair()
    cfg.optim_wrapper = None
    cfg.optim_wrapper_override = dict(
        paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mul=0.1)))
    )
    match = (
        r"member 'cnn': optim_wrapper.paramwise_cfg.custom_keys"
        r"\['backbone'\]: \['lr_mul'\] are neither read by "
        r'DefaultOptimWrapperConstructor nor arguments of AdamW.*'
        r"allowed: \[.*'decay_mult'.*'lr_mult'.*'weight_decay'\]"
    )
    with pytest.raises(ValueError, match=match):
        expand_pair_config(copy.deepcopy(cfg))
    # The runner completes the config before it builds anything.
    with pytest.raises(ValueError, match=match):
        BiKDRunner.from_cfg(cfg)


def test_typo_in_a_members_own_wrapper_is_refused():
    cfg = demo_pair()
    cfg.optim_wrapper = None
    # The swin member's own config misspells decay_mult on its norms.
    cfg.model.members[1]['cfg_options'] = {
        'optim_wrapper.paramwise_cfg.custom_keys.norm.decay_mul': 0.0
    }
    with pytest.raises(
        ValueError,
        match=r"member 'swin': .*custom_keys\['norm'\]: \['decay_mul'\]"
        r'.*custom_keys=\{\'norm\': dict\(_delete_=True',
    ):
        expand_pair_config(copy.deepcopy(cfg))
    # An override that leaves the entry alone keeps the typo ...
    cfg.optim_wrapper_override = dict(optimizer=dict(lr=1e-5))
    with pytest.raises(ValueError, match=r"\['decay_mul'\]"):
        expand_pair_config(copy.deepcopy(cfg))
    # ... one that replaces it fixes it.
    cfg.optim_wrapper_override = dict(
        swin=dict(
            paramwise_cfg=dict(
                custom_keys=dict(norm=dict(_delete_=True, decay_mult=0.0))
            )
        )
    )
    expand_pair_config(cfg)
    keys = cfg.optim_wrapper.swin.paramwise_cfg.custom_keys
    assert keys.norm == dict(decay_mult=0.0)
    assert keys.absolute_pos_embed == dict(decay_mult=0.0)


def test_unknown_paramwise_key_of_a_members_own_wrapper_is_refused():
    """mmengine ignores paramwise_cfg keys it does not read; a misspelled
    one in a member's own config is refused like one in the override."""
    cfg = demo_pair()
    cfg.optim_wrapper = None
    cfg.model.members[1]['cfg_options'] = {
        'optim_wrapper.paramwise_cfg.norm_decay_mul': 0.0
    }
    with pytest.raises(
        ValueError,
        match=r"member 'swin': optim_wrapper.paramwise_cfg "
        r"\['norm_decay_mul'\] are not read by DefaultOptimWrapperConstructor"
        r'.*paramwise_cfg=dict\(_delete_=True',
    ):
        expand_pair_config(copy.deepcopy(cfg))
    cfg.optim_wrapper_override = dict(
        swin=dict(paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0))
    )
    expand_pair_config(cfg)
    assert cfg.optim_wrapper.swin.paramwise_cfg == dict(norm_decay_mult=0.0)


def test_valid_custom_keys_reach_the_parameter_groups():
    wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.5),
        paramwise_cfg=dict(
            custom_keys=dict(
                bias=dict(lr_mult=0.1, decay_mult=0, betas=(0.5, 0.6)),
                weight=dict(weight_decay=0.25, eps=1e-3),
            )
        ),
    )
    check_paramwise_cfg('m2f', wrapper)
    optim = build_optim_wrapper(
        TwoMembers(),
        dict(
            constructor='BiKDOptimWrapperConstructor', m2f=wrapper, cnn=wrapper
        ),
    )
    groups = optim['m2f'].optimizer.param_groups
    assert [
        (g['lr'], g['weight_decay'], g['betas'], g['eps']) for g in groups
    ] == [
        (1.0, 0.25, (0.9, 0.999), 1e-3),
        (0.1, 0.0, (0.5, 0.6), 1e-8),
    ]


SGD_KEYS = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))


@pytest.mark.parametrize(
    'wrapper, error, match',
    [
        (
            dict(SGD_KEYS, paramwise_cfg=dict(custom_keys=dict(head=0.1))),
            TypeError,
            r"custom_keys\['head'\]: expected a dict such as",
        ),
        (
            dict(SGD_KEYS, paramwise_cfg=dict(custom_keys=['head'])),
            TypeError,
            r"member 'cnn': .*custom_keys: expected a dict .*got list",
        ),
        (
            dict(
                SGD_KEYS,
                paramwise_cfg=dict(custom_keys=dict(head=dict(lr_mult='1'))),
            ),
            TypeError,
            r"custom_keys\['head'\].lr_mult: expected a number, got '1'",
        ),
        (
            dict(
                SGD_KEYS,
                paramwise_cfg=dict(custom_keys=dict(head=dict(betas=(0, 0)))),
            ),
            ValueError,
            r"\['betas'\] are neither .* arguments of SGD.*'momentum'",
        ),
        (
            dict(
                SGD_KEYS,
                paramwise_cfg=dict(custom_keys=dict(head=dict(params=[]))),
            ),
            ValueError,
            r"\['params'\] are neither",
        ),
    ],
)
def test_bad_custom_keys_entries_name_member_and_key(wrapper, error, match):
    with pytest.raises(error, match=match):
        check_paramwise_cfg('cnn', wrapper)


def test_custom_keys_left_unchecked():
    typo = dict(custom_keys=dict(head=dict(lr_mul=0.1, fix_lr=True)))
    # Another constructor reads custom_keys its own way.
    check_paramwise_cfg(
        'cnn',
        dict(
            SGD_KEYS,
            constructor='LearningRateDecayOptimWrapperConstructor',
            paramwise_cfg=typo,
        ),
    )
    # An optimizer that is not registered: its arguments are unknown ...
    unknown = dict(type='OptimWrapper', optimizer=dict(type='NoSuchOptim'))
    check_paramwise_cfg('cnn', dict(unknown, paramwise_cfg=typo))
    # ... but the mults must still be numbers.
    with pytest.raises(TypeError, match=r'decay_mult: expected a number'):
        check_paramwise_cfg(
            'cnn',
            dict(
                unknown,
                paramwise_cfg=dict(custom_keys=dict(h=dict(decay_mult=None))),
            ),
        )
    # Group keys that OpenMMLab hooks and optimizers read pass.
    check_paramwise_cfg(
        'cnn',
        dict(
            SGD_KEYS,
            paramwise_cfg=dict(
                custom_keys=dict(head=dict(fix_lr=True, lars_exclude=True))
            ),
        ),
    )
