"""Optional normalisation of the video saliency datasets."""

from collections.abc import Sequence

import numpy as np

from bikd_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class NormalizeClip:
    """Normalise the frames of a clip: ``(img - mean) / std``, float32.

    Optional: members of a distillation pair may expect different
    normalisations, so the default pipelines keep ``uint8`` frames and let
    each model's data preprocessor normalise for itself. Use this
    transform only when every consumer of the pipeline shares one
    normalisation.

    Required key: ``imgs``. Modified key: ``imgs`` (float32). Added key:
    ``img_norm_cfg``.

    Args:
        mean (Sequence[float]): Per-channel mean, in the channel order of
            ``imgs`` and on the 0-255 scale.
        std (Sequence[float]): Per-channel standard deviation, likewise.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        if len(mean) != 3 or len(std) != 3:
            raise ValueError('mean and std need three values each')
        if min(std) <= 0:
            raise ValueError(f'std must be positive, got {std!r}')
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    def __call__(self, results: dict) -> dict:
        """Normalise ``imgs``.

        Args:
            results (dict): Output of :class:`LoadSaliencyClip`.

        Returns:
            dict: ``results`` with float32 ``imgs``.
        """
        imgs = results['imgs'].astype(np.float32)
        results['imgs'] = (imgs - self.mean) / self.std
        results['img_norm_cfg'] = dict(
            mean=self.mean.tolist(), std=self.std.tolist()
        )
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(mean={self.mean.tolist()}, '
            f'std={self.std.tolist()})'
        )
