"""Clip indexing, layouts and errors of the video saliency datasets."""

import os
import os.path as osp

import pytest

from bikd_mm.datasets.saliency import (
    DHF1KDataset,
    DIEMDataset,
    Hollywood2Dataset,
    UCFSportsDataset,
    window_indices,
)
from bikd_mm.registry import DATASETS


def targets(dataset):
    return [
        (d['video'], d['frame'])
        for d in (dataset.get_data_info(i) for i in range(len(dataset)))
    ]


# --- window_indices ----------------------------------------------------------


def test_window_inside_video():
    assert window_indices(5, 10, 3) == [3, 4, 5]
    assert window_indices(5, 10, 3, stride=2) == [1, 3, 5]
    assert window_indices(5, 10, 3, target_pos=1) == [4, 5, 6]


def test_window_time_flip_matches_reference():
    # The first frames are predicted from the reversed following clip.
    assert window_indices(0, 10, 4) == [3, 2, 1, 0]
    assert window_indices(1, 10, 4) == [4, 3, 2, 1]
    assert window_indices(1, 10, 3, stride=2) == [5, 3, 1]


def test_window_mirrors_when_flip_does_not_fit():
    # Centred target at the start: indices mirror at frame 0.
    assert window_indices(1, 10, 5, target_pos=2) == [1, 0, 1, 2, 3]
    # Video shorter than two clips: mirrored (repeatedly) into range.
    assert window_indices(1, 3, 4) == [2, 1, 0, 1]
    assert window_indices(0, 1, 3) == [0, 0, 0]


def test_window_repeat():
    assert window_indices(1, 10, 4, pad_mode='repeat') == [0, 0, 0, 1]
    assert window_indices(9, 10, 3, target_pos=1, pad_mode='repeat') == [
        8,
        9,
        9,
    ]


# --- clip index --------------------------------------------------------------


def test_dhf1k_last_target(make_dhf1k):
    root = make_dhf1k({1: 6, 2: 5, 601: 5})
    ds = DHF1KDataset(root, split='train', clip_len=3)
    assert ds.num_videos == 2
    assert targets(ds) == [('0001', t) for t in range(2, 6)] + [
        ('0002', t) for t in range(2, 5)
    ]
    info = ds.get_data_info(0)
    assert info['frame_indices'] == [0, 1, 2]
    assert [osp.basename(p) for p in info['frame_paths']] == [
        '0001.png',
        '0002.png',
        '0003.png',
    ]
    assert info['frame_name'] == '0003'
    assert info['map_path'].endswith(osp.join('0001', 'maps', '0003.png'))
    assert info['fixation_path'].endswith(
        osp.join('0001', 'fixation', '0003.png')
    )
    assert info['num_frames'] == 6
    assert ds.metainfo['dataset_name'] == 'DHF1K'
    val = DHF1KDataset(root, split='val', clip_len=3)
    assert targets(val) == [('0601', t) for t in range(2, 5)]


def test_dhf1k_center_target_and_stride(make_dhf1k):
    root = make_dhf1k({1: 7})
    ds = DHF1KDataset(root, clip_len=3, target_frame='center')
    assert targets(ds) == [('0001', t) for t in range(1, 6)]
    assert ds.get_data_info(0)['frame_indices'] == [0, 1, 2]
    ds = DHF1KDataset(root, clip_len=3, frame_stride=2)
    assert targets(ds) == [('0001', 4), ('0001', 5), ('0001', 6)]
    assert ds.get_data_info(0)['frame_indices'] == [0, 2, 4]
    ds = DHF1KDataset(root, clip_len=4, target_frame='center')
    # Even clip length: the target is at position clip_len // 2.
    assert ds.get_data_info(0)['frame_indices'] == [0, 1, 2, 3]
    assert ds.get_data_info(0)['frame'] == 2


def test_dhf1k_sparse_validation_clips(make_dhf1k):
    root = make_dhf1k({601: 10})
    ds = DHF1KDataset(root, split='val', clip_len=3, clip_interval=3)
    assert targets(ds) == [('0601', 2), ('0601', 5), ('0601', 8)]


