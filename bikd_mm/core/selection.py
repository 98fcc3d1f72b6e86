"""Choice of the teaching member on every element.

In Bi-KD no member is the teacher once and for all: on each element (a
sample, a pixel or an image) the member that does the task best teaches the
others. :func:`select_teachers` turns per-member scores (ground-truth
confidence, or a task loss) into the index of that member.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import check_mask, check_tensor

TIE_MODES = ('auto', 'none', 'first', 'last')


def check_tie(tie: str) -> None:
    """Refuse a tie rule that is not one of :data:`TIE_MODES`."""
    if tie not in TIE_MODES:
        raise ValueError(f'tie must be one of {TIE_MODES}, got {tie!r}')


def resolve_tie(tie: str, num: int) -> str:
    """``tie`` with ``'auto'`` resolved for ``num`` members (the reference
    rule: the last of two teaches, of more nobody)."""
    check_tie(tie)
    if tie != 'auto':
        return tie
    return 'last' if num == 2 else 'none'


def select_teachers(
    scores: Tensor,
    higher_is_better: bool,
    valid: Tensor | None = None,
    tie: str = 'auto',
) -> Tensor:
    """Index of the teaching member on every element.

    The teacher of an element is the member with the best score there:
    the highest when ``higher_is_better`` (e.g. the probability of the
    ground truth, :func:`gt_confidence`), the lowest otherwise (e.g. a task
    loss, :func:`pixel_cross_entropy`). Scores are compared, never
    differentiated; the result carries no gradient.

    Ties among the best members follow ``tie``:

    - ``'auto'``: the reference rule. With two members the last one
      teaches (the reference uses ``p_A[y] > p_B[y]`` for A and
      ``p_A[y] <= p_B[y]`` for B); with more members nobody teaches.
    - ``'none'``: nobody teaches.
    - ``'first'``: the lowest index among the tied best teaches.
    - ``'last'``: the highest index among the tied best teaches.

    Non-finite scores: a NaN score never teaches, it ranks below every
    number, so an element whose scores are all NaN has no teacher. Infinite
    scores are ordinary ordered values (with ``higher_is_better=False`` a
    loss of ``inf`` is the worst score); equal infinities tie.

    Args:
        scores (Tensor): Scores of shape ``[N, *E]``, ``N >= 2`` members and
            any element shape ``E``. Integer or bool scores are compared as
            float64.
        higher_is_better (bool): Whether the highest score wins (``True``)
            or the lowest (``False``).
        valid (Tensor | None): Bool mask of shape ``E``; elements where it
            is ``False`` get no teacher. ``None`` means all are valid.
        tie (str): Tie rule, one of ``'auto'``, ``'none'``, ``'first'``,
            ``'last'``. Defaults to ``'auto'``.

    Returns:
        Tensor: int64 tensor of shape ``E`` holding the teacher's member
        index per element, or ``-1`` where no member teaches.

    Raises:
        TypeError: If ``scores`` or ``valid`` is not a tensor, or ``valid``
            is not bool.
        ValueError: If ``tie`` is unknown, ``scores`` has fewer than two
            members, or ``valid`` does not have the element shape.

    Example:
        >>> scores = torch.tensor([[0.9, 0.2, 0.5], [0.1, 0.8, 0.5]])
        >>> select_teachers(scores, higher_is_better=True)
        tensor([0, 1, 1])
    """
    check_tie(tie)
    check_tensor(scores, 'scores')
    if scores.dim() < 1 or scores.shape[0] < 2:
        raise ValueError(
            'scores must have shape [N, *E] with N >= 2 members, got '
            f'shape {tuple(scores.shape)}'
        )
    num = scores.shape[0]
    check_mask(valid, scores.shape[1:], 'valid')
    tie = resolve_tie(tie, num)

    ranked = scores.detach()
    if not ranked.is_floating_point():
        ranked = ranked.double()
    if not higher_is_better:
        ranked = -ranked
    is_nan = ranked.isnan()
    ranked = ranked.masked_fill(is_nan, float('-inf'))
    # A NaN member filled with -inf could still equal a genuine -inf best,
    # so it is excluded from the best set explicitly.
    is_best = (ranked == ranked.amax(0)) & ~is_nan
    num_best = is_best.sum(0)

    member = torch.arange(num, device=scores.device)
    member = member.view(num, *([1] * (scores.dim() - 1)))
    if tie == 'last':
        teacher = torch.where(is_best, member, -1).amax(0)
    else:
        teacher = torch.where(is_best, member, num).amin(0)
        if tie == 'none':
            teacher = teacher.masked_fill(num_best > 1, -1)
    teacher = teacher.masked_fill(num_best == 0, -1)
    if valid is not None:
        teacher = teacher.masked_fill(~valid, -1)
    return teacher


@dataclass(frozen=True)
class LowestScoreRule:
    """Per-element teacher rule: the lowest score teaches, or one member.

    Called on scores ``[N, *E]`` (e.g. per-pixel cross-entropies) it
    returns :func:`select_teachers` with ``higher_is_better=False`` and
    ``tie``, or ``fixed`` everywhere when it is set. Being a declared rule
    rather than any function, it also tells
    :func:`~bikd_mm.core.ce_and_masked_kl_terms` that its Triton kernels
    can apply it.

    Args:
        tie (str): Tie rule of :func:`select_teachers`. Defaults to
            ``'auto'``.
        fixed (int, optional): Index of the member that teaches every
            element (one-way distillation). Defaults to None.
    """

    tie: str = 'auto'
    fixed: int | None = None

    def __post_init__(self) -> None:
        check_tie(self.tie)
        if self.fixed is not None and (
            isinstance(self.fixed, bool)
            or not isinstance(self.fixed, int)
            or self.fixed < 0
        ):
            raise ValueError(
                f'fixed must be a member index >= 0, got {self.fixed!r}'
            )

    def resolved_tie(self, num: int) -> str:
        """The tie rule for ``num`` members (``'auto'`` resolved)."""
        return resolve_tie(self.tie, num)

    def __call__(self, scores: Tensor) -> Tensor:
        if self.fixed is not None:
            return torch.full_like(scores[0], self.fixed, dtype=torch.long)
        return select_teachers(scores, higher_is_better=False, tie=self.tie)
