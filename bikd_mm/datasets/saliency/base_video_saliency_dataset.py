"""Clip index shared by the video saliency datasets."""

import os.path as osp
import pickle
import warnings

import numpy as np
from mmengine.dataset import BaseDataset

from .io_utils import list_files

#: Keys of a scanned video that hold one path per frame.
_PER_FRAME_KEYS = ('frame_paths', 'map_paths', 'fixation_paths')


def window_indices(
    target: int,
    num_frames: int,
    clip_len: int,
    stride: int = 1,
    target_pos: int | None = None,
    pad_mode: str = 'flip',
) -> list[int]:
    """Frame indices of the clip whose ``target_pos``-th frame is ``target``.

    When the window reaches outside the video:

    - ``'flip'`` first tries the same window in the time-reversed video,
      i.e. the frames on the other side of the target, in reverse order.
      With the target last this is the reference test procedure (TASED-Net,
      ViNet): the first ``clip_len - 1`` frames of a video are predicted
      from the reversed clip of the frames that follow them. If that window
      does not fit either (a video shorter than two clips, or a centred
      target), every index is mirrored at the ends of the video.
    - ``'repeat'`` clamps every index into the video, i.e. repeats the
      first (or last) frame.

    Args:
        target (int): Index of the frame whose map is predicted.
        num_frames (int): Number of frames of the video.
        clip_len (int): Frames per clip.
        stride (int): Step between consecutive clip frames.
        target_pos (int, optional): Position of the target in the clip.
            Defaults to the last position.
        pad_mode (str): ``'flip'`` or ``'repeat'``.

    Returns:
        list[int]: ``clip_len`` frame indices in ``[0, num_frames)``; the
        one at ``target_pos`` is ``target``.
    """
    if target_pos is None:
        target_pos = clip_len - 1
    last = num_frames - 1
    offsets = [(k - target_pos) * stride for k in range(clip_len)]
    indices = [target + o for o in offsets]
    if all(0 <= i <= last for i in indices):
        return indices
    if pad_mode == 'repeat':
        return [min(max(i, 0), last) for i in indices]
    if pad_mode != 'flip':
        raise ValueError(
            f"pad_mode must be 'flip' or 'repeat', got {pad_mode!r}"
        )
    flipped = [target - o for o in offsets]
    if all(0 <= i <= last for i in flipped):
        return flipped
    return [_mirror(i, last) for i in indices]


def parse_member_clips(member_clips: dict, owner: str) -> dict:
    """Check ``member_clips`` and resolve each ``target_pos``.

    Args:
        member_clips (dict): ``{member: dict(clip_len, frame_stride=1,
            target_pos='last')}``; ``target_pos`` is an index into the
            member's clip, ``'last'`` or ``'center'`` (``clip_len // 2``).
        owner (str): Who asks, for error messages.

    Returns:
        dict: ``{member: (clip_len, frame_stride, target_pos)}``.
    """
    if not isinstance(member_clips, dict) or not member_clips:
        raise ValueError(
            f'{owner}: member_clips must be a non-empty dict of member '
            f'name to clip spec, got {member_clips!r}'
        )
    specs = {}
    for name, spec in member_clips.items():
        unknown = set(spec) - {'clip_len', 'frame_stride', 'target_pos'}
        if unknown or 'clip_len' not in spec:
            raise ValueError(
                f'{owner}: member_clips[{name!r}] needs clip_len and may '
                f'give frame_stride and target_pos; got {dict(spec)}'
            )
        length = spec['clip_len']
        stride = spec.get('frame_stride', 1)
        pos = spec.get('target_pos', 'last')
        if pos == 'last':
            pos = length - 1
        elif pos == 'center':
            pos = length // 2
        ok = (
            isinstance(length, int)
            and length >= 1
            and isinstance(stride, int)
            and stride >= 1
            and isinstance(pos, int)
            and 0 <= pos < length
        )
        if not ok:
            raise ValueError(
                f'{owner}: member_clips[{name!r}] = {dict(spec)} is not a '
                'positive clip_len and frame_stride with target_pos in '
                "the clip ('last', 'center' or an index)"
            )
        specs[name] = (length, stride, pos)
    return specs


def _mirror(index: int, last: int) -> int:
    """Reflect ``index`` into ``[0, last]`` (repeatedly, for short videos)."""
    if last == 0:
        return 0
    period = 2 * last
    index = abs(index) % period
    return period - index if index > last else index


