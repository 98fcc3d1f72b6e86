"""The demo pair config end to end with a Runner: train, evaluate, resume,
export."""

import copy
import os.path as osp

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS

import bikd_mm  # noqa: F401
from bikd_mm.engine.hooks.teacher_map_visualization_hook import (
    MEMBER_COLOURS,
)
from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.utils.checkpoint import load_checkpoint_file
from bikd_mm.utils.export import export_member
from tests.models.segmentors.seg_fixtures import REPO, fake_batch


class IterSpy(Hook):
    """Records the iteration at which each training step starts."""

    def __init__(self):
        self.seen = []
        self.optim_states = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.optim_states is None:
            self.optim_states = {
                name: copy.deepcopy(wrapper.optimizer.state_dict())
                for name, wrapper in runner.optim_wrapper.items()
            }
            self.weights = {
                k: v.clone() for k, v in runner.model.state_dict().items()
            }
        self.seen.append(runner.iter)


PAIR = osp.join(REPO, 'configs/bikd/demo/seg_pair_digits.py')


def write_member_checkpoints(cfg: Config, out_dir) -> None:
    """Random-init members saved as stand-ins for pretrained checkpoints."""
    from mmseg.registry import MODELS

    from bikd_mm.models.member import build_member, parse_members

    for spec, member in zip(
        parse_members(cfg.model.members), cfg.model.members
    ):
        torch.manual_seed(len(spec.name))
        spec.checkpoint = None
        model = build_member(spec, MODELS)
        path = osp.join(out_dir, f'{spec.name}.pth')
        torch.save({'state_dict': model.state_dict()}, path)
        member['checkpoint'] = path


def pair_cfg(tmp_path, data_root, iters=2) -> Config:
    cfg = Config.fromfile(PAIR)
    write_member_checkpoints(cfg, str(tmp_path))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].batch_size = 4
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    cfg.custom_hooks = [
        dict(type='TeacherMapVisualizationHook', interval=1, max_samples=2)
    ]
    return cfg


def test_expansion_takes_member_settings(tmp_path, seg_data_root):
    cfg = pair_cfg(tmp_path, seg_data_root)
    cfg.pop('optim_wrapper')
    cfg.pop('param_scheduler')
    expand_pair_config(cfg)
    optim = cfg.optim_wrapper
    assert optim.constructor == 'BiKDOptimWrapperConstructor'
    assert optim.cnn.optimizer.lr == 3e-3
    assert optim.swin.optimizer.lr == 2e-3
    assert 'paramwise_cfg' in optim.swin
    assert set(cfg.param_scheduler) == {'cnn', 'swin'}
    assert cfg.val_evaluator.type == 'MemberMetric'
    assert cfg.val_evaluator.members == ['cnn', 'swin']


def test_expansion_override_for_all_and_per_member(tmp_path, seg_data_root):
    cfg = pair_cfg(tmp_path, seg_data_root)
    expand_pair_config(cfg)
    assert cfg.optim_wrapper.cnn.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.swin.optimizer.lr == 2e-4
    cfg = pair_cfg(tmp_path, seg_data_root)
    cfg.optim_wrapper = dict(
        swin=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.5))
    )
    expand_pair_config(cfg)
    assert cfg.optim_wrapper.swin.optimizer.lr == 0.5
    assert cfg.optim_wrapper.cnn.optimizer.lr == 3e-3  # its own
    cfg.optim_wrapper = dict(nobody=dict(type='OptimWrapper'))
    cfg.optim_wrapper.pop('constructor', None)
    with pytest.raises(KeyError, match='unknown members'):
        expand_pair_config(cfg)


def test_train_evaluate_resume_and_export(tmp_path, seg_data_root):
    cfg = pair_cfg(tmp_path, seg_data_root, iters=2)
    runner = RUNNERS.build(cfg)
    runner.train()
    hub = runner.message_hub
    for name in ('cnn', 'swin'):
        assert 0.0 <= hub.get_scalar(f'val/{name}/mIoU').current() <= 100
        assert f'train/{name}.teach_share' in hub.log_scalars
    ckpt = osp.join(cfg.work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    for name in ('cnn', 'swin'):  # save_best per member
        assert osp.isfile(
            osp.join(cfg.work_dir, f'best_{name}_mIoU_iter_2.pth')
        )
    # image | ground truth | cnn | swin | teacher map, 64 px each.
    picture = cv2.imread(osp.join(cfg.work_dir, 'vis_teacher', 'iter_2_1.png'))
    assert picture.shape == (64, 5 * 64, 3)
    teacher = picture[:, 4 * 64 :].reshape(-1, 3)
    colours = {tuple(c) for c in teacher.tolist()}
    assert colours <= {(0, 0, 0), *map(tuple, MEMBER_COLOURS[:2])}
    assert len(colours - {(0, 0, 0)}) >= 1
    saved = load_checkpoint_file(str(ckpt))
    assert {'cnn', 'swin'} <= set(saved['optimizer'])
    assert {'cnn', 'swin'} <= set(saved['param_schedulers'])
    # Resume in a new runner: continues at iteration 3 with both members.
    cfg2 = pair_cfg(tmp_path, seg_data_root, iters=3)
    cfg2.work_dir = cfg.work_dir
    cfg2.resume = True
    cfg2.load_from = ckpt
    runner2 = RUNNERS.build(cfg2)
    spy = IterSpy()
    runner2.register_hook(spy)
    runner2.train()
    assert spy.seen == [2]
    for name in ('cnn', 'swin'):
        want = saved['optimizer'][name]['state']
        got = spy.optim_states[name]['state']
        assert want and set(got) == set(want)
        for idx, slots in want.items():
            for slot, value in slots.items():
                torch.testing.assert_close(got[idx][slot], value)
    assert runner2.iter == 3

    # The resumed run started from both members' saved weights.
    for key, value in saved['state_dict'].items():
        torch.testing.assert_close(spy.weights[key], value)
    resumed = load_checkpoint_file(str(osp.join(cfg.work_dir, 'iter_3.pth')))
    assert resumed['meta']['iter'] == 3

    # Export a member and load it with stock mmseg: identical logits.
    from mmseg.apis import init_model

    out = tmp_path / 'swin.pth'
    export_member(ckpt, 'swin', str(out))
    member_cfg = Config.fromfile(
        osp.join(REPO, 'configs/bikd/demo/members/upernet_swin-tiny_digits.py')
    )
    stock = init_model(member_cfg, str(out), device='cpu')
    pair = RUNNERS.build(pair_cfg(tmp_path, seg_data_root)).model
    state = load_checkpoint_file(str(ckpt))['state_dict']
    pair.load_state_dict(state)
    pair.eval()
    data = pair.data_preprocessor(fake_batch(batch=1), False)
    inputs, samples = pair._member_batch(
        'swin', data['inputs'], data['data_samples'], False
    )
    with torch.no_grad():
        want = pair.members['swin']._forward(inputs)
        got = stock._forward(inputs)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    with pytest.raises(KeyError, match="members: \\['cnn', 'swin'\\]"):
        export_member(ckpt, 'vit', str(tmp_path / 'vit.pth'))
    assert not osp.exists(tmp_path / 'vit.pth')
