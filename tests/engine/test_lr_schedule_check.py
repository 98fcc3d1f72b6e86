"""Each member's learning-rate curve is computed from its completed
optimizer wrapper and schedulers before training, checked against direct
formulas, and a rate that rises above its base is refused."""

import glob
import os.path as osp

import pytest
from mmengine.config import Config

import bikd_mm  # noqa: F401
from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.engine.runner.lr_schedule_check import (
    LRScheduleError,
    allowed_members,
    check_lr_schedule,
    lr_curve,
)
from bikd_mm.engine.runner.pair_config import (
    is_pair_config,
    member_lr_curves,
)

from ..conftest import REPO

ADAMW = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-6))


def poly(base, eta_min, power, total, t):
    """mmengine's PolyLR in closed form: eta_min reached at step total."""
    return (base - eta_min) * (1 - min(t, total) / total) ** power + eta_min


def test_poly_with_eta_min_above_the_rate_is_simulated_exactly():
    # mmseg's schedule_80k.py PolyLR applied at lr 1e-6, over 800 steps.
    curve = lr_curve(
        ADAMW,
        [
            dict(
                type='PolyLR',
                eta_min=1e-4,
                power=0.9,
                begin=0,
                end=800,
                by_epoch=False,
            )
        ],
        dict(type='IterBasedTrainLoop', max_iters=800),
    )
    assert curve.unit == 'iter' and curve.length == 800
    assert len(curve.groups[0].rates) == 800
    # total_iters = end - begin - 1 (mmengine's definition).
    for t in (0, 10, 100, 400, 799):
        assert curve.rate_at(t) == pytest.approx(
            poly(1e-6, 1e-4, 0.9, 799, t), rel=1e-9
        )
    assert curve.base == 1e-6
    assert curve.peak == pytest.approx(1e-4)
    assert curve.final == pytest.approx(1e-4)
    with pytest.raises(LRScheduleError) as err:
        check_lr_schedule('r50', curve, allowed=False)
    message = str(err.value)
    for part in ('r50', 'PolyLR', "'base'", 'eta_min', 'allow_lr_rise'):
        assert part in message
    # Stated as intended: accepted.
    check_lr_schedule('r50', curve, allowed=True)


def test_warm_up_then_poly_to_zero_is_accepted_with_its_warm_up():
    curve = lr_curve(
        ADAMW,
        [
            dict(
                type='LinearLR',
                start_factor=1e-3,
                by_epoch=False,
                begin=0,
                end=50,
            ),
            # mmengine's default end: the loop's length.
            dict(
                type='PolyLR', eta_min=0.0, power=1.0, begin=50, by_epoch=False
            ),
        ],
        dict(max_iters=200),
    )
    check_lr_schedule('m', curve, allowed=False)
    assert curve.rate_at(0) == pytest.approx(1e-9)
    # LinearLR: factor start + (1 - start) * t / (end - begin - 1): the
    # base at step 49, where PolyLR starts from it.
    assert curve.warmup == 49
    assert curve.rate_at(50) == pytest.approx(1e-6)
    assert curve.peak == pytest.approx(1e-6)
    assert curve.rate_at(199) < 1e-7
    assert curve.rate_at(120) == pytest.approx(poly(1e-6, 0, 1.0, 149, 70))


def test_a_group_with_a_smaller_multiplier_is_checked_on_its_own():
    # The base group ends below its rate, the backbone's (x0.1) above.
    wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-6),
        paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))),
    )
    curve = lr_curve(
        wrapper,
        dict(type='PolyLR', eta_min=5e-7, by_epoch=False, end=100),
        dict(max_iters=100),
    )
    assert [g.label for g in curve.groups] == ['base', 'custom_keys.backbone']
    assert curve.groups[1].base == pytest.approx(1e-7)
    assert curve.groups[0].peak == pytest.approx(1e-6)
    assert curve.groups[1].final == pytest.approx(5e-7)
    with pytest.raises(LRScheduleError, match='custom_keys.backbone'):
        check_lr_schedule('swin', curve, allowed=False)


def test_factor_above_one_and_epoch_loops():
    rising = lr_curve(
        ADAMW,
        [dict(type='ExponentialLR', gamma=2.0, end=5)],
        dict(by_epoch=True, max_epochs=10),
    )
    assert rising.unit == 'epoch' and rising.length == 10
    # gamma ** 4 at epoch 4, then held.
    assert rising.peak == pytest.approx(1.6e-5)
    assert rising.final == pytest.approx(1.6e-5)
    with pytest.raises(LRScheduleError, match='epoch'):
        check_lr_schedule('vit', rising, allowed=False)
    # An epoch warm-up converted to iterations: simulated per iteration
    # with the given epoch length, the length still in epochs.
    warm = lr_curve(
        ADAMW,
        [
            dict(
                type='LinearLR',
                start_factor=0.1,
                by_epoch=True,
                begin=0,
                end=2,
                convert_to_iter_based=True,
            ),
            dict(type='CosineAnnealingLR', by_epoch=True, begin=2, end=10),
        ],
        dict(by_epoch=True, max_epochs=10),
        epoch_length=4,
    )
    assert warm.steps_per_unit == 4 and len(warm.groups[0].rates) == 40
    assert warm.rate_at(0) == pytest.approx(1e-7)
    assert warm.warmup == pytest.approx(7 / 4)
    check_lr_schedule('vit', warm, allowed=False)
    assert warm.notes == []
    nominal = lr_curve(
        ADAMW,
        [dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=10)],
        dict(by_epoch=True, max_epochs=2),
    )
    assert nominal.steps_per_unit == 100
    assert 'iterations per epoch assumed' in nominal.notes[0]


