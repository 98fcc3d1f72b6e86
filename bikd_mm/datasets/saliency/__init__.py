"""Video saliency datasets and transforms.

Datasets (one sample per clip, frames read from extracted images):
:class:`DHF1KDataset`, :class:`Hollywood2Dataset`,
:class:`UCFSportsDataset`, :class:`DIEMDataset`, and the generic
:class:`VideoFolderSaliencyDataset`, all built on
:class:`BaseVideoSaliencyDataset`.

A typical pipeline::

    [dict(type='LoadSaliencyClip'),
     dict(type='ResizeClip', size=(224, 384)),
     dict(type='RandomFlipClip', prob=0.5),       # training only
     dict(type='PackSaliencyInputs')]

which yields ``uint8`` ``inputs`` of shape ``[T, 3, H, W]`` (RGB) and a
``BaseDataElement`` data sample with ``gt_saliency``, ``gt_fixation``
(data fields) and ``video``, ``frame`` (meta keys). Normalisation
belongs to each model's data preprocessor (members may differ);
:class:`NormalizeClip` is there for pipelines that share one.

Members that read different clips of one target frame (the published
models): the dataset's ``member_clips`` loads the union of their frames
once, and :class:`SplitMemberClips` (after ``LoadSaliencyClip``) cuts and
resizes each member's clip; ``inputs`` is then a dict by member.
"""

from .base_video_saliency_dataset import (
    BaseVideoSaliencyDataset,
    window_indices,
)
from .dhf1k_dataset import DHF1KDataset
from .diem_dataset import DIEMDataset
from .hollywood2_dataset import Hollywood2Dataset
from .io_utils import (
    read_fixation_map,
    read_frame,
    read_saliency_map,
    rescale_fixations,
)
from .load_saliency_clip import LoadSaliencyClip
from .normalize_clip import NormalizeClip
from .pack_saliency_inputs import PackSaliencyInputs
from .random_flip_clip import RandomFlipClip
from .resize_clip import ResizeClip
from .split_member_clips import SplitMemberClips
from .ucf_sports_dataset import UCFSportsDataset
from .video_folder_saliency_dataset import VideoFolderSaliencyDataset

__all__ = [
    'BaseVideoSaliencyDataset',
    'DHF1KDataset',
    'DIEMDataset',
    'Hollywood2Dataset',
    'LoadSaliencyClip',
    'NormalizeClip',
    'PackSaliencyInputs',
    'RandomFlipClip',
    'ResizeClip',
    'SplitMemberClips',
    'UCFSportsDataset',
    'VideoFolderSaliencyDataset',
    'read_fixation_map',
    'read_frame',
    'read_saliency_map',
    'rescale_fixations',
    'window_indices',
]
