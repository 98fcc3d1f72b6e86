"""Per-member clips of one target frame, 'random' and margin sampling, and
Hollywood-2 shots joined into clips."""

import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from bikd_mm.datasets.saliency import (
    DHF1KDataset,
    Hollywood2Dataset,
    LoadSaliencyClip,
    PackSaliencyInputs,
    ResizeClip,
    SplitMemberClips,
    read_frame,
)

#: The reference's DHF1K windows, scaled down from 32 frames to 4.
SMALL = dict(
    tmfi=dict(clip_len=4, target_pos='last'),
    vinet=dict(clip_len=4, frame_stride=2, target_pos=2),
)


def reference_windows(gt_idx: int, num_frames: int, half: int) -> tuple:
    """The frames of the Bi-KD reference's DHF1K loader for a target.

    Written from its rules with 1-based file numbers: TMFI-Net reads files
    ``gt_idx - half + i + 2`` for ``i < half`` (file 1 below 1), ViNet-A
    files ``gt_idx - half + i + 1`` for even ``i < 2 * half`` (file 1 below
    1, the last file from ``num_frames`` on); ``half`` is half its
    ``clip_size``. Returns 0-based indices.
    """
    tmfi = [max(gt_idx - half + i + 2, 1) - 1 for i in range(half)]
    vinet = [
        min(max(gt_idx - half + i + 1, 1), num_frames) - 1
        for i in range(0, 2 * half, 2)
    ]
    return tmfi, vinet


def test_windows_follow_the_reference_rules(make_dhf1k):
    root = make_dhf1k({1: 3})
    ds = DHF1KDataset(
        root,
        member_clips=dict(
            tmfi=dict(clip_len=32),
            vinet=dict(clip_len=32, frame_stride=2, target_pos=16),
        ),
        pad_mode='repeat',
        lazy_init=True,
    )
    num = 70
    for target in (0, 1, 15, 31, 32, 40, 55, 69):
        union, pos = ds.clip_windows(target, num)
        tmfi, vinet = reference_windows(target, num, 32)
        assert [union[p] for p in pos['tmfi']] == tmfi
        assert [union[p] for p in pos['vinet']] == vinet
        assert union == sorted(set(tmfi) | set(vinet))
        # The target is TMFI-Net's last frame and ViNet-A's 17th.
        assert tmfi[-1] == target and vinet[16] == target


def test_one_window_is_loaded_and_split(make_dhf1k):
    root = make_dhf1k({1: 9})
    ds = DHF1KDataset(
        root,
        sampling='sliding',
        member_clips=SMALL,
        pad_mode='repeat',
        pipeline=[
            LoadSaliencyClip(),
            SplitMemberClips(sizes=dict(vinet=(6, 10))),
            PackSaliencyInputs(),
        ],
    )
    assert len(ds) == 9
    info = ds.get_data_info(3)
    assert info['frame'] == 3
    # tmfi: 0 1 2 3; vinet: 0 (clamped from -1) 1 3 5: six frames loaded.
    assert info['frame_indices'] == [0, 1, 2, 3, 5]
    assert info['member_frame_pos'] == dict(
        tmfi=[0, 1, 2, 3], vinet=[0, 1, 3, 4]
    )
    frames_dir = osp.join(root, 'annotation', '0001', 'images')
    assert info['frame_paths'] == [
        osp.join(frames_dir, f'{i + 1:04d}.png') for i in (0, 1, 2, 3, 5)
    ]
    out = ds[3]
    tmfi, vinet = out['inputs']['tmfi'], out['inputs']['vinet']
    assert tmfi.shape == (4, 3, 8, 12) and tmfi.dtype == torch.uint8
    assert vinet.shape == (4, 3, 6, 10)
    for k, index in enumerate([0, 1, 2, 3]):
        frame = read_frame(osp.join(frames_dir, f'{index + 1:04d}.png'))
        assert torch.equal(tmfi[k], torch.from_numpy(frame).permute(2, 0, 1))
    for k, index in enumerate([0, 1, 3, 5]):
        frame = read_frame(osp.join(frames_dir, f'{index + 1:04d}.png'))
        small = np.array(
            Image.fromarray(frame).resize((10, 6), Image.BILINEAR)
        )
        assert torch.equal(vinet[k], torch.from_numpy(small).permute(2, 0, 1))
    # One shared target and ground truth.
    assert out['data_samples'].frame == 3
    assert out['data_samples'].gt_saliency.shape == (8, 12)
    batch = pseudo_collate([ds[0], ds[8]])
    assert set(batch['inputs']) == {'tmfi', 'vinet'}
    assert len(batch['inputs']['vinet']) == 2