def test_momentum_schedulers_are_skipped_and_unknown_types_named():
    curve = lr_curve(
        dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)),
        [
            dict(type='ConstantMomentum', factor=0.5, by_epoch=False),
            dict(type='ConstantLR', factor=0.5, by_epoch=False, end=3),
        ],
        dict(max_iters=6),
    )
    assert curve.skipped == ['ConstantMomentum']
    # mmengine's ConstantLR restores the rate at its last active step
    # (end - begin - 1).
    assert curve.groups[0].rates == pytest.approx([0.05] * 2 + [0.1] * 4)
    with pytest.raises(KeyError, match='PolyLRR'):
        lr_curve(ADAMW, dict(type='PolyLRR'), dict(max_iters=3))


def test_allow_lr_rise_values():
    assert allowed_members(None, ['a', 'b']) == set()
    assert allowed_members(True, ['a', 'b']) == {'a', 'b'}
    assert allowed_members(['b'], ['a', 'b']) == {'b'}
    with pytest.raises(KeyError, match="unknown members \\['c'\\]"):
        allowed_members(['c'], ['a', 'b'])
    with pytest.raises(TypeError, match='allow_lr_rise'):
        allowed_members('a', ['a', 'b'])


def shipped_pair_configs() -> list:
    paths = sorted(
        glob.glob(osp.join(REPO, 'configs/bikd/**/*.py'), recursive=True)
    )
    return [p for p in paths if is_pair_config(Config.fromfile(p))]


def test_every_shipped_pair_config_completes_with_a_sound_schedule():
    paths = shipped_pair_configs()
    # Every pair config is here (members/ and bases are not pair configs).
    assert len(paths) >= 16
    for path in paths:
        cfg = expand_pair_config(Config.fromfile(path))
        assert not cfg.get('allow_lr_rise'), path
        for name, curve in member_lr_curves(cfg).items():
            for group in curve.groups:
                assert group.peak <= group.base * (1 + 1e-6), (path, name)
                assert group.final <= group.base * (1 + 1e-6), (path, name)


# The headline pair as it was: a stock schedule base, one wrapper for all.
STOCK_SCHEDULE_PAIR = """
_base_ = [
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
model = dict(
    type='BiKDSegmentor',
    members=[
        dict(name='r50',
             config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'),
        dict(name='MEMBER', config='CONFIG'),
    ],
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-6, weight_decay=1e-5),
)
"""
SWIN = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa: E501
R101 = 'mmseg::upernet/upernet_r101_4xb4-160k_ade20k-512x512.py'


@pytest.mark.parametrize('member,config', [('swin', SWIN), ('r101', R101)])
def test_a_stock_schedule_base_is_refused_naming_member_and_rates(
    tmp_path, member, config
):
    path = tmp_path / 'pair.py'
    path.write_text(
        STOCK_SCHEDULE_PAIR.replace('MEMBER', member).replace('CONFIG', config)
    )
    cfg = Config.fromfile(str(path))
    with pytest.raises(LRScheduleError) as err:
        expand_pair_config(cfg.copy())
    message = str(err.value)
    assert "member 'r50'" in message and 'PolyLR' in message
    assert 'up to 0.0001' in message
    cfg.allow_lr_rise = True
    curves = member_lr_curves(expand_pair_config(cfg))
    # The rates the stock PolyLR(eta_min=1e-4) gives at lr 1e-6.
    for t in (1000, 8000, 40000, 79999):
        assert curves[member].rate_at(t) == pytest.approx(
            poly(1e-6, 1e-4, 0.9, 79999, t)
        )
    assert curves[member].rate_at(1000) == pytest.approx(2.1e-6, abs=1e-7)
    assert curves[member].rate_at(8000) == pytest.approx(1.0e-5, abs=1e-6)


def test_the_runner_logs_each_curve_and_refuses_a_rise(
    tmp_path, seg_data_root
):
    from mmengine.registry import RUNNERS

    from .test_pair_runner import pair_cfg

    cfg = pair_cfg(tmp_path, seg_data_root, iters=4)
    cfg.log_level = 'INFO'
    runner = RUNNERS.build(cfg)
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    for name in ('cnn', 'swin'):
        assert (
            f'{name}: AdamW lr 0.0002 (peak 0.0002, final 0) over 4 iters'
            in log
        )
    (tmp_path / 'rising').mkdir()
    rising = pair_cfg(tmp_path / 'rising', seg_data_root, iters=4)
    rising.param_scheduler = [
        dict(type='PolyLR', eta_min=1e-2, by_epoch=False, begin=0, end=4)
    ]
    with pytest.raises(LRScheduleError, match="member 'cnn'"):
        RUNNERS.build(rising.copy())
    # Refused before the runner wrote anything.
    assert not osp.exists(rising.work_dir)
    rising.allow_lr_rise = ['cnn', 'swin']
    RUNNERS.build(rising)
