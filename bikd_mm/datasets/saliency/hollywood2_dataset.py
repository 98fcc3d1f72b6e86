"""Hollywood-2 video saliency dataset."""

import re

from bikd_mm.registry import DATASETS

from .video_folder_saliency_dataset import VideoFolderSaliencyDataset

_CLIP_NAME = re.compile(r'^(actionclip(?:train|test)\d+)_(\d+)$')


@DATASETS.register_module()
class Hollywood2Dataset(VideoFolderSaliencyDataset):
    """Hollywood-2 actions (Mathe & Sminchisescu), DHF1K authors' release.

    Each folder of ``training/`` and ``testing/`` is one shot of a movie
    clip, named ``actionclip{train|test}<clip:05d>_<shot>``; its samples
    carry the clip name (``clip``) and shot number (``shot``), e.g. to
    average metrics over whole clips. Many shots are shorter than 32
    frames: train with ``skip_short_videos=True`` or a shorter
    ``clip_len``; ``'sliding'`` sampling (the ``'test'`` default) keeps
    every shot. See :class:`VideoFolderSaliencyDataset` for the layout and
    arguments.
    """

    METAINFO: dict = dict(task='video_saliency', dataset_name='Hollywood-2')

    def parse_clip_name(self, name: str) -> dict:
        """Clip name and shot number of a shot folder.

        Args:
            name (str): Shot folder name, e.g. ``actioncliptrain00001_3``.

        Returns:
            dict: ``clip`` and ``shot``; empty if the name does not follow
            the release's pattern.
        """
        match = _CLIP_NAME.match(name)
        if match is None:
            return {}
        return dict(clip=match.group(1), shot=int(match.group(2)))
