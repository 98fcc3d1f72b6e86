"""Horizontal flip of the video saliency datasets."""

import numpy as np

from bikd_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomFlipClip:
    """Flip a whole clip and its maps horizontally, with one coin toss.

    All frames and both maps are flipped together, so the motion stays
    coherent and the target still matches the clip.

    Required keys: ``imgs``; ``gt_saliency``, ``gt_fixation`` if present.
    Modified keys: those. Added key: ``flip`` (bool).

    Args:
        prob (float): Probability of flipping. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob!r}')
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        """Flip, or not.

        Args:
            results (dict): Output of :class:`LoadSaliencyClip`.

        Returns:
            dict: ``results``, possibly flipped.
        """
        # np.random is re-seeded per data loader worker by mmengine.
        flip = bool(np.random.rand() < self.prob)
        results['flip'] = flip
        if flip:
            # [T, H, W, C]: width is axis 2; the maps are [H, W].
            results['imgs'] = np.ascontiguousarray(results['imgs'][:, :, ::-1])
            for key in ('gt_saliency', 'gt_fixation', 'other_fixation'):
                if key in results:
                    results[key] = np.ascontiguousarray(results[key][:, ::-1])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