def test_clip_sampling_keeps_every_window_inside(make_dhf1k):
    root = make_dhf1k({1: 9})
    ds = DHF1KDataset(root, member_clips=SMALL)
    # tmfi needs 3 frames before the target, vinet 4 before and 2 after.
    assert [ds.get_data_info(i)['frame'] for i in range(len(ds))] == [4, 5, 6]


def test_random_sampling_draws_one_target_per_video(make_dhf1k):
    root = make_dhf1k({1: 9, 2: 5})
    ds = DHF1KDataset(
        root, sampling='random', member_clips=SMALL, pad_mode='repeat'
    )
    assert len(ds) == 2
    np.random.seed(0)
    targets = {0: set(), 1: set()}
    for _ in range(60):
        for idx in (0, 1):
            info = ds.get_data_info(idx)
            union, pos = info['frame_indices'], info['member_frame_pos']
            assert union[pos['tmfi'][-1]] == info['frame']
            targets[idx].add(info['frame'])
    assert targets[0] == set(range(9)) and targets[1] == set(range(5))


def test_sliding_end_margin_is_the_reference_validation(make_dhf1k):
    root = make_dhf1k({601: 10})
    ds = DHF1KDataset(
        root,
        split='val',
        sampling='sliding',
        clip_interval=3,
        end_margin=4,
        member_clips=SMALL,
        pad_mode='repeat',
    )
    # range(0, num_frames - clip_size, stride) of the reference.
    assert [ds.get_data_info(i)['frame'] for i in range(len(ds))] == list(
        range(0, 10 - 4, 3)
    )


@pytest.mark.parametrize(
    'spec',
    [
        dict(clip_len=0),
        dict(frame_stride=2),
        dict(clip_len=4, target_pos=4),
        dict(clip_len=4, stride=2),
    ],
)
def test_bad_member_clip_spec_is_named(make_dhf1k, spec):
    root = make_dhf1k({1: 9})
    with pytest.raises(ValueError, match=r"member_clips\['m'\]"):
        DHF1KDataset(root, member_clips=dict(m=spec))


def test_split_without_member_clips_says_what_to_do():
    split = SplitMemberClips()
    with pytest.raises(KeyError, match='member_clips'):
        split(dict(imgs=np.zeros((2, 4, 4, 3), np.uint8)))


def test_pil_bilinear_is_torchvision_resize_of_pil_frames():
    from torchvision.transforms import Resize

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 36, 64, 3), dtype=np.uint8)
    out = ResizeClip(size=(22, 38), interpolation='pil_bilinear')(
        dict(imgs=frames)
    )['imgs']
    for frame, got in zip(frames, out):
        expected = np.asarray(Resize((22, 38))(Image.fromarray(frame)))
        assert np.array_equal(got, expected)


def test_resize_maps_only(make_dhf1k):
    root = make_dhf1k({1: 4})
    ds = DHF1KDataset(root, clip_len=2)
    results = LoadSaliencyClip()(ds.get_data_info(0))
    out = ResizeClip(size=(4, 6), resize_imgs=False)(dict(results))
    assert out['imgs'].shape == (2, 8, 12, 3)
    assert out['gt_saliency'].shape == (4, 6)
    packed = PackSaliencyInputs()(out)
    assert packed['inputs'].shape == (2, 3, 8, 12)


def test_hollywood_shots_joined_in_shot_order(make_video_folders):
    root = make_video_folders(
        {
            'actioncliptrain00001_1': 3,
            'actioncliptrain00001_10': 2,
            'actioncliptrain00001_2': 4,
            'actioncliptrain00002_1': 5,
        }
    )
    ds = Hollywood2Dataset(
        root, group_shots=True, sampling='random', clip_len=2
    )
    assert ds.num_videos == 2 and len(ds) == 2
    video = ds.get_video_info(0)
    assert video['video'] == 'actioncliptrain00001' and video['shots'] == 3
    shots = [
        osp.basename(osp.dirname(osp.dirname(p))) for p in video['frame_paths']
    ]
    assert (
        shots
        == ['actioncliptrain00001_1'] * 3
        + ['actioncliptrain00001_2'] * 4
        + ['actioncliptrain00001_10'] * 2
    )
    assert len(video['map_paths']) == 9
    per_shot = Hollywood2Dataset(root, sampling='random', clip_len=2)
    assert per_shot.num_videos == 4
