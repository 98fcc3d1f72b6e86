"""Helpers shared by the saliency decoders."""

import torch.nn.functional as F
from torch import Tensor

ACTIVATIONS = ('sigmoid', 'softmax', None)


def pad_time(x: Tensor, stride: int) -> Tensor:
    """Repeat the last frame of ``[B, C, T, H, W]`` until ``T`` is a
    multiple of ``stride``, so that a strided temporal convolution with
    kernel ``stride`` sees every frame whatever the clip length."""
    extra = (-x.shape[2]) % stride
    if extra:
        x = F.pad(x, (0, 0, 0, 0, 0, extra), mode='replicate')
    return x


def resize_3d(x: Tensor, size: tuple) -> Tensor:
    """Trilinear resize of ``[B, C, T, H, W]`` to ``size`` ``(T, H, W)``."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='trilinear', align_corners=False)


def upsample_2x(x: Tensor) -> Tensor:
    """Double height and width of ``[B, C, T, H, W]`` (trilinear)."""
    t, h, w = x.shape[2:]
    return resize_3d(x, (t, 2 * h, 2 * w))


def collapse_time(x: Tensor) -> Tensor:
    """``[B, C, T, H, W]`` to ``[B, C, H, W]``, averaging remaining frames."""
    return x.mean(2)


def check_activation(activation: str | None) -> str | None:
    if activation not in ACTIVATIONS:
        raise ValueError(
            f'activation must be one of {ACTIVATIONS}, got {activation!r}'
        )
    return activation


def activate(x: Tensor, activation: str | None) -> Tensor:
    """Apply the output activation to maps ``[B, 1, H, W]``.

    ``'sigmoid'``: per pixel, in ``(0, 1)`` (the reference models).
    ``'softmax'``: over all pixels of a map, which then sums to 1.
    ``None``: raw logits.
    """
    if activation == 'sigmoid':
        return x.sigmoid()
    if activation == 'softmax':
        b, c, h, w = x.shape
        return x.flatten(1).softmax(1).view(b, c, h, w)
    return x
