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
from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.engine.runner.optim_wrapper_override import apply_override

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
