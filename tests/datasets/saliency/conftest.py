"""Tiny on-disk trees in the layouts of the video saliency datasets."""

import os
import os.path as osp

import cv2
import numpy as np
import pytest
import scipy.io

from .layouts import (
    fixation_array,
    frame_image,
    saliency_image,
    write_standard_video,
)


@pytest.fixture
def make_dhf1k(tmp_path):
    """Factory of a DHF1K tree: ``make_dhf1k({1: 6, 601: 5}, ...)``."""

    def make(
        videos: dict, test_videos: dict = None, options: dict = None
    ) -> str:
        root = str(tmp_path / 'dhf1k')
        options = options or {}
        for number, num_frames in videos.items():
            write_standard_video(
                osp.join(root, 'annotation', f'{number:04d}'),
                num_frames,
                seed=number,
                **options.get(number, {}),
            )
        for number, num_frames in (test_videos or {}).items():
            write_standard_video(
                osp.join(root, 'annotation', f'{number:04d}'),
                num_frames,
                seed=number,
                frames_dir=osp.join(root, 'frames', f'{number:04d}'),
                labels=False,
            )
        return root

    return make


@pytest.fixture
def make_video_folders(tmp_path):
    """Factory of a ``training/``/``testing/`` tree of clip folders."""

    def make(
        training: dict, testing: dict = None, names: str = '_{:03d}'
    ) -> str:
        root = str(tmp_path / 'folders')
        for split, clips in (
            ('training', training),
            ('testing', testing or {}),
        ):
            for seed, (name, num_frames) in enumerate(clips.items()):
                write_standard_video(
                    osp.join(root, split, name),
                    num_frames,
                    seed=seed,
                    names=name + names,
                )
        return root

    return make


@pytest.fixture
def make_diem(tmp_path):
    """Factory of a DIEM tree in the STAViS layout."""

    def make(
        train: dict,
        test: dict = None,
        listed_frames: dict = None,
        list_dir: str = 'fold_lists',
    ) -> str:
        root = str(tmp_path / 'diem')
        listed_frames = listed_frames or {}
        os.makedirs(osp.join(root, list_dir), exist_ok=True)
        for split, videos in (('train', train), ('test', test or {})):
            lines = []
            for seed, (name, num_frames) in enumerate(videos.items()):
                frames = osp.join(root, 'video_frames', 'DIEM', name)
                ann = osp.join(root, 'annotations', 'DIEM', name)
                os.makedirs(frames)
                os.makedirs(osp.join(ann, 'maps'))
                for i in range(num_frames):
                    cv2.imwrite(
                        osp.join(frames, f'img_{i + 1:05d}.jpg'),
                        frame_image(seed, i),
                    )
                    cv2.imwrite(
                        osp.join(ann, 'maps', f'eyeMap_{i + 1:05d}.jpg'),
                        saliency_image(i),
                    )
                    scipy.io.savemat(
                        osp.join(ann, f'fixMap_{i + 1:05d}.mat'),
                        dict(eyeMap=fixation_array(i).astype(np.float64)),
                    )
                nframes = listed_frames.get(name, num_frames)
                lines.append(f'{name} {nframes} 29.97\n')
            with open(
                osp.join(root, list_dir, f'DIEM_list_{split}_fps.txt'), 'w'
            ) as f:
                f.writelines(lines)
        return root

    return make
