"""Per-sample saliency losses of the video saliency literature.

Both take predicted and ground-truth maps ``[B, H, W]`` (or
``[B, 1, H, W]``) and return one value per sample ``[B]``:

- :func:`saliency_kld`: ``sum(Q * log(eps + Q / (P + eps)))`` with both
  maps divided by their sum, ``Q`` the ground truth and ``P`` the
  prediction (the loss of TASED-Net, ViNet and TMFI-Net, eps = 2.2204e-16);
- :func:`saliency_cc`: Pearson's correlation coefficient.
"""

from torch import Tensor

from bikd_mm.core.distribution_kl import MATLAB_EPS, distribution_kl


def flatten_maps(maps: Tensor, name: str = 'maps') -> Tensor:
    """``[B, H, W]`` or ``[B, 1, H, W]`` maps as ``[B, H * W]``."""
    if maps.dim() == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.dim() != 3:
        raise ValueError(
            f'{name} must be [B, H, W] or [B, 1, H, W], got '
            f'{tuple(maps.shape)}'
        )
    return maps.flatten(1)


def normalize_sum(flat: Tensor, eps: float = MATLAB_EPS) -> Tensor:
    """Rows of ``flat`` divided by their sum (an all-zero row stays 0)."""
    return flat / flat.sum(1, keepdim=True).clamp_min(eps)


def saliency_kld(
    pred: Tensor, target: Tensor, eps: float = MATLAB_EPS
) -> Tensor:
    """KL divergence of the predicted from the ground-truth map.

    Args:
        pred (Tensor): Non-negative predicted maps.
        target (Tensor): Non-negative ground-truth maps, same shape.
        eps (float): Stabiliser. Defaults to 2.2204e-16.

    Returns:
        Tensor: ``[B]``.
    """
    p = normalize_sum(flatten_maps(pred, 'pred'), eps)
    q = normalize_sum(flatten_maps(target, 'target'), eps)
    if p.shape != q.shape:
        raise ValueError(
            f'pred and target must have one size, got {tuple(pred.shape)} '
            f'and {tuple(target.shape)}'
        )
    return distribution_kl(q, p, dim=1, eps=eps)


def saliency_cc(pred: Tensor, target: Tensor, eps: float = 1e-12) -> Tensor:
    """Pearson's correlation coefficient of each pair of maps.

    Args:
        pred (Tensor): Predicted maps.
        target (Tensor): Ground-truth maps, same shape.
        eps (float): Guard of the denominator for constant maps (whose
            correlation is then 0). Defaults to 1e-12.

    Returns:
        Tensor: ``[B]`` in ``[-1, 1]``.
    """
    p = flatten_maps(pred, 'pred')
    g = flatten_maps(target, 'target')
    if p.shape != g.shape:
        raise ValueError(
            f'pred and target must have one size, got {tuple(pred.shape)} '
            f'and {tuple(target.shape)}'
        )
    p = p - p.mean(1, keepdim=True)
    g = g - g.mean(1, keepdim=True)
    cov = (p * g).sum(1)
    # Clamping before the root keeps the gradient of a constant map finite.
    norm = ((p * p).sum(1) * (g * g).sum(1)).clamp_min(eps * eps).sqrt()
    return cov / norm


REDUCTIONS = ('none', 'mean', 'sum')


def reduce_values(values: Tensor, reduction: str) -> Tensor:
    """Reduce per-sample values ``[B]`` by none, mean or sum."""
    if reduction == 'none':
        return values
    if reduction == 'mean':
        return values.mean()
    if reduction == 'sum':
        return values.sum()
    raise ValueError(
        f'reduction must be one of {REDUCTIONS}, got {reduction!r}'
    )


def check_reduction(reduction: str) -> str:
    """Raise ValueError unless ``reduction`` is known."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f'reduction must be one of {REDUCTIONS}, got {reduction!r}'
        )
    return reduction
