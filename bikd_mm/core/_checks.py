"""Input checks shared by the core functions.

Every check raises with a message that names the offending argument and,
where shapes are involved, the shapes that were expected and received.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def class_dim_index(ndim: int, class_dim: int, name: str) -> int:
    """Turns a possibly negative ``class_dim`` into a non-negative index.

    Args:
        ndim (int): Number of dimensions of the tensor ``name``.
        class_dim (int): Requested class dimension.
        name (str): Name of the tensor argument, for the error message.

    Returns:
        int: ``class_dim`` in ``[0, ndim)``.

    Raises:
        ValueError: If ``class_dim`` is out of range.
    """
    if not isinstance(class_dim, int) or not -ndim <= class_dim < ndim:
        raise ValueError(
            f'class_dim={class_dim!r} is out of range for {name} with '
            f'{ndim} dimension(s)'
        )
    return class_dim % ndim


def element_shape(shape: torch.Size, class_dim: int) -> torch.Size:
    """Returns ``shape`` without its (non-negative) class dimension."""
    return shape[:class_dim] + shape[class_dim + 1 :]


def check_tensor(value: object, name: str) -> Tensor:
    """Raises TypeError unless ``value`` is a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f'{name} must be a torch.Tensor, got {type(value).__name__}'
        )
    return value


def check_mask(
    mask: Tensor | None, shape: torch.Size, name: str
) -> Tensor | None:
    """Checks that an optional boolean mask has the expected shape.

    Args:
        mask (Tensor | None): Mask to check; ``None`` passes.
        shape (torch.Size): Expected shape.
        name (str): Name of the mask argument, for the error message.

    Returns:
        Tensor | None: ``mask`` unchanged.

    Raises:
        TypeError: If ``mask`` is not a bool tensor.
        ValueError: If ``mask`` does not have shape ``shape``.
    """
    if mask is None:
        return None
    check_tensor(mask, name)
    if mask.dtype != torch.bool:
        raise TypeError(f'{name} must be a bool tensor, got {mask.dtype}')
    if mask.shape != shape:
        raise ValueError(
            f'{name} must have shape {tuple(shape)}, got {tuple(mask.shape)}'
        )
    return mask


def check_index_tensor(index: Tensor, shape: torch.Size, name: str) -> Tensor:
    """Checks that ``index`` is an integer (not bool) tensor of ``shape``."""
    check_tensor(index, name)
    if index.is_floating_point() or index.is_complex():
        raise TypeError(f'{name} must be an integer tensor, got {index.dtype}')
    if index.dtype == torch.bool:
        raise TypeError(f'{name} must be an integer tensor, got torch.bool')
    if index.shape != shape:
        raise ValueError(
            f'{name} must have shape {tuple(shape)}, got {tuple(index.shape)}'
        )
    return index


def check_members(logits: Sequence[Tensor], name: str) -> list[Tensor]:
    """Checks a sequence of at least two member tensors of one shape.

    Args:
        logits (Sequence[Tensor]): Per-member tensors.
        name (str): Name of the argument, for the error message.

    Returns:
        list[Tensor]: The members as a list.

    Raises:
        TypeError: If ``logits`` is not a sequence of tensors.
        ValueError: If there are fewer than two members or their shapes
            differ.
    """
    if isinstance(logits, Tensor) or not isinstance(logits, Sequence):
        raise TypeError(
            f'{name} must be a sequence (list or tuple) of tensors, got '
            f'{type(logits).__name__}'
        )
    members = list(logits)
    if len(members) < 2:
        raise ValueError(
            f'{name} must hold at least 2 members, got {len(members)}'
        )
    for i, member in enumerate(members):
        check_tensor(member, f'{name}[{i}]')
    shapes = [tuple(m.shape) for m in members]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f'{name} must all have one shape, got {shapes}')
    if not shapes[0]:
        raise ValueError(f'{name} must have a class dimension, got 0-d')
    return members


def log_probs(
    x: Tensor, class_dim: int, from_log_probs: bool, temperature: float = 1.0
) -> Tensor:
    """Log-probabilities over ``class_dim`` at ``temperature``.

    Log-probabilities given at temperature 1 are re-normalised after the
    division by ``temperature``: ``log_softmax(log_softmax(z) / T)`` equals
    ``log_softmax(z / T)``, so precomputed log-probabilities serve any
    temperature.
    """
    if temperature != 1.0:
        return (x / temperature).log_softmax(class_dim)
    return x if from_log_probs else x.log_softmax(class_dim)
