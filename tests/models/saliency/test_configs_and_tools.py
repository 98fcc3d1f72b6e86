import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from bikd_mm.models.member import parse_members
from bikd_mm.models.saliency import BiKDSaliency, VideoSaliencyModel
from bikd_mm.registry import MODELS

from .fixtures import s3d_member_model, swin_member_model

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
)
PAIRS = [
    'configs/bikd/sal_pair_tmfi_vinet_dhf1k.py',
    'configs/bikd/sal_pair_tmfi_vinet_hollywood2.py',
    'configs/bikd/sal_pair_tmfi_vinet_ucf_sports.py',
    'configs/bikd/sal_triple_tmfi_vinet_framewise_dhf1k.py',
    'configs/bikd/demo/sal_pair_synthetic.py',
]


@pytest.mark.parametrize('path', PAIRS)
def test_pair_configs_parse_and_expand(path):
    pytest.importorskip('mmseg')
    from bikd_mm.engine.runner import expand_pair_config

    cfg = Config.fromfile(osp.join(REPO, path))
    specs = parse_members(cfg.model.members)
    assert all(s.model.type == 'VideoSaliencyModel' for s in specs)
    cfg = expand_pair_config(cfg)
    names = [s.name for s in specs]
    assert set(cfg.optim_wrapper) - {'constructor'} == set(names)
    assert cfg.val_evaluator.type == 'MemberMetric'
    assert cfg.val_evaluator.members == names


def test_reference_pair_settings():
    cfg = Config.fromfile(osp.join(REPO, PAIRS[0]))
    assert cfg.clip_len == 32 and tuple(cfg.input_size) == (224, 384)
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=1e-6, weight_decay=1e-5
    )
    specs = parse_members(cfg.model.members)
    for spec in specs:
        assert tuple(spec.model.data_preprocessor['size']) == (224, 384)


def test_dhf1k_pair_builds_full_members():
    cfg = Config.fromfile(osp.join(REPO, PAIRS[0]))
    pair = MODELS.build(cfg.model)
    assert isinstance(pair, BiKDSaliency)
    assert pair.member_names == ['tmfi', 'vinet']
    tmfi = pair.members['tmfi'].backbone
    assert len(tmfi.layers[2].blocks) == 18
    assert pair.members['vinet'].backbone.out_channels == [192, 480, 832, 1024]


@pytest.mark.parametrize('pair_checkpoint', [True, False])
def test_predict_tool_writes_one_png_per_frame(tmp_path, pair_checkpoint):
    import sys

    sys.path.insert(0, osp.join(REPO, 'tools', 'saliency'))
    import predict

    frames = tmp_path / 'frames'
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(
            str(frames / f'{i + 1:04d}.png'),
            rng.integers(0, 255, (36, 50, 3), dtype=np.uint8),
        )
    torch.manual_seed(0)
    if pair_checkpoint:
        config = tmp_path / 'pair.py'
        config.write_text(
            'model = dict(type="BiKDSaliency", members=['
            f'dict(name="a", model={swin_member_model()!r}), '
            f'dict(name="b", model={s3d_member_model()!r})])\n'
            'clip_len = 4\n'
        )
        model = MODELS.build(Config.fromfile(str(config)).model)
        extra = ['--member', 'b']
        expected = model.members['b']
    else:
        config = tmp_path / 'member.py'
        config.write_text(f'model = {s3d_member_model()!r}\nclip_len = 4\n')
        model = MODELS.build(Config.fromfile(str(config)).model)
        extra = ['--size', '32', '48']
        expected = model
    checkpoint = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = tmp_path / 'out'
    assert (
        predict.main(
            [str(config), str(checkpoint), str(frames), str(out), *extra]
        )
        == 0
    )
    written = sorted(p.name for p in out.iterdir())
    assert written == [f'{i + 1:04d}.png' for i in range(5)]
    first = cv2.imread(str(out / '0005.png'), cv2.IMREAD_UNCHANGED)
    assert first.shape == (36, 50) and first.dtype == np.uint8
    assert first.max() == 255
    loaded = predict.load_model(
        Config.fromfile(str(config)),
        str(checkpoint),
        'b' if pair_checkpoint else None,
    )
    assert isinstance(loaded, VideoSaliencyModel)
    for key, value in expected.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_demo_pair_runs_with_bikd_runner(tmp_path):
    """Two Bi-KD iterations and a validation through BiKDRunner."""
    pytest.importorskip('mmseg')
    import sys

    from mmengine.registry import RUNNERS

    import bikd_mm.engine  # noqa: F401

    sys.path.insert(0, osp.join(REPO, 'tools', 'saliency'))
    from make_synthetic import make_synthetic

    root = make_synthetic(
        str(tmp_path / 'data'),
        num_train=2,
        num_val=1,
        num_frames=10,
        num_observers=5,
    )
    cfg = Config.fromfile(osp.join(REPO, PAIRS[-1]))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root
    cfg.val_dataloader.dataset.clip_interval = 5
    for member in cfg.model.members:
        member['checkpoint'] = None
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 2
    cfg.param_scheduler[0].end = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'ERROR'
    runner = RUNNERS.build(cfg)
    runner.train()
    hub = runner.message_hub
    for name in ('swin', 's3d'):
        for metric in ('CC', 'KLD', 'SIM', 'NSS', 'AUC_J', 'sAUC'):
            assert f'val/{name}/{metric}' in hub.log_scalars
        assert f'train/{name}.teach_share' in hub.log_scalars
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_2.pth'))


