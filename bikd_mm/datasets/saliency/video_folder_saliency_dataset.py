"""Video saliency datasets stored as one folder per clip and split."""

import os
import os.path as osp

from bikd_mm.registry import DATASETS

from .base_video_saliency_dataset import (
    BaseVideoSaliencyDataset,
    scan_standard_video,
)
from .io_utils import natural_sort_key


@DATASETS.register_module()
class VideoFolderSaliencyDataset(BaseVideoSaliencyDataset):
    """Clip folders grouped by split, as the DHF1K authors release them.

    Layout under ``data_root``::

        training/<clip>/images/*.png     frames
        training/<clip>/maps/*.png       saliency maps
        training/<clip>/fixation/*.png   binary fixations
        testing/<clip>/...

    Files are ordered by natural sort of their names (embedded numbers
    compare numerically). Hidden folders are ignored.

    Args:
        data_root (str): Dataset root folder.
        split (str): ``'train'`` (``training/``) or ``'test'``
            (``testing/``). There is no separate validation set: evaluate
            on ``'test'``.
        fixation_format (str): ``'png'`` (``fixation/*.png``) or ``'mat'``
            (``fixation/maps/*.mat``, variable ``I``).
        **kwargs: See :class:`BaseVideoSaliencyDataset`.
    """

    METAINFO: dict = dict(task='video_saliency')
    SPLITS = ('train', 'test')
    #: Folder of each split.
    SPLIT_DIRS: dict[str, str] = dict(train='training', test='testing')

    def __init__(
        self,
        data_root: str,
        split: str = 'train',
        fixation_format: str = 'png',
        **kwargs,
    ) -> None:
        if fixation_format not in ('png', 'mat'):
            raise ValueError(
                f'{type(self).__name__}: fixation_format must be '
                f"'png' or 'mat', got {fixation_format!r}"
            )
        self.fixation_format = fixation_format
        super().__init__(data_root=data_root, split=split, **kwargs)

    def parse_clip_name(self, name: str) -> dict:
        """Extra per-video keys derived from a clip folder name.

        Args:
            name (str): Clip folder name.

        Returns:
            dict: Keys added to every sample of the clip (none here).
        """
        return {}

    def scan_videos(self) -> list[dict]:
        """List the clip folders of the split.

        Returns:
            list[dict]: See :meth:`BaseVideoSaliencyDataset.scan_videos`.
        """
        split_dir = self._require_dir(
            osp.join(self.data_root, self.SPLIT_DIRS[self.split]),
            f'{self.split!r} split folder',
        )
        names = sorted(
            (
                entry.name
                for entry in os.scandir(split_dir)
                if entry.is_dir() and not entry.name.startswith('.')
            ),
            key=natural_sort_key,
        )
        videos = []
        for name in names:
            video = scan_standard_video(
                name,
                osp.join(split_dir, name),
                fixation_format=self.fixation_format,
            )
            video.update(self.parse_clip_name(name))
            videos.append(video)
        return videos
