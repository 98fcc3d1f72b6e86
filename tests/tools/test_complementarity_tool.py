"""tools/analysis/complementarity.py end to end on the demo pairs, with
tiny untrained members, checked against each stock member run alone."""

import copy
import dataclasses
import json
import os.path as osp
import runpy

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import bikd_mm  # noqa: F401
from bikd_mm.models.member import build_member, parse_members

from ..conftest import REPO

SEG_PAIR = osp.join(REPO, 'configs/bikd/demo/seg_pair_digits.py')
CLS_PAIR = osp.join(REPO, 'configs/bikd/demo/cls_pair_digits.py')
TOOL = osp.join(REPO, 'tools/analysis/complementarity.py')


def untrained_checkpoints(cfg: Config, registry, out_dir) -> dict:
    """Each member with random weights, saved as its checkpoint."""
    paths = {}
    for seed, spec in enumerate(parse_members(cfg.model.members)):
        torch.manual_seed(seed)
        model = build_member(
            dataclasses.replace(spec, checkpoint=None), registry
        )
        model.init_weights()
        paths[spec.name] = str(out_dir / f'{spec.name}.pth')
        torch.save(dict(state_dict=model.state_dict()), paths[spec.name])
    return paths


def alone(cfg: Config, registry, checkpoints: dict, limit: int) -> tuple:
    """Each stock member run by itself over the first ``limit`` samples:
    its predicted classes and the labels, flat over valid pixels."""
    preds, labels = {}, None
    specs = parse_members(cfg.model.members)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        loader = Runner.build_dataloader(copy.deepcopy(cfg.val_dataloader))
    for spec in specs:
        spec = dataclasses.replace(spec, checkpoint=checkpoints[spec.name])
        model = build_member(spec, registry).eval()
        got, want, seen = [], [], 0
        with torch.no_grad():
            for batch in loader:
                for sample in model.test_step(copy.deepcopy(batch)):
                    if 'pred_sem_seg' in sample:
                        got.append(sample.pred_sem_seg.data.reshape(-1))
                        want.append(sample.gt_sem_seg.data.reshape(-1))
                    else:
                        got.append(sample.pred_label.reshape(-1))
                        want.append(sample.gt_label.reshape(-1))
                    seen += 1
                if seen >= limit:
                    break
        preds[spec.name] = torch.cat(got).numpy()
        labels = torch.cat(want).numpy()
    valid = labels != 255
    return {n: p[valid] for n, p in preds.items()}, labels[valid]


def run_tool(*args) -> None:
    import sys

    argv = sys.argv
    sys.argv = ['complementarity.py', *args]
    try:
        runpy.run_path(TOOL, run_name='__main__')
    finally:
        sys.argv = argv


def check_against_alone(result: dict, preds: dict, labels: np.ndarray):
    assert result['num_valid'] == labels.size
    for name, pred in preds.items():
        assert result['members'][name]['accuracy'] == pytest.approx(
            (pred == labels).mean()
        )
    (pair,) = result['pairs']
    ra = preds[pair['a']] == labels
    rb = preds[pair['b']] == labels
    assert pair['both_right'] == pytest.approx((ra & rb).mean())
    assert pair['a_right_b_wrong'] == pytest.approx((ra & ~rb).mean())
    assert pair['b_right_a_wrong'] == pytest.approx((~ra & rb).mean())
    assert pair['both_wrong'] == pytest.approx((~ra & ~rb).mean())
    assert pair['oracle_accuracy'] == pytest.approx((ra | rb).mean())


def check_outputs(prefix: str, names: list) -> dict:
    with open(f'{prefix}.json') as f:
        result = json.load(f)
    with open(f'{prefix}.md') as f:
        table = f.read()
    for name in names:
        assert f'| {name} |' in table
    assert 'Oracle of all 2 members' in table
    picture = cv2.imread(f'{prefix}.png')
    assert picture is not None and picture.shape[0] > 100
    return result


def test_segmentation_pair(tmp_path, seg_data_root):
    from mmseg.registry import MODELS

    cfg = Config.fromfile(SEG_PAIR)
    cfg.val_dataloader.dataset.data_root = seg_data_root
    cfg.val_dataloader.batch_size = 3
    checkpoints = untrained_checkpoints(cfg, MODELS, tmp_path)
    prefix = str(tmp_path / 'out' / 'seg')
    run_tool(
        SEG_PAIR,
        '--checkpoints',
        *(f'{n}={p}' for n, p in checkpoints.items()),
        '--out',
        prefix,
        '--device',
        'cpu',
        '--limit',
        '6',
        '--cfg-options',
        f'val_dataloader.dataset.data_root={seg_data_root}',
        'val_dataloader.batch_size=3',
    )
    result = check_outputs(prefix, ['cnn', 'swin'])
    assert result['task'] == 'segmentation'
    assert result['num_samples'] == 6 and result['ignore_index'] == 255
    assert result['checkpoints'] == checkpoints
    preds, labels = alone(cfg, MODELS, checkpoints, 6)
    check_against_alone(result, preds, labels)
    assert 0.0 <= result['members']['cnn']['mIoU'] <= 1.0
    assert result['oracle']['oracle_mIoU'] >= result['oracle']['best_mIoU']


def test_classification_pair(tmp_path):
    from mmpretrain.registry import MODELS

    cfg = Config.fromfile(CLS_PAIR)
    cfg.val_dataloader.batch_size = 20
    checkpoints = untrained_checkpoints(cfg, MODELS, tmp_path)
    prefix = str(tmp_path / 'cls')
    run_tool(
        CLS_PAIR,
        '--checkpoints',
        *(f'{n}={p}' for n, p in checkpoints.items()),
        '--out',
        prefix,
        '--device',
        'cpu',
        '--limit',
        '40',
        '--cfg-options',
        'val_dataloader.batch_size=20',
    )
    result = check_outputs(prefix, ['cnn', 'vit'])
    assert result['task'] == 'classification'
    assert result['num_samples'] == 40 and result['ignore_index'] is None
    preds, labels = alone(cfg, MODELS, checkpoints, 40)
    check_against_alone(result, preds, labels)


def test_unknown_member_and_missing_checkpoint(tmp_path, seg_data_root):
    with pytest.raises(ValueError, match='limit must be >= 1'):
        run_tool(SEG_PAIR, '--limit', '0')
    with pytest.raises(KeyError, match=r'not members; the members are '):
        run_tool(SEG_PAIR, '--checkpoints', 'resnet=x.pth')
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        run_tool(
            SEG_PAIR,
            '--checkpoints',
            f'cnn={tmp_path / "nothing.pth"}',
            '--cfg-options',
            f'val_dataloader.dataset.data_root={seg_data_root}',
        )
