"""Writers of tiny frames, maps and fixations for the layout fixtures."""

import os
import os.path as osp

import cv2
import numpy as np
import scipy.io

#: Size of every fixture frame and map.
H, W = 8, 12


def frame_image(video_seed: int, index: int) -> np.ndarray:
    """A distinct BGR frame whose left and right halves differ."""
    img = np.zeros((H, W, 3), dtype=np.uint8)
    img[..., 0] = (video_seed * 40 + index * 10) % 256
    img[:, : W // 2, 1] = 200
    img[..., 2] = np.arange(W, dtype=np.uint8)[None, :] * 20
    return img


def saliency_image(index: int) -> np.ndarray:
    """A grey-scale map with a bright column that depends on the frame."""
    sal = np.full((H, W), 10, dtype=np.uint8)
    sal[:, index % W] = 255
    return sal


def fixation_array(index: int, empty: bool = False) -> np.ndarray:
    """A binary fixation map with two fixations (or none)."""
    fix = np.zeros((H, W), dtype=np.uint8)
    if not empty:
        fix[1, index % W] = 1
        fix[H - 2, 0] = 1
    return fix


def write_standard_video(
    video_dir: str,
    num_frames: int,
    seed: int = 0,
    frames_dir: str = None,
    labels: bool = True,
    num_maps: int = None,
    empty_fixation: tuple = (),
    names: str = '{:04d}',
) -> None:
    """Write ``{images,maps,fixation}/`` (and ``fixation/maps/*.mat``)."""
    frames_dir = frames_dir or osp.join(video_dir, 'images')
    os.makedirs(frames_dir, exist_ok=True)
    for i in range(num_frames):
        name = names.format(i + 1) + '.png'
        cv2.imwrite(osp.join(frames_dir, name), frame_image(seed, i))
    if not labels:
        return
    for sub in ('maps', 'fixation', osp.join('fixation', 'maps')):
        os.makedirs(osp.join(video_dir, sub), exist_ok=True)
    for i in range(num_frames if num_maps is None else num_maps):
        stem = names.format(i + 1)
        fix = fixation_array(i, empty=i in empty_fixation)
        cv2.imwrite(
            osp.join(video_dir, 'maps', stem + '.png'), saliency_image(i)
        )
        cv2.imwrite(osp.join(video_dir, 'fixation', stem + '.png'), fix * 255)
        scipy.io.savemat(
            osp.join(video_dir, 'fixation', 'maps', stem + '.mat'), dict(I=fix)
        )