@pytest.mark.parametrize(
    'pad_mode, first, second',
    [
        ('flip', [2, 1, 0], [3, 2, 1]),
        ('repeat', [0, 0, 0], [0, 0, 1]),
    ],
)
def test_sliding_window_padding(make_dhf1k, pad_mode, first, second):
    root = make_dhf1k({601: 5})
    ds = DHF1KDataset(
        root, split='val', clip_len=3, sampling='sliding', pad_mode=pad_mode
    )
    assert targets(ds) == [('0601', t) for t in range(5)]
    assert ds.get_data_info(0)['frame_indices'] == first
    assert ds.get_data_info(1)['frame_indices'] == second
    assert ds.get_data_info(4)['frame_indices'] == [2, 3, 4]


def test_dhf1k_test_split_without_labels(make_dhf1k):
    root = make_dhf1k({1: 4}, test_videos={701: 4, 702: 3})
    ds = DHF1KDataset(root, split='test', clip_len=3, frame_dir='frames')
    assert ds.sampling == 'sliding'
    assert len(ds) == 7
    info = ds.get_data_info(0)
    assert info['map_path'] is None and info['fixation_path'] is None
    assert osp.join('frames', '0701') in info['frame_paths'][0]


def test_dhf1k_mat_fixations(make_dhf1k):
    root = make_dhf1k({1: 3})
    ds = DHF1KDataset(root, clip_len=3, fixation_format='mat')
    info = ds.get_data_info(0)
    assert info['fixation_path'].endswith(
        osp.join('fixation', 'maps', '0003.mat')
    )
    assert info['fixation_key'] == 'I'


def test_serialized_and_plain_index_agree(make_dhf1k):
    root = make_dhf1k({1: 5, 2: 4})
    a = DHF1KDataset(root, clip_len=2)
    b = DHF1KDataset(root, clip_len=2, serialize_data=False)
    assert len(a) == len(b) == 7
    for i in range(len(a)):
        assert a.get_data_info(i) == b.get_data_info(i)
    sub = a.get_subset([5, 6])
    assert targets(sub) == [('0002', 2), ('0002', 3)]


def test_lazy_init_defers_scanning(tmp_path):
    ds = DHF1KDataset(str(tmp_path / 'missing'), lazy_init=True)
    with pytest.raises(FileNotFoundError, match='missing'):
        ds.full_init()


def test_registry_builds_datasets(make_dhf1k):
    root = make_dhf1k({1: 3})
    ds = DATASETS.build(dict(type='DHF1KDataset', data_root=root, clip_len=2))
    assert isinstance(ds, DHF1KDataset) and len(ds) == 2


def test_hollywood2_layout(make_video_folders):
    root = make_video_folders(
        {'actioncliptrain00001_1': 4, 'actioncliptrain00001_2': 3},
        {'actioncliptest00003_10': 5},
    )
    ds = Hollywood2Dataset(root, split='train', clip_len=3)
    assert targets(ds) == [
        ('actioncliptrain00001_1', 2),
        ('actioncliptrain00001_1', 3),
        ('actioncliptrain00001_2', 2),
    ]
    info = ds.get_data_info(0)
    assert info['clip'] == 'actioncliptrain00001' and info['shot'] == 1
    assert info['frame_name'] == 'actioncliptrain00001_1_003'
    test = Hollywood2Dataset(root, split='test', clip_len=3)
    assert test.sampling == 'sliding' and len(test) == 5
    assert test.get_data_info(4)['shot'] == 10


def test_ucf_sports_layout_and_natural_order(make_video_folders):
    # Unpadded numbers in folder and frame names still sort in time order.
    root = make_video_folders(
        {'Diving-Side-10': 3, 'Diving-Side-2': 11}, names='_{:d}'
    )
    with pytest.warns(UserWarning, match='Diving-Side-10 has 3 frames'):
        ds = UCFSportsDataset(root, clip_len=11, skip_short_videos=True)
    assert [v for v, _ in targets(ds)] == ['Diving-Side-2']
    ds = UCFSportsDataset(root, clip_len=3)
    assert targets(ds)[0] == ('Diving-Side-2', 2)
    assert targets(ds)[-1] == ('Diving-Side-10', 2)
    info = ds.get_data_info(8)
    assert info['action'] == 'Diving-Side'
    assert [osp.basename(p) for p in info['frame_paths']] == [
        'Diving-Side-2_9.png',
        'Diving-Side-2_10.png',
        'Diving-Side-2_11.png',
    ]
    with pytest.raises(ValueError, match='split must be one of'):
        UCFSportsDataset(root, split='val')


