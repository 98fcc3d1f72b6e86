"""The classification demo pair with a Runner: train, per-member
evaluation and best checkpoints, three members, export, tools/test.py."""

import glob
import json
import os
import os.path as osp
import runpy
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS

import bikd_mm.datasets  # noqa: F401
import bikd_mm.engine  # noqa: F401
import bikd_mm.evaluation.metrics  # noqa: F401
import bikd_mm.models.classifiers  # noqa: F401

from .cls_fixtures import MEMBER_CONFIGS, REPO

PAIR = osp.join(REPO, 'configs/bikd/demo/cls_pair_digits.py')
# 16 images spread over the classes (the splits are sorted by class).
TRAIN_IDX = list(range(0, 1400, 88))
VAL_IDX = list(range(0, 397, 25))


@pytest.fixture(scope='module')
def cls_data_root(tmp_path_factory):
    from bikd_mm.datasets import prepare_digits_cls

    return prepare_digits_cls(
        str(tmp_path_factory.mktemp('cls') / 'digits_cls')
    )


def write_member_checkpoints(members: list, out_dir: str) -> None:
    """Random-init members saved as stand-ins for pretrained checkpoints."""
    from mmpretrain.registry import MODELS

    from bikd_mm.models.member import parse_members

    for spec, member in zip(parse_members(members), members):
        torch.manual_seed(len(spec.name))
        model = MODELS.build(spec.model)
        model.init_weights()
        path = osp.join(out_dir, f'{spec.name}.pth')
        torch.save({'state_dict': model.state_dict()}, path)
        member['checkpoint'] = path


def pair_cfg(
    tmp_path, data_root: str, iters: int = 2, members: list | None = None
) -> Config:
    cfg = Config.fromfile(PAIR)
    if members is not None:
        cfg.model.members = members
    write_member_checkpoints(cfg.model.members, str(tmp_path))
    for loader, idx in (
        ('train_dataloader', TRAIN_IDX),
        ('val_dataloader', VAL_IDX),
        ('test_dataloader', VAL_IDX),
    ):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].dataset.indices = idx
        cfg[loader].batch_size = 8
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    return cfg


def test_train_evaluate_every_member_and_export(
    tmp_path, cls_data_root, monkeypatch
):
    cfg = pair_cfg(tmp_path, cls_data_root)
    runner = RUNNERS.build(cfg)
    runner.train()
    hub = runner.message_hub
    for name in ('cnn', 'vit'):
        assert (
            0 <= hub.get_scalar(f'val/{name}/accuracy/top1').current() <= 100
        )
        for key in ('loss', 'teach_share', 'accuracy'):
            assert f'train/{name}.{key}' in hub.log_scalars
        assert glob.glob(
            osp.join(cfg.work_dir, f'best_{name}_accuracy_top1_iter_2.pth')
        )
    ckpt = osp.join(cfg.work_dir, 'iter_2.pth')

    # tools/export_member.py -> a checkpoint that stock get_model loads,
    # with exactly the member's logits.
    from mmpretrain.apis import get_model

    out = str(tmp_path / 'vit.pth')
    monkeypatch.setattr(
        sys,
        'argv',
        ['export_member.py', ckpt, '--member', 'vit', '--out', out],
    )
    runpy.run_path(
        osp.join(REPO, 'tools/export_member.py'), run_name='__main__'
    )
    stock = get_model(
        osp.join(REPO, MEMBER_CONFIGS['vit']), pretrained=out, device='cpu'
    )
    stock.eval()
    pair = runner.model
    pair.eval()
    data = next(iter(runner.val_dataloader))
    inputs, _ = pair._member_batch(
        'vit', *pair.data_preprocessor(data, False).values(), False
    )
    stock_inputs = stock.data_preprocessor(data, False)['inputs']
    torch.testing.assert_close(stock_inputs, inputs, rtol=0, atol=0)
    with torch.no_grad():
        want = pair.members['vit'](inputs, mode='tensor')
        got = stock(stock_inputs, mode='tensor')
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_three_members(tmp_path, cls_data_root):
    members = [
        dict(name='cnn', config=osp.join(REPO, MEMBER_CONFIGS['cnn'])),
        dict(name='vit', config=osp.join(REPO, MEMBER_CONFIGS['vit'])),
        dict(name='cnn2', config=osp.join(REPO, MEMBER_CONFIGS['cnn'])),
    ]
    cfg = pair_cfg(tmp_path, cls_data_root, iters=1, members=members)
    cfg.default_hooks.checkpoint.save_best = 'cnn2/accuracy/top1'
    runner = RUNNERS.build(cfg)
    runner.train()
    hub = runner.message_hub
    names = ('cnn', 'vit', 'cnn2')
    for t in names:
        assert f'val/{t}/accuracy/top1' in hub.log_scalars
        for s in names:
            if s != t:
                assert f'train/kd.loss_{t}_to_{s}' in hub.log_scalars
    shares = sum(
        hub.get_scalar(f'train/{n}.teach_share').current() for n in names
    )
    assert 0 <= shares <= 1


def test_test_tool_evaluates_every_member(tmp_path, cls_data_root):
    from mmpretrain.registry import MODELS

    from bikd_mm.datasets import DigitsClsDataset

    members = Config.fromfile(PAIR).model.members
    write_member_checkpoints(members, str(tmp_path))
    pair = MODELS.build(dict(type='BiKDClassifier', members=members))
    state = pair.state_dict()
    # A head of zeros scores every class alike: vit predicts class 0.
    state['members.vit.head.layers.head.weight'].zero_()
    state['members.vit.head.layers.head.bias'].zero_()
    ckpt = tmp_path / 'pair.pth'
    torch.save({'state_dict': state}, ckpt)
    cfg = tmp_path / 'tiny_pair.py'
    # The modules are named, so the test does not depend on what the
    # top-level package imports.
    imports = [
        'bikd_mm.datasets',
        'bikd_mm.engine',
        'bikd_mm.evaluation.metrics',
        'bikd_mm.models.classifiers',
    ]
    cfg.write_text(
        f'_base_ = [{PAIR!r}]\n'
        f'custom_imports = dict(imports={imports!r})\n'
        f'model = dict(members={[dict(m) for m in members]!r})\n'
        f'test_dataloader = dict(batch_size=8, dataset=dict('
        f'data_root={cls_data_root!r}, indices={VAL_IDX!r}))\n'
    )
    out = tmp_path / 'metrics.json'
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, env.get('PYTHONPATH')) if p
    )
    env['OMP_NUM_THREADS'] = '1'  # tiny models, see conftest.py
    result = subprocess.run(
        [
            sys.executable,
            'tools/test.py',
            str(cfg),
            str(ckpt),
            '--work-dir',
            str(tmp_path / 'work'),
            '--metrics',
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(out.read_text())
    assert 0 <= metrics['cnn/accuracy/top1'] <= 100
    labels = DigitsClsDataset(
        data_root=cls_data_root, split='val', indices=VAL_IDX
    ).get_gt_labels()
    assert metrics['vit/accuracy/top1'] == pytest.approx(
        100 * (labels == 0).mean()
    )
