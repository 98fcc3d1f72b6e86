"""DHF1K video saliency dataset (pre-extracted frames)."""

import os
import os.path as osp

from bikd_mm.registry import DATASETS

from .base_video_saliency_dataset import (
    BaseVideoSaliencyDataset,
    scan_standard_video,
)


@DATASETS.register_module()
class DHF1KDataset(BaseVideoSaliencyDataset):
    """DHF1K (Wang et al., CVPR 2018), read from extracted frames.

    Layout under ``data_root``::

        annotation/<video>/images/<frame>.png     frames (or ``frame_dir``)
        annotation/<video>/maps/<frame>.png       saliency maps
        annotation/<video>/fixation/<frame>.png   binary fixations
        annotation/<video>/fixation/maps/<frame>.mat  (variable ``I``)
        <frame_dir>/<video>/<frame>.png           frames, optional tree

    Videos are numbered folders (``0001``; the padding width does not
    matter, folders are matched by number): 1-600 are ``'train'``,
    601-700 ``'val'`` and 701-1000 ``'test'``. Only the videos present on
    disk are used. Test videos have no public labels: a test video without
    a ``maps/`` folder yields samples without ``map_path`` and
    ``fixation_path``; for train and val a missing ``maps/`` folder is an
    error.

    Args:
        data_root (str): Dataset root folder.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        frame_dir (str, optional): Folder (relative to ``data_root`` or
            absolute) holding the frames as ``<video>/<frame>.png``,
            when they are not in ``annotation/<video>/images``. Needed for
            test videos, which have no annotation folder.
        fixation_format (str): ``'png'`` (``fixation/*.png``) or ``'mat'``
            (``fixation/maps/*.mat``, variable ``I``).
        **kwargs: See :class:`BaseVideoSaliencyDataset` (``clip_len``,
            ``frame_stride``, ``target_frame``, ``sampling``,
            ``clip_interval``, ``pad_mode``, ``skip_short_videos``,
            ``pipeline``, ...).
    """

    METAINFO: dict = dict(task='video_saliency', dataset_name='DHF1K')
    SPLITS = ('train', 'val', 'test')
    #: Inclusive range of video numbers of each split.
    SPLIT_RANGES: dict[str, tuple] = dict(
        train=(1, 600), val=(601, 700), test=(701, 1000)
    )

    def __init__(
        self,
        data_root: str,
        split: str = 'train',
        frame_dir: str | None = None,
        fixation_format: str = 'png',
        **kwargs,
    ) -> None:
        if fixation_format not in ('png', 'mat'):
            raise ValueError(
                f"DHF1KDataset: fixation_format must be 'png' "
                f"or 'mat', got {fixation_format!r}"
            )
        self.frame_dir = frame_dir
        self.fixation_format = fixation_format
        super().__init__(data_root=data_root, split=split, **kwargs)

    def _numbered_dirs(self, folder: str) -> dict[int, str]:
        """Map video number to sub-folder for the numbered folders."""
        lo, hi = self.SPLIT_RANGES[self.split]
        return {
            int(entry.name): entry.path
            for entry in os.scandir(folder)
            if entry.is_dir()
            and entry.name.isdigit()
            and lo <= int(entry.name) <= hi
        }

    def scan_videos(self) -> list[dict]:
        """List the videos of the split present on disk.

        Returns:
            list[dict]: See :meth:`BaseVideoSaliencyDataset.scan_videos`.
        """
        ann_root = osp.join(self.data_root, 'annotation')
        frame_root = None
        if self.frame_dir is not None:
            frame_root = self._require_dir(
                osp.join(self.data_root, self.frame_dir), 'frame folder'
            )
            listed = self._numbered_dirs(frame_root)
            annotated = (
                self._numbered_dirs(ann_root) if osp.isdir(ann_root) else {}
            )
        else:
            self._require_dir(ann_root, 'annotation folder')
            listed = annotated = self._numbered_dirs(ann_root)
        labels_required = self.split != 'test'
        videos = []
        for number in sorted(listed):
            video_dir = annotated.get(number)
            if video_dir is None:
                if labels_required:
                    raise FileNotFoundError(
                        f'DHF1KDataset: no annotation folder for video '
                        f'{number} (frames in {listed[number]}) under '
                        f'{ann_root}'
                    )
                video_dir = osp.join(ann_root, f'{number:04d}')
            frames_dir = listed[number] if frame_root else None
            videos.append(
                scan_standard_video(
                    f'{number:04d}',
                    video_dir,
                    frames_dir=frames_dir,
                    fixation_format=self.fixation_format,
                    labels_required=labels_required,
                )
            )
        return videos
