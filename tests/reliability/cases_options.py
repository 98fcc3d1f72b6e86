"""Wrong option values of the three wrappers, the member entries and the
runner: each is refused when the pair is built, naming the option."""

import copy
import math
import re

import pytest
from mmengine.registry import RUNNERS
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS

from bikd_mm.models.member import parse_members
from bikd_mm.registry import MODELS as SAL_MODELS
from tests.models.classifiers.cls_fixtures import member as cls_member
from tests.models.saliency.fixtures import s3d_member_model, swin_member_model
from tests.models.segmentors.seg_fixtures import member

from ..engine.test_pair_runner import pair_cfg

WRAPPERS = ('BiKDSegmentor', 'BiKDClassifier', 'BiKDSaliency')


def build_wrapper(kind: str, **options):
    if kind == 'BiKDSegmentor':
        members = [member('cnn'), member('swin')]
        registry = SEG_MODELS
    elif kind == 'BiKDClassifier':
        members = [cls_member('cnn'), cls_member('vit')]
        registry = CLS_MODELS
    else:
        members = [
            dict(name='swin', model=swin_member_model()),
            dict(name='s3d', model=s3d_member_model()),
        ]
        registry = SAL_MODELS
    return registry.build(dict(type=kind, members=members, **options))


def refused(kind: str, option: str, value, error=ValueError, what=None):
    what = what or 'a finite number >= 0'
    with pytest.raises(
        error,
        match=f'{kind}: {option} must be {re.escape(what)}, got '
        f'{re.escape(repr(value))}',
    ):
        build_wrapper(kind, **{option: value})


def negative_kd_weight(tmp_path):
    """A negative ``kd_weight`` would push the members apart."""
    for kind in WRAPPERS:
        refused(kind, 'kd_weight', -1.0)


def non_finite_kd_weight(tmp_path):
    """NaN / inf / a string: stock code fails at the first step or later."""
    for kind in WRAPPERS:
        for value in (math.nan, math.inf, '1.0', True):
            refused(kind, 'kd_weight', value)


def temperature_not_positive(tmp_path):
    for kind in ('BiKDSegmentor', 'BiKDClassifier'):
        for value in (0, -1.0, math.nan):
            refused(kind, 'temperature', value, what='a finite number > 0')


def flag_given_as_a_string(tmp_path):
    """``'False'`` is true in Python: a string would switch the flag on."""
    for kind in WRAPPERS:
        refused(kind, 'detach_teacher', 'False', TypeError, 'True or False')
    for option in ('share_decode_ce', 'sync_free_accuracy'):
        refused('BiKDSegmentor', option, 0, TypeError, 'True or False')


def unknown_normalize_or_tie(tmp_path):
    """A typo of a choice, refused at build time (not at the first step)."""
    for kind in WRAPPERS:
        with pytest.raises(
            ValueError, match=f"{kind}: normalize must be one of .*'mask'"
        ):
            build_wrapper(kind, normalize='mask')
        with pytest.raises(
            ValueError, match=f"{kind}: tie must be one of .*'lowest'"
        ):
            build_wrapper(kind, tie='lowest')


def saliency_eps_and_kd_size(tmp_path):
    refused('BiKDSaliency', 'eps', 0.0, what='a finite number > 0')
    for size in ((0, 8), 16, (8, 8, 8), (8.5, 8)):
        with pytest.raises(
            ValueError,
            match=r'BiKDSaliency: kd_size must be None or \(height, width\)'
            f'.*got {re.escape(repr(size))}',
        ):
            build_wrapper('BiKDSaliency', kd_size=size)


def members_not_a_list_of_dicts(tmp_path):
    with pytest.raises(
        TypeError, match='members must be a list of member dicts.*got str'
    ):
        parse_members('cnn.py, swin.py')
    with pytest.raises(
        TypeError, match=r"members.swin must be a dict.*got str 'swin.py'"
    ):
        parse_members(dict(cnn=member('cnn'), swin='swin.py'))
    with pytest.raises(
        TypeError, match=r"members\[1\] must be a dict.*got str 'swin.py'"
    ):
        parse_members([member('cnn'), 'swin.py'])


def member_entry_of_the_wrong_type(tmp_path):
    """``strict``, ``min_loaded`` and ``checkpoint`` of a member."""
    cases = [
        (dict(strict='False'), TypeError, "'swin': strict must be True or"),
        (dict(min_loaded=1.5), ValueError, "'swin': min_loaded must be a"),
        (dict(checkpoint=7), TypeError, "'swin': checkpoint must be a path"),
    ]
    for options, error, match in cases:
        with pytest.raises(error, match=match):
            parse_members([member('cnn'), member('swin', **options)])


def member_cfg_options_typo(tmp_path, repo):
    """A misspelt ``cfg_options`` key would be added to the member's config
    and silently unused."""
    config = f'{repo}/configs/bikd/demo/members/upernet_swin-tiny_digits.py'
    with pytest.raises(
        KeyError,
        match="member 'swin': cfg_options model.decode_hed.num_classes: "
        "'model.decode_hed' is not in the config .*swin-tiny_digits.py",
    ):
        parse_members(
            [
                member('cnn'),
                dict(
                    name='swin',
                    config=config,
                    cfg_options={'model.decode_hed.num_classes': 5},
                ),
            ]
        )
    # A new leaf under an existing key is allowed.
    spec = parse_members(
        [
            member('cnn'),
            dict(
                name='swin',
                config=config,
                cfg_options={'model.decode_head.dropout_ratio': 0.2},
            ),
        ]
    )[1]
    assert spec.model.decode_head.dropout_ratio == 0.2


