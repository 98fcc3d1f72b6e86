"""Access to the plain-dict (or data element) samples of saliency data."""

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def sample_get(sample, key: str, default=None):
    """``sample[key]`` for dicts, ``sample.key`` for data elements."""
    if sample is None:
        return default
    if isinstance(sample, dict):
        return sample.get(key, default)
    return getattr(sample, key, default)


def sample_map(sample, key: str, device=None) -> Tensor | None:
    """A ``[H, W]`` float map of a sample, or None."""
    value = sample_get(sample, key)
    if value is None:
        return None
    data = getattr(value, 'data', value)
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(data)
    data = torch.as_tensor(data).float()
    if data.dim() == 3 and data.shape[0] == 1:
        data = data[0]
    return data.to(device) if device is not None else data


def resize_maps(maps: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize of ``[B, 1, H, W]`` maps to ``size``."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(
        maps, size=tuple(size), mode='bilinear', align_corners=False
    )


def targets_of(data_samples: Sequence, key: str, device) -> list[Tensor]:
    """The ``key`` map of every sample; raises KeyError if one lacks it."""
    out = []
    for i, sample in enumerate(data_samples):
        gt = sample_map(sample, key, device)
        if gt is None:
            raise KeyError(f'data sample {i} has no {key!r}')
        out.append(gt)
    return out


def per_sample_loss(
    loss_module, maps: Tensor, data_samples: Sequence, key: str = 'gt_saliency'
) -> Tensor:
    """``loss_module`` per sample ``[B]``, predictions resized to each
    ground truth.

    Args:
        loss_module (nn.Module): A saliency loss with a ``reduction``
            argument in ``forward``.
        maps (Tensor): Predicted maps ``[B, 1, H, W]``.
        data_samples (Sequence): Samples holding ``key``.
        key (str): Ground-truth key. Defaults to ``'gt_saliency'``.

    Returns:
        Tensor: ``[B]``.
    """
    gts = targets_of(data_samples, key, maps.device)
    shapes = {tuple(g.shape) for g in gts}
    if len(shapes) == 1:
        gt = torch.stack(gts)
        pred = resize_maps(maps, gt.shape[-2:])[:, 0]
        return loss_module(pred, gt, reduction='none')
    return torch.cat(
        [
            loss_module(
                resize_maps(maps[i : i + 1], g.shape)[:, 0],
                g[None],
                reduction='none',
            )
            for i, g in enumerate(gts)
        ]
    )
