"""DIEM video saliency dataset."""

import os.path as osp
import warnings

from bikd_mm.registry import DATASETS

from .base_video_saliency_dataset import BaseVideoSaliencyDataset
from .io_utils import list_files


@DATASETS.register_module()
class DIEMDataset(BaseVideoSaliencyDataset):
    """DIEM (Mital et al., 2011) in the layout of STAViS and ViNet.

    Layout under ``data_root``::

        video_frames/DIEM/<video>/img_00001.jpg
        annotations/DIEM/<video>/maps/eyeMap_00001.jpg
        annotations/DIEM/<video>/fixMap_00001.mat     (variable eyeMap)
        fold_lists/DIEM_list_{train,test}_fps.txt

    Each line of a split list is ``<video> <nframes> <fps>``. The frames,
    maps and fixations on disk define the video; a different ``nframes``
    only warns. ``fps`` is copied into every sample.

    Args:
        data_root (str): Dataset root folder.
        split (str): ``'train'`` or ``'test'`` (no validation set).
        ann_file (str, optional): Split list, relative to ``data_root`` or
            absolute. Defaults to ``fold_lists/DIEM_list_<split>_fps.txt``,
            or ``DIEM_list_<split>_fps.txt`` at the root if that is where
            it is.
        **kwargs: See :class:`BaseVideoSaliencyDataset`.
    """

    METAINFO: dict = dict(task='video_saliency', dataset_name='DIEM')
    SPLITS = ('train', 'test')
    #: Variable holding the fixation map in the ``.mat`` files.
    FIXATION_KEY = 'eyeMap'

    def __init__(
        self,
        data_root: str,
        split: str = 'train',
        ann_file: str | None = None,
        **kwargs,
    ) -> None:
        self._default_ann_file = ann_file is None
        if ann_file is None:
            ann_file = osp.join('fold_lists', f'DIEM_list_{split}_fps.txt')
        super().__init__(
            data_root=data_root, split=split, ann_file=ann_file, **kwargs
        )

    def _split_list(self) -> str:
        """Path of the split list, trying the root as a fallback."""
        if osp.isfile(self.ann_file):
            return self.ann_file
        tried = [self.ann_file]
        if self._default_ann_file:
            fallback = osp.join(
                self.data_root, f'DIEM_list_{self.split}_fps.txt'
            )
            if osp.isfile(fallback):
                return fallback
            tried.append(fallback)
        raise FileNotFoundError(
            f'DIEMDataset: split list not found: {" or ".join(tried)}'
        )

    def _read_split_list(self, path: str) -> list[tuple]:
        """Parse ``<video> <nframes> <fps>`` lines."""
        entries = []
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    name, nframes, fps = (
                        fields[0],
                        int(fields[1]),
                        float(fields[2]),
                    )
                except (IndexError, ValueError):
                    raise ValueError(
                        f'DIEMDataset: {path}:{lineno}: expected '
                        f"'<video> <nframes> <fps>', got {line.strip()!r}"
                    ) from None
                entries.append((name, nframes, fps))
        return entries

    def scan_videos(self) -> list[dict]:
        """List the videos of the split list.

        Returns:
            list[dict]: See :meth:`BaseVideoSaliencyDataset.scan_videos`;
            entries also hold ``fps``.
        """
        split_list = self._split_list()
        frame_root = osp.join(self.data_root, 'video_frames', 'DIEM')
        ann_root = osp.join(self.data_root, 'annotations', 'DIEM')
        videos = []
        for name, nframes, fps in self._read_split_list(split_list):
            video_dir = osp.join(ann_root, name)
            video = dict(
                video=name,
                video_dir=video_dir,
                frame_paths=list_files(
                    osp.join(frame_root, name), prefix='img_'
                ),
                map_paths=list_files(
                    osp.join(video_dir, 'maps'), prefix='eyeMap_'
                ),
                fixation_paths=list_files(
                    video_dir, extensions=('.mat',), prefix='fixMap_'
                ),
                fixation_key=self.FIXATION_KEY,
                fps=fps,
            )
            if len(video['frame_paths']) != nframes:
                warnings.warn(
                    f'DIEMDataset: {split_list} lists {nframes} frames for '
                    f'{name}, {osp.join(frame_root, name)} has '
                    f'{len(video["frame_paths"])}',
                    stacklevel=2,
                )
            videos.append(video)
        return videos