def test_diem_layout(make_diem):
    root = make_diem({'a_video': 4, 'b_video': 3}, {'c_video': 3})
    ds = DIEMDataset(root, split='train', clip_len=3)
    assert targets(ds) == [('a_video', 2), ('a_video', 3), ('b_video', 2)]
    info = ds.get_data_info(0)
    assert info['fps'] == pytest.approx(29.97)
    assert info['fixation_key'] == 'eyeMap'
    assert osp.basename(info['frame_paths'][0]) == 'img_00001.jpg'
    assert osp.basename(info['map_path']) == 'eyeMap_00003.jpg'
    assert osp.basename(info['fixation_path']) == 'fixMap_00003.mat'
    assert len(DIEMDataset(root, split='test', clip_len=3)) == 3


def test_diem_list_at_root_and_nframes_warning(make_diem):
    root = make_diem(
        {'a_video': 4}, listed_frames={'a_video': 9}, list_dir='.'
    )
    with pytest.warns(UserWarning, match='lists 9 frames'):
        ds = DIEMDataset(root, clip_len=2)
    assert len(ds) == 3


# --- errors ------------------------------------------------------------------


def test_error_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        DHF1KDataset(str(tmp_path / 'nowhere'))


def test_error_split_without_samples(make_dhf1k):
    root = make_dhf1k({1: 4})
    with pytest.raises(ValueError, match="split 'val' .* has no samples"):
        DHF1KDataset(root, split='val', clip_len=2)


def test_error_frames_and_maps_mismatch(make_dhf1k):
    root = make_dhf1k({1: 5}, options={1: dict(num_maps=4)})
    with pytest.raises(ValueError, match=r'annotation.0001.*5 frames but 4'):
        DHF1KDataset(root, clip_len=2)


def test_error_missing_annotation_folder(make_dhf1k, tmp_path):
    root = make_dhf1k({1: 3})
    os.makedirs(osp.join(root, 'frames', '0002'))
    with pytest.raises(FileNotFoundError, match='no annotation folder'):
        DHF1KDataset(root, frame_dir='frames', clip_len=2)
    os.rename(
        osp.join(root, 'annotation', '0001', 'maps'),
        osp.join(root, 'annotation', '0001', 'maps_'),
    )
    with pytest.raises(FileNotFoundError, match=r'0001.maps'):
        DHF1KDataset(root, clip_len=2)


def test_error_clip_longer_than_video(make_dhf1k):
    root = make_dhf1k({1: 3, 2: 6})
    with pytest.raises(ValueError, match=r'0001 has 3 frames.*clip'):
        DHF1KDataset(root, clip_len=4)
    with pytest.warns(UserWarning, match='0001 has 3 frames'):
        ds = DHF1KDataset(root, clip_len=4, skip_short_videos=True)
    assert {v for v, _ in targets(ds)} == {'0002'}
    # Sliding windows pad short videos instead.
    assert len(DHF1KDataset(root, clip_len=4, sampling='sliding')) == 9


def test_error_bad_options(make_dhf1k):
    root = make_dhf1k({1: 3})
    for kwargs in (
        dict(split='dev'),
        dict(target_frame='first'),
        dict(sampling='dense'),
        dict(pad_mode='zeros'),
        dict(clip_len=0),
        dict(frame_stride=0),
        dict(fixation_format='npy'),
    ):
        with pytest.raises(ValueError):
            DHF1KDataset(root, **kwargs)


def test_get_subset_keeps_frame_table(make_dhf1k):
    root = make_dhf1k({1: 3, 2: 3})
    ds = DHF1KDataset(root, clip_len=3, indices=[1])
    assert len(ds) == 1
    assert ds.get_data_info(0)['frame_paths'][0].endswith(
        osp.join('0002', 'images', '0001.png')
    )
    assert ds.get_data_info(0)['frame_indices'] == [0, 1, 2]
