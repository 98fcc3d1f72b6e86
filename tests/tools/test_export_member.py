"""tools/export_member.py as a user runs it: the exported weights and the
config written beside them reproduce the pair's member through the stock
two lines (``mmseg.apis.init_model`` + ``inference_model``,
``mmpretrain.ImageClassificationInferencer`` / ``get_model``), and the
files get ordinary permissions."""

import os
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import RUNNERS

import bikd_mm  # noqa: F401
from tests.models.classifiers.test_cls_pair_runner import (
    pair_cfg as cls_pair_cfg,
)

from ..conftest import REPO
from ..engine.test_pair_runner import pair_cfg as seg_pair_cfg


@pytest.fixture(scope='module')
def cls_data_root(tmp_path_factory):
    from bikd_mm.datasets import prepare_digits_cls

    return prepare_digits_cls(
        str(tmp_path_factory.mktemp('cls') / 'digits_cls')
    )


def export(monkeypatch, *args) -> None:
    """Run tools/export_member.py with ``args``, as from the shell."""
    monkeypatch.setattr(sys, 'argv', ['export_member.py', *args])
    runpy.run_path(
        osp.join(REPO, 'tools/export_member.py'), run_name='__main__'
    )


def train_pair(cfg: Config) -> tuple:
    """Train ``cfg`` briefly; the pair model and its checkpoint."""
    runner = RUNNERS.build(cfg)
    runner.train()
    ckpt = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    pair = runner.model
    pair.eval()
    return pair, ckpt, runner.test_dataloader.dataset


def pair_prediction(pair, dataset, member: str) -> tuple:
    """The first test image and the member's prediction on it, as the pair
    makes it in its test loop."""
    with torch.no_grad():
        out = pair.test_step(pseudo_collate([dataset[0]]))[0]
    return dataset.get_data_info(0)['img_path'], out.members.get(member)


def assert_ordinary_permissions(*paths) -> None:
    for path in paths:
        assert os.stat(path).st_mode & 0o777 == 0o644, path


def test_exported_seg_member_reproduces_the_pair_member(
    tmp_path, seg_data_root, monkeypatch
):
    cfg = seg_pair_cfg(tmp_path, seg_data_root, iters=1)
    pair, ckpt, dataset = train_pair(cfg)
    os.umask(0o022)
    out = tmp_path / 'export' / 'swin.pth'
    export(monkeypatch, ckpt, '--member', 'swin', '--out', str(out))
    config = tmp_path / 'export' / 'swin.py'
    assert_ordinary_permissions(out, config)
    assert sorted(os.listdir(out.parent)) == ['swin.pth', 'swin.py']

    # The README's two lines, in a config that knows nothing of the pair.
    from mmseg.apis import inference_model, init_model

    model = init_model(str(config), str(out), device='cpu')
    image, want = pair_prediction(pair, dataset, 'swin')
    got = inference_model(model, image)
    torch.testing.assert_close(
        got.seg_logits.data, want.seg_logits.data, rtol=0, atol=0
    )
    assert model.dataset_meta['classes'] == dataset.metainfo['classes']
    # The stock evaluation of the config reads the pair's test data.
    exported = Config.fromfile(str(config))
    assert exported.test_dataloader.dataset.data_root == seg_data_root
    assert exported.test_evaluator.type == 'IoUMetric'


def test_exported_cls_member_reproduces_the_pair_member(
    tmp_path, cls_data_root, monkeypatch
):
    cfg = cls_pair_cfg(tmp_path, cls_data_root, iters=1)
    pair, ckpt, dataset = train_pair(cfg)
    os.umask(0o022)
    out = tmp_path / 'export' / 'vit.pth'
    export(monkeypatch, ckpt, '--member', 'vit', '--out', str(out))
    config = tmp_path / 'export' / 'vit.py'
    assert_ordinary_permissions(out, config)

    from mmpretrain import ImageClassificationInferencer, get_model

    image, want = pair_prediction(pair, dataset, 'vit')
    # mmpretrain's inference_model only takes models of its zoo; its
    # inferencer takes any config.
    inferencer = ImageClassificationInferencer(
        str(config), pretrained=str(out), device='cpu'
    )
    got = inferencer(image)[0]
    torch.testing.assert_close(
        torch.as_tensor(got['pred_scores']), want.pred_score, rtol=0, atol=0
    )
    assert got['pred_class'] == dataset.metainfo['classes'][got['pred_label']]
    model = get_model(str(config), pretrained=str(out), device='cpu')
    assert model._dataset_meta['classes'] == dataset.metainfo['classes']
    inputs = model.data_preprocessor(pseudo_collate([dataset[0]]))['inputs']
    with torch.no_grad():
        logits = model(inputs)
    torch.testing.assert_close(
        logits.softmax(1)[0], want.pred_score, rtol=0, atol=0
    )