def scan_standard_video(
    video: str,
    video_dir: str,
    frames_dir: str | None = None,
    fixation_format: str = 'png',
    labels_required: bool = True,
) -> dict:
    """Scan a video folder laid out as ``{images,maps,fixation}/``.

    This is the per-video layout of DHF1K (``annotation/<video>/``) and of
    the Hollywood-2 and UCF-Sports releases of the DHF1K authors.

    Args:
        video (str): Video name.
        video_dir (str): Folder holding ``maps/`` and ``fixation/``.
        frames_dir (str, optional): Folder of the frames. Defaults to
            ``<video_dir>/images``.
        fixation_format (str): ``'png'``: ``fixation/*.png``; ``'mat'``:
            ``fixation/maps/*.mat`` with the map in variable ``I``.
        labels_required (bool): Whether a missing ``maps/`` folder is an
            error. If False, the video is returned without labels.

    Returns:
        dict: A video entry as returned by
        :meth:`BaseVideoSaliencyDataset.scan_videos`.
    """
    if fixation_format not in ('png', 'mat'):
        raise ValueError(
            f"fixation_format must be 'png' or 'mat', got {fixation_format!r}"
        )
    if frames_dir is None:
        frames_dir = osp.join(video_dir, 'images')
    entry = dict(
        video=video,
        video_dir=video_dir,
        frame_paths=list_files(frames_dir),
        map_paths=None,
        fixation_paths=None,
        fixation_key=None,
    )
    maps_dir = osp.join(video_dir, 'maps')
    if not osp.isdir(maps_dir):
        if labels_required:
            raise FileNotFoundError(
                f'Saliency map folder not found: {maps_dir}'
            )
        return entry
    entry['map_paths'] = list_files(maps_dir)
    if fixation_format == 'png':
        entry['fixation_paths'] = list_files(osp.join(video_dir, 'fixation'))
    else:
        entry['fixation_paths'] = list_files(
            osp.join(video_dir, 'fixation', 'maps'), extensions=('.mat',)
        )
        entry['fixation_key'] = 'I'
    return entry


