"""Cut each member's clip from one loaded window."""

from collections.abc import Sequence

import numpy as np

from bikd_mm.registry import TRANSFORMS

from .resize_clip import _INTERPOLATIONS, resize_image


@TRANSFORMS.register_module()
class SplitMemberClips:
    """Give every member of a Bi-KD pair its own clip of the loaded frames.

    The dataset's ``member_clips`` option loads the union of the members'
    frames once (``imgs``) and names each member's frames by position
    (``member_frame_pos``). This transform picks them and resizes them to
    the member's input size, so each member sees the frames, size and
    resampling it was trained on, and no frame is decoded twice.
    Normalisation stays with each member's data preprocessor.

    Required keys: ``imgs``, ``member_frame_pos``.
    Added key: ``member_imgs`` (``{member: uint8 [T_m, h_m, w_m, 3]}``).
    Removed key: ``imgs``.

    Args:
        sizes (dict): ``{member: (height, width)}``; a member missing here
            keeps the loaded size.
        interpolation (str): Interpolation of :class:`ResizeClip`.
            Defaults to ``'pil_bilinear'`` (the published models'
            loaders: ``torchvision`` ``Resize`` on PIL frames).
    """

    def __init__(
        self,
        sizes: dict[str, Sequence[int]] | None = None,
        interpolation: str = 'pil_bilinear',
    ) -> None:
        sizes = dict(sizes or {})
        for name, size in sizes.items():
            if len(size) != 2 or min(size) < 1:
                raise ValueError(
                    f'SplitMemberClips: size of {name!r} must be (height, '
                    f'width) > 0, got {size!r}'
                )
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f'SplitMemberClips: interpolation must be one of '
                f'{sorted(_INTERPOLATIONS)}, got {interpolation!r}'
            )
        self.sizes = {k: (int(v[0]), int(v[1])) for k, v in sizes.items()}
        self.interpolation = interpolation

    def __call__(self, results: dict) -> dict:
        """Cut and resize the members' clips.

        Args:
            results (dict): Output of :class:`LoadSaliencyClip` on a
                dataset with ``member_clips``.

        Returns:
            dict: ``results`` with ``member_imgs``.
        """
        positions = results.get('member_frame_pos')
        if positions is None:
            raise KeyError(
                'SplitMemberClips: the sample has no member_frame_pos; '
                'give the dataset member_clips=dict(<member>=dict('
                'clip_len=...), ...)'
            )
        unknown = set(self.sizes) - set(positions)
        if unknown:
            raise KeyError(
                f'SplitMemberClips: sizes name {sorted(unknown)}, which '
                f'the dataset gives no clip (member_clips: '
                f'{sorted(positions)})'
            )
        imgs = results.pop('imgs')
        resized: dict[tuple, np.ndarray] = {}
        members = {}
        for name, pos in positions.items():
            size = self.sizes.get(name, tuple(imgs.shape[1:3]))
            frames = []
            for p in pos:
                # Members at one size share the resized frame.
                if (p, size) not in resized:
                    resized[(p, size)] = resize_image(
                        imgs[p], size, self.interpolation
                    )
                frames.append(resized[(p, size)])
            members[name] = np.stack(frames)
        results['member_imgs'] = members
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(sizes={self.sizes}, '
            f'interpolation={self.interpolation!r})'
        )