def fresh_configs(tmp_path, seg_data_root):
    """Copies of one demo pair config (its member checkpoints written
    once)."""
    base = pair_cfg(tmp_path, seg_data_root)
    return lambda: copy.deepcopy(base)


def runner_flag_or_path_of_the_wrong_type(tmp_path, seg_data_root):
    """``allow_unsafe_checkpoint='no'`` is a true string: it would opt in to
    unsafe unpickling."""
    fresh = fresh_configs(tmp_path, seg_data_root)
    cases = [
        ('allow_unsafe_checkpoint', 'no', 'must be True or False'),
        ('resume', 'yes', 'must be True or False'),
        ('load_from', 3, 'must be a checkpoint path or URL'),
        ('load_from_min_loaded', -0.1, r'must be a number in \[0, 1\]'),
    ]
    for key, value, match in cases:
        cfg = fresh()
        cfg[key] = value
        with pytest.raises((TypeError, ValueError), match=f'{key} {match}'):
            RUNNERS.build(cfg)
    assert not (tmp_path / 'work').exists()


def runner_loop_option_not_a_count(tmp_path, seg_data_root):
    """``val_interval=0``: a modulo by zero at the first validation."""
    fresh = fresh_configs(tmp_path, seg_data_root)
    cases = [
        ('train_cfg', 'val_interval', 0),
        ('train_cfg', 'max_iters', 2.5),
        ('train_cfg', 'max_iters', -1),
    ]
    for parent, key, value in cases:
        cfg = fresh()
        cfg[parent][key] = value
        with pytest.raises(
            ValueError,
            match=f'BiKDRunner: {parent}.{key} must be an integer >= 1, '
            f'got {value!r}',
        ):
            RUNNERS.build(cfg)
    cfg = fresh()
    cfg.default_hooks.checkpoint.interval = '2'
    with pytest.raises(
        ValueError, match='default_hooks.checkpoint.interval must be an int'
    ):
        RUNNERS.build(cfg)
    assert not (tmp_path / 'work').exists()


def dist_timeout_not_positive(tmp_path, seg_data_root):
    fresh = fresh_configs(tmp_path, seg_data_root)
    for value in (0, -30, 'long'):
        cfg = fresh()
        cfg.env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=value))
        with pytest.raises(
            ValueError,
            match='env_cfg.dist_cfg.timeout must be a finite number > 0',
        ):
            RUNNERS.build(cfg)


def member_optimizer_numbers(tmp_path, seg_data_root):
    """A negative or NaN rate (stock: torch's ``Invalid learning rate``,
    naming no member), accumulation 0, clipping at 0."""
    fresh = fresh_configs(tmp_path, seg_data_root)
    cases = [
        (dict(optimizer=dict(lr=-1e-4)), 'optim_wrapper.swin.optimizer.lr'),
        (dict(optimizer=dict(lr=math.nan)), 'optim_wrapper.swin.optimizer.lr'),
        (
            dict(optimizer=dict(weight_decay=-0.01)),
            'optim_wrapper.swin.optimizer.weight_decay',
        ),
        (dict(accumulative_counts=0), 'optim_wrapper.swin.accumulative'),
        (
            dict(clip_grad=dict(max_norm=0.0)),
            'optim_wrapper.swin.clip_grad.max_norm',
        ),
    ]
    for override, match in cases:
        cfg = fresh()
        cfg.optim_wrapper_override = dict(swin=override)
        with pytest.raises(ValueError, match=f'BiKDRunner: {match}'):
            RUNNERS.build(cfg)


def constructor_in_pair_and_member_wrapper(tmp_path, seg_data_root):
    """A ``constructor`` next to the members' wrappers, which set their
    own; and a member named ``constructor``, which would collide with the
    completed wrapper's key (stock: ``ConfigDict() got multiple values for
    keyword argument 'constructor'``)."""
    cfg = pair_cfg(tmp_path, seg_data_root)
    member_wrapper = dict(
        type='OptimWrapper',
        constructor='DefaultOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-4),
    )
    cfg.optim_wrapper = dict(
        constructor='LearningRateDecayOptimWrapperConstructor',
        cnn=member_wrapper,
        swin=member_wrapper,
    )
    with pytest.raises(
        KeyError,
        match="optim_wrapper.constructor='LearningRateDecayOptimWrapper"
        r"Constructor' is set next to the wrappers of members \['cnn', "
        r"'swin'\].*optim_wrapper.<member>.constructor \(set for \{'cnn'",
    ):
        RUNNERS.build(cfg)
    with pytest.raises(
        ValueError, match=r"members\[1\]: member name 'constructor' is "
    ):
        parse_members([member('cnn'), member('constructor', 'swin')])
    assert not (tmp_path / 'work').exists()