class BaseVideoSaliencyDataset(BaseDataset):
    """Base class of the video saliency datasets: one sample per clip.

    A subclass only implements :meth:`scan_videos`, which lists the videos
    of the split with their frames, saliency maps and fixation maps in
    temporal order. This class checks them and cuts every video into clips.

    Each sample (:meth:`get_data_info`) is a dict with:

    - ``video`` (str): video name; ``video_idx`` (int): its position in the
      split; ``num_frames`` (int): frames in the video;
    - ``frame`` (int): 0-based index of the target frame (the frame whose
      map is predicted) and ``frame_name`` (str): its file stem, used to
      name and find prediction files;
    - ``frame_indices`` (list[int]) and ``frame_paths`` (list[str]): the
      ``clip_len`` frames of the clip, in the order they are fed;
    - ``map_path`` and ``fixation_path`` (str or None): the target's
      saliency and fixation maps, ``None`` for unlabelled splits;
      ``fixation_key`` (str or None): variable of a ``.mat`` fixation map;
    - ``other_fixations`` (list of (path, key)): with ``other_fixations=k``,
      the fixation maps of k frames of other videos, whose union is the
      negative set of shuffled AUC (loaded as ``other_fixation``);
    - any extra per-video key of :meth:`scan_videos` (e.g. ``fps``).

    Sampling:

    - ``'clip'``: clips that lie fully inside the video, one every
      ``clip_interval`` target frames (1: every frame, for training; a
      larger value gives the sparse validation clips of the reference
      scripts, which use ``4 * clip_len``). A video shorter than one clip
      (``(clip_len - 1) * frame_stride + 1`` frames) is an error, or is
      skipped with a warning if ``skip_short_videos``.
    - ``'sliding'``: every ``clip_interval``-th frame (default: every
      frame) is a target, as needed to predict a whole video; windows that
      reach outside the video are filled as :func:`window_indices`
      describes (``pad_mode``), so videos of any length are kept. With
      ``end_margin`` the last ``end_margin`` frames are no targets (the
      reference validation of Bi-KD: every 32nd frame but the last 64 of a
      DHF1K video).
    - ``'random'``: one sample per video, whose target frame is drawn
      uniformly from the whole video each time the sample is fetched (one
      random frame per video per epoch, the reference training); windows
      are filled as with ``'sliding'``. The draws come from numpy's global
      generator, which mmengine seeds once per data loader worker: keep
      ``persistent_workers=True`` (or no workers) so that every epoch
      continues the sequence of draws instead of restarting it.

    Members that read different clips (:class:`BiKDSaliency` with
    published models): ``member_clips`` gives each member its clip around
    the shared target frame, e.g. ``dict(tmfi_net=dict(clip_len=32),
    vinet_a=dict(clip_len=32, frame_stride=2, target_pos=16))``. The
    sample's ``frame_indices`` / ``frame_paths`` are then the sorted union
    of the members' frames, each loaded once, and ``member_frame_pos``
    maps every member to the positions of its frames in that union
    (:class:`SplitMemberClips` cuts the members' clips from it). With
    ``'clip'`` sampling every member's window lies inside the video;
    otherwise windows are filled per ``pad_mode`` (``'repeat'``: the first
    or last frame, as the reference loaders do).

    To save memory with dense clips, the stored index holds frame indices
    only; paths are looked up per video when a sample is fetched.

    Args:
        data_root (str): Dataset root folder.
        split (str): One of :attr:`SPLITS`.
        clip_len (int): Frames per clip. Defaults to 32.
        frame_stride (int): Step between consecutive clip frames.
            Defaults to 1.
        target_frame (str): Which clip frame's map is the target:
            ``'last'`` (reference default) or ``'center'`` (position
            ``clip_len // 2``).
        sampling (str, optional): ``'clip'``, ``'sliding'`` or
            ``'random'``. Defaults to ``'sliding'`` for the ``'test'``
            split, else ``'clip'``.
        clip_interval (int): Step between consecutive target frames.
            Defaults to 1.
        pad_mode (str): Filling of ``'sliding'`` windows at the ends of a
            video: ``'flip'`` (time-flip, reference) or ``'repeat'``.
        skip_short_videos (bool): With ``'clip'`` sampling, skip videos
            shorter than one clip with a warning instead of raising.
        other_fixations (int): Frames of other videos whose fixations each
            labelled sample carries for shuffled AUC (the benchmark uses
            10). They are drawn per sample with ``seed + idx``, so every
            run evaluates the same negatives. Defaults to 0 (none).
        seed (int): Seed of that draw. Defaults to 0.
        member_clips (dict, optional): Per-member clip specs (see above).
            With it, ``clip_len``, ``frame_stride`` and ``target_frame``
            are unused.
        end_margin (int): Frames at the end of each video that are never
            targets with ``'sliding'`` sampling. Defaults to 0.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`
            (``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``indices``, ``metainfo``, ``ann_file``).
    """

    METAINFO: dict = dict(task='video_saliency')
    #: Splits that :attr:`split` may take.
    SPLITS: tuple[str, ...] = ('train', 'val', 'test')

    def __init__(
        self,
        data_root: str,
        split: str = 'train',
        clip_len: int = 32,
        frame_stride: int = 1,
        target_frame: str = 'last',
        sampling: str | None = None,
        clip_interval: int = 1,
        pad_mode: str = 'flip',
        skip_short_videos: bool = False,
        other_fixations: int = 0,
        seed: int = 0,
        member_clips: dict | None = None,
        end_margin: int = 0,
        **kwargs,
    ) -> None:
        name = type(self).__name__
        if split not in self.SPLITS:
            raise ValueError(
                f'{name}: split must be one of {self.SPLITS}, got {split!r}'
            )
        if sampling is None:
            sampling = 'sliding' if split == 'test' else 'clip'
        checks = [
            (
                sampling in ('clip', 'sliding', 'random'),
                "sampling must be 'clip', 'sliding' or 'random', got "
                f'{sampling!r}',
            ),
            (
                isinstance(end_margin, int) and end_margin >= 0,
                f'end_margin must be an int >= 0, got {end_margin!r}',
            ),
            (
                target_frame in ('last', 'center'),
                f"target_frame must be 'last' or 'center', got "
                f'{target_frame!r}',
            ),
            (
                pad_mode in ('flip', 'repeat'),
                f"pad_mode must be 'flip' or 'repeat', got {pad_mode!r}",
            ),
            (
                isinstance(clip_len, int) and clip_len >= 1,
                f'clip_len must be a positive int, got {clip_len!r}',
            ),
            (
                isinstance(frame_stride, int) and frame_stride >= 1,
                f'frame_stride must be a positive int, got {frame_stride!r}',
            ),
            (
                isinstance(clip_interval, int) and clip_interval >= 1,
                f'clip_interval must be a positive int, got {clip_interval!r}',
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f'{name}: {message}')
        self.split = split
        self.clip_len = clip_len
        self.frame_stride = frame_stride
        self.target_frame = target_frame
        self.sampling = sampling
        self.clip_interval = clip_interval
        self.pad_mode = pad_mode
        self.skip_short_videos = skip_short_videos
        self.other_fixations = other_fixations
        self.seed = seed
        self.end_margin = end_margin
        self.member_clips = (
            parse_member_clips(member_clips, name)
            if member_clips is not None
            else None
        )
        self._videos: list = []
        super().__init__(data_root=data_root, **kwargs)
        self._metainfo.setdefault('split', split)

    @property
    def target_pos(self) -> int:
        """Position of the target frame in a clip."""
        if self.target_frame == 'last':
            return self.clip_len - 1
        return self.clip_len // 2

    def scan_videos(self) -> list[dict]:
        """List the videos of the split.

        Returns:
            list[dict]: One entry per video with ``video`` (name),
            ``video_dir`` (folder named in error messages),
            ``frame_paths`` (list[str], temporal order), ``map_paths`` and
            ``fixation_paths`` (list[str] aligned with the frames, or None
            when the split has no labels) and ``fixation_key`` (str or
            None). Other keys are copied into every sample of the video.
        """
        raise NotImplementedError

    def load_data_list(self) -> list[dict]:
        """Scan the videos and build the clip index.

        Returns:
            list[dict]: One compact entry per clip (see
            :meth:`get_data_info` for the full sample).
        """
        name = type(self).__name__
        if not self.data_root or not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'{name}: dataset root not found: {self.data_root!r}'
            )
        videos = self.scan_videos()
        kept, data_list = [], []
        for video in videos:
            self._check_video(video)
            clips = self._video_clips(len(video['frame_paths']))
            if clips is None:
                specs = self._window_specs()
                span = (
                    max(p * st for _, st, p in specs)
                    + max((n - 1 - p) * st for n, st, p in specs)
                    + 1
                )
                message = (
                    f'{name}: video {video["video_dir"]} has '
                    f'{len(video["frame_paths"])} frames, fewer than one '
                    f'clip ({span} frames = clip_len {self.clip_len}, '
                    f'frame_stride {self.frame_stride}'
                    + (
                        f', member_clips {self.member_clips}'
                        if self.member_clips
                        else ''
                    )
                    + ')'
                )
                if not self.skip_short_videos:
                    raise ValueError(
                        message + '; pass skip_short_videos=True to skip '
                        "it or use sampling='sliding'"
                    )
                warnings.warn(message + '; skipped', stacklevel=2)
                continue
            video_idx = len(kept)
            kept.append(video)
            for target, indices in clips:
                data_list.append(
                    dict(
                        video_idx=video_idx,
                        video=video['video'],
                        frame=target,
                        frame_indices=indices,
                    )
                )
        if not data_list:
            raise ValueError(
                f'{name}: split {self.split!r} of {self.data_root} has no '
                f'samples ({len(videos)} videos found)'
            )
        self._store_videos(kept)
        return data_list

    def _check_video(self, video: dict) -> None:
        """Raise if a scanned video is empty or its labels do not align."""
        num = len(video['frame_paths'])
        if num == 0:
            raise ValueError(
                f'No frames found for video {video["video"]} '
                f'in {video["video_dir"]}'
            )
        for key, what in (
            ('map_paths', 'saliency maps'),
            ('fixation_paths', 'fixation maps'),
        ):
            paths = video.get(key)
            if paths is not None and len(paths) != num:
                raise ValueError(
                    f'Video {video["video"]} ({video["video_dir"]}) has '
                    f'{num} frames but {len(paths)} {what}'
                )

    def _window_specs(self) -> list[tuple[int, int, int]]:
        """``(clip_len, frame_stride, target_pos)`` of every window."""
        if self.member_clips is not None:
            return list(self.member_clips.values())
        return [(self.clip_len, self.frame_stride, self.target_pos)]

    def clip_windows(self, target: int, num_frames: int) -> tuple:
        """The frames to load for ``target`` and each member's share.

        Args:
            target (int): Target frame.
            num_frames (int): Frames of the video.

        Returns:
            tuple: ``(indices, member_pos)``: the frame indices to load and,
            with ``member_clips``, ``{member: positions in indices}``
            (else None).
        """
        if self.member_clips is None:
            indices = window_indices(
                target,
                num_frames,
                self.clip_len,
                self.frame_stride,
                self.target_pos,
                self.pad_mode,
            )
            return indices, None
        windows = {
            name: window_indices(
                target, num_frames, length, stride, pos, self.pad_mode
            )
            for name, (length, stride, pos) in self.member_clips.items()
        }
        union = sorted({i for w in windows.values() for i in w})
        where = {i: k for k, i in enumerate(union)}
        return union, {
            name: [where[i] for i in w] for name, w in windows.items()
        }

    def _video_clips(self, num_frames: int) -> list[tuple[int, list]] | None:
        """Clips of a video as ``(target, indices)``; None if too short.

        With ``member_clips`` or ``'random'`` sampling the indices are None
        here and found when the sample is fetched.
        """
        lazy = self.member_clips is not None
        if self.sampling == 'random':
            return [(None, None)]
        if self.sampling == 'sliding':
            stop = max(num_frames - self.end_margin, 0)
            return [
                (t, None if lazy else self.clip_windows(t, num_frames)[0])
                for t in range(0, stop, self.clip_interval)
            ]
        first = max(pos * stride for _, stride, pos in self._window_specs())
        last = (
            num_frames
            - 1
            - max(
                (length - 1 - pos) * stride
                for length, stride, pos in self._window_specs()
            )
        )
        if last < first:
            return None
        return [
            (t, None if lazy else self.clip_windows(t, num_frames)[0])
            for t in range(first, last + 1, self.clip_interval)
        ]

    def _store_videos(self, videos: list[dict]) -> None:
        """Keep the per-video path lists, serialised like the index.

        Serialising to one numpy buffer avoids the copy-on-access of
        Python objects in forked data loader workers, as
        :class:`BaseDataset` does for ``data_list``.
        """
        # Indices of videos with fixation maps: the pool of shuffled-AUC
        # negatives, so a sample never unpickles every video to find it.
        self._labelled_videos = np.array(
            [
                i
                for i, v in enumerate(videos)
                if v['fixation_paths'] is not None
            ],
            dtype=np.int64,
        )
        if not self.serialize_data:
            self._videos = videos
            return
        blobs = [
            np.frombuffer(pickle.dumps(v, protocol=4), dtype=np.uint8)
            for v in videos
        ]
        self._video_address = np.cumsum([len(b) for b in blobs])
        self._video_bytes = np.concatenate(blobs)
        self._videos = []

    def get_video_info(self, video_idx: int) -> dict:
        """Scanned entry of a video (see :meth:`scan_videos`).

        Args:
            video_idx (int): ``video_idx`` of a sample.

        Returns:
            dict: The video entry (a copy).
        """
        self.full_init()
        if not self.serialize_data:
            return dict(self._videos[video_idx])
        start = (
            0 if video_idx == 0 else int(self._video_address[video_idx - 1])
        )
        end = int(self._video_address[video_idx])
        return pickle.loads(memoryview(self._video_bytes[start:end]))

    @property
    def num_videos(self) -> int:
        """Number of videos in the index."""
        self.full_init()
        if not self.serialize_data:
            return len(self._videos)
        return len(self._video_address)

    def get_data_info(self, idx: int) -> dict:
        """Full sample ``idx``: the clip's frame paths and target labels.

        Args:
            idx (int): Sample index.

        Returns:
            dict: See the class docstring.
        """
        info = super().get_data_info(idx)
        video = self.get_video_info(info['video_idx'])
        frames = video['frame_paths']
        if info['frame'] is None:
            # 'random' sampling: a new target each time the sample is read
            # (seeded per worker by the runner).
            info['frame'] = int(np.random.randint(len(frames)))
        target = info['frame']
        if info['frame_indices'] is None or self.member_clips is not None:
            indices, member_pos = self.clip_windows(target, len(frames))
            info['frame_indices'] = indices
            if member_pos is not None:
                info['member_frame_pos'] = member_pos
        info['num_frames'] = len(frames)
        info['frame_paths'] = [frames[i] for i in info['frame_indices']]
        info['frame_name'] = osp.splitext(osp.basename(frames[target]))[0]
        maps, fixations = video['map_paths'], video['fixation_paths']
        info['map_path'] = maps[target] if maps is not None else None
        info['fixation_path'] = (
            fixations[target] if fixations is not None else None
        )
        info['fixation_key'] = video.get('fixation_key')
        if self.other_fixations and info['fixation_path'] is not None:
            info['other_fixations'] = self._other_fixations(
                idx, info['video_idx']
            )
        for key, value in video.items():
            if key not in _PER_FRAME_KEYS:
                info.setdefault(key, value)
        return info

    def _other_fixations(self, idx: int, video_idx: int) -> list:
        """Fixation maps of random frames of other labelled videos."""
        self.full_init()
        others = self._labelled_videos[self._labelled_videos != video_idx]
        if not len(others):
            return []
        rng = np.random.default_rng(self.seed + idx)
        picked = []
        for v in rng.choice(others, self.other_fixations):
            video = self.get_video_info(int(v))
            frame = int(rng.integers(len(video['fixation_paths'])))
            picked.append(
                (video['fixation_paths'][frame], video.get('fixation_key'))
            )
        return picked

    def _require_dir(self, path: str, what: str) -> str:
        """Return ``path`` if it is a folder, else raise naming it."""
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: {what} not found: {path}'
            )
        return path