def test_predict_tool_uses_a_members_own_clip(tmp_path, monkeypatch):
    """A member with ``member_clips`` in its pair config is predicted from
    its own window (stride, target position, edge handling) and size."""
    sys.path.insert(0, osp.join(REPO, 'tools', 'saliency'))
    import predict

    cfg = Config.fromfile(
        osp.join(REPO, 'configs/bikd/sal_pair_tmfi-net_vinet-a_dhf1k.py')
    )
    assert predict.member_clip(cfg, 'vinet_a') == dict(
        clip_len=32,
        frame_stride=2,
        target_pos=16,
        pad_mode='repeat',
        size=(256, 456),
        interpolation='pil_bilinear',
    )
    assert predict.member_clip(cfg, 'tmfi_net')['target_pos'] == 'last'

    frames = tmp_path / 'frames'
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        cv2.imwrite(
            str(frames / f'{i + 1:04d}.png'),
            rng.integers(0, 255, (36, 50, 3), dtype=np.uint8),
        )
    config = tmp_path / 'pair.py'
    config.write_text(
        'model = dict(type="BiKDSaliency", members=['
        f'dict(name="a", model={swin_member_model()!r}), '
        f'dict(name="b", model={s3d_member_model()!r})])\n'
        'val_dataloader = dict(dataset=dict(pad_mode="repeat", '
        'member_clips=dict(b=dict(clip_len=4, frame_stride=2, '
        'target_pos=1)), pipeline=[dict(type="SplitMemberClips", '
        'sizes=dict(b=(24, 32)))]))\n'
    )
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    checkpoint = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    windows, sizes = [], []
    real_window, real_read = predict.window_indices, predict.read_video

    def spy_window(*args):
        windows.append(real_window(*args))
        return windows[-1]

    def spy_read(frames_dir, size, interpolation='bilinear'):
        sizes.append((size, interpolation))
        return real_read(frames_dir, size, interpolation)

    monkeypatch.setattr(predict, 'window_indices', spy_window)
    monkeypatch.setattr(predict, 'read_video', spy_read)
    out = tmp_path / 'out'
    args = [str(config), str(checkpoint), str(frames), str(out)]
    assert predict.main([*args, '--member', 'b']) == 0
    assert len(list(out.iterdir())) == 6
    # Frame t from t-2, t, t+2, t+4, clamped into the video.
    assert windows[0] == [0, 0, 2, 4] and windows[5] == [3, 5, 5, 5]
    assert sizes == [((24, 32), 'pil_bilinear')]
