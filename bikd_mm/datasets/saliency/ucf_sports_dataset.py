"""UCF-Sports video saliency dataset."""

import re

from bikd_mm.registry import DATASETS

from .video_folder_saliency_dataset import VideoFolderSaliencyDataset

_CLIP_NAME = re.compile(r'^(.+)-(\d+)$')


@DATASETS.register_module()
class UCFSportsDataset(VideoFolderSaliencyDataset):
    """UCF-Sports actions (Mathe & Sminchisescu), DHF1K authors' release.

    Each folder of ``training/`` and ``testing/`` is one video named
    ``<action>-<number>`` (e.g. ``Diving-Side-001``); its samples carry the
    action name (``action``). See :class:`VideoFolderSaliencyDataset` for
    the layout and arguments.
    """

    METAINFO: dict = dict(task='video_saliency', dataset_name='UCF-Sports')

    def parse_clip_name(self, name: str) -> dict:
        """Action name of a video folder.

        Args:
            name (str): Video folder name, e.g. ``Diving-Side-001``.

        Returns:
            dict: ``action``; empty if the name has no trailing number.
        """
        match = _CLIP_NAME.match(name)
        if match is None:
            return {}
        return dict(action=match.group(1))
