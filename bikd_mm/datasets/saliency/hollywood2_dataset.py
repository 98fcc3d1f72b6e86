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

    With ``group_shots=True`` the shots of a clip are joined, in shot
    order, into one video named after the clip (what the Bi-KD reference
    loader does, so clips rather than shots are the unit of sampling and
    of the per-video averages); its samples carry ``shots``, the number
    of shots joined.

    Args:
        group_shots (bool): Join the shots of each clip. Defaults to
            False.
        **kwargs: See :class:`VideoFolderSaliencyDataset`.
    """

    METAINFO: dict = dict(task='video_saliency', dataset_name='Hollywood-2')

    def __init__(self, *args, group_shots: bool = False, **kwargs) -> None:
        self.group_shots = group_shots
        super().__init__(*args, **kwargs)

    def scan_videos(self) -> list[dict]:
        """The shots of the split, or with ``group_shots`` its clips.

        Returns:
            list[dict]: See :meth:`BaseVideoSaliencyDataset.scan_videos`.
        """
        shots = super().scan_videos()
        if not self.group_shots:
            return shots
        clips: dict[str, list] = {}
        for shot in shots:
            clips.setdefault(shot.get('clip', shot['video']), []).append(shot)
        videos = []
        for name, parts in clips.items():
            parts.sort(key=lambda v: v.get('shot', 0))
            video = dict(
                video=name,
                video_dir=parts[0]['video_dir'],
                frame_paths=[],
                map_paths=[],
                fixation_paths=[],
                fixation_key=parts[0]['fixation_key'],
                clip=name,
                shots=len(parts),
            )
            for key in ('frame_paths', 'map_paths', 'fixation_paths'):
                if any(part[key] is None for part in parts):
                    video[key] = None
                    continue
                for part in parts:
                    video[key] += part[key]
            videos.append(video)
        return videos

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
