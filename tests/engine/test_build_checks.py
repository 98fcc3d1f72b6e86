"""Mistakes that used to surface mid-run are named when the runner or the
pair is built, before the first step."""

import os.path as osp
import runpy
import sys

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import RUNNERS
from mmseg.registry import MODELS as SEG_MODELS

import bikd_mm  # noqa: F401
from tests.models.classifiers.test_cls_pair_runner import (
    pair_cfg as cls_pair_cfg,
)
from tests.models.segmentors.seg_fixtures import member, member_model

from ..conftest import REPO
from .test_pair_runner import PAIR, pair_cfg


@pytest.fixture(scope='module')
def cls_data_root(tmp_path_factory):
    from bikd_mm.datasets import prepare_digits_cls

    return prepare_digits_cls(
        str(tmp_path_factory.mktemp('cls') / 'digits_cls')
    )


def test_stock_save_best_key_is_refused_at_build(tmp_path, seg_data_root):
    cfg = pair_cfg(tmp_path, seg_data_root)
    cfg.default_hooks.checkpoint.save_best = 'mIoU'
    with pytest.raises(
        ValueError,
        match=r"save_best: 'mIoU' is not a metric of this pair; the metrics "
        r"are \['cnn/aAcc', 'cnn/mIoU', 'cnn/mAcc', 'swin/aAcc', "
        r"'swin/mIoU', 'swin/mAcc'\]",
    ):
        RUNNERS.build(cfg)


def test_misspelt_member_metric_is_refused_and_right_ones_pass(
    tmp_path, seg_data_root, cls_data_root
):
    cfg = pair_cfg(tmp_path, seg_data_root)
    cfg.default_hooks.checkpoint.save_best = ['cnn/mIoU', 'swin/miou']
    with pytest.raises(ValueError, match="'swin/miou' is not a metric"):
        RUNNERS.build(cfg)
    cfg = cls_pair_cfg(tmp_path, cls_data_root)
    cfg.default_hooks.checkpoint.save_best = 'vit/top1'
    with pytest.raises(ValueError, match=r"'vit/accuracy/top1'"):
        RUNNERS.build(cfg)
    cfg.default_hooks.checkpoint.save_best = [
        'cnn/accuracy/top1',
        'vit/accuracy/top1',
    ]
    RUNNERS.build(cfg)


def test_pair_config_without_runner_type_trains_with_a_notice(
    tmp_path, seg_data_root, monkeypatch, capsys
):
    """A pair config written without ``runner_type`` and without an
    ``optim_wrapper`` (each member keeps its own), run by tools/train.py."""
    cfg = pair_cfg(tmp_path, seg_data_root, iters=1)
    cfg.pop('runner_type')
    cfg.pop('optim_wrapper')
    cfg.pop('param_scheduler')
    cfg.custom_hooks = []
    config = tmp_path / 'my_pair.py'
    cfg.dump(str(config))
    assert 'runner_type' not in Config.fromfile(str(config))
    monkeypatch.setattr(
        sys,
        'argv',
        ['train.py', str(config), '--work-dir', str(tmp_path / 'work')],
    )
    # The current logger, writing to this test's captured output.
    MMLogger.get_instance(f'notice_{tmp_path.name}')
    runpy.run_path(osp.join(REPO, 'tools/train.py'), run_name='__main__')
    assert "a pair config needs runner_type = 'BiKDRunner'" in (
        capsys.readouterr().out
    )
    for name in ('cnn', 'swin'):
        assert osp.isfile(tmp_path / 'work' / f'best_{name}_mIoU_iter_1.pth')


def test_members_padding_to_different_sizes_are_refused_at_build():
    small = member_model('swin', data_preprocessor=dict(size=(32, 32)))
    with pytest.raises(
        ValueError,
        match=r'pad the batch to different sizes: cnn size=\(64, 64\), '
        r'swin size=\(32, 32\)',
    ):
        SEG_MODELS.build(
            dict(
                type='BiKDSegmentor',
                members=[member('cnn'), dict(name='swin', model=small)],
            )
        )
    odd = member_model(
        'swin', data_preprocessor=dict(size=None, size_divisor=28)
    )
    with pytest.raises(ValueError, match='size_divisor=28'):
        SEG_MODELS.build(
            dict(
                type='BiKDSegmentor',
                members=[member('cnn'), dict(name='swin', model=odd)],
            )
        )


def test_seg_pad_val_other_than_ignore_index_is_refused_at_build():
    zero = member_model('swin', data_preprocessor=dict(seg_pad_val=0))
    with pytest.raises(
        ValueError,
        match=r"member 'swin': data_preprocessor.seg_pad_val=0 differs "
        r'from its ignore_index=255',
    ):
        SEG_MODELS.build(
            dict(
                type='BiKDSegmentor',
                members=[member('cnn'), dict(name='swin', model=zero)],
            )
        )


def test_demo_configs_pass_the_checks(tmp_path, seg_data_root):
    assert Config.fromfile(PAIR).default_hooks.checkpoint.save_best
    RUNNERS.build(pair_cfg(tmp_path, seg_data_root))


@pytest.mark.parametrize('heads', [8, 12])
def test_heads_with_other_class_counts_than_the_data_are_refused(
    heads, tmp_path, cls_data_root
):
    """Digits have 10 classes: 8 would fail at the first 8 or 9, 12 would
    train two classes that never occur."""
    cfg = cls_pair_cfg(tmp_path, cls_data_root)
    for spec in cfg.model.members:
        spec['cfg_options'] = {
            'model.head.num_classes': heads,
            'data_preprocessor.num_classes': heads,
        }
        spec.pop('checkpoint')
    with pytest.raises(
        ValueError,
        match=r'train_dataloader.dataset \(DigitsClsDataset\) has 10 '
        rf'classes \(0, 1, 2, 3, 4, \.\.\.\), the members predict {heads}',
    ):
        RUNNERS.build(cfg)
