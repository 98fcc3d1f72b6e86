"""Where members are right and wrong: shares per pair and oracle ensembles.

For every pair of members A and B, each valid sample (classification) or
valid pixel (segmentation: label not ``ignore_index``) falls in one of four
cases: both right, A right and B wrong, B right and A wrong, both wrong.
The oracle ensemble of a set of members is right wherever one of them is
right; its accuracy is the share of samples where one is right. Its mIoU
takes, per pixel, the label where a member is right and, where all are
wrong, the prediction of the set's best member (by mIoU), so the oracle's
errors are a real member's errors. With N > 2 members every pair and the
N-way oracle are reported.

:class:`Complementarity` counts batch by batch (nothing but confusion
matrices and counts is kept); :func:`complementarity` is the one-call
form for predictions already at hand, e.g. saved to disk.
"""

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

TASKS = ('classification', 'segmentation')
SHARES = ('both_right', 'a_right_b_wrong', 'b_right_a_wrong', 'both_wrong')


def mean_iou(confusion: np.ndarray) -> float:
    """Mean IoU of a confusion matrix (rows: label, columns: prediction).

    Classes that neither the labels nor the predictions hold (union 0) are
    left out of the mean, as mmseg's ``IoUMetric`` leaves them out.

    Args:
        confusion (np.ndarray): ``(C, C)`` counts.

    Returns:
        float: The mean IoU in [0, 1]; NaN when every union is 0.
    """
    confusion = np.asarray(confusion, np.float64)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    present = union > 0
    if not present.any():
        return math.nan
    return float((inter[present] / union[present]).mean())


def _as_labels(name: str, pred, labels: Tensor, task: str) -> Tensor:
    pred = torch.as_tensor(pred)
    if pred.shape == labels.shape:
        if pred.is_floating_point():
            raise TypeError(
                f"member {name!r}: predictions of the labels' shape "
                f'{tuple(labels.shape)} must be class indices, got '
                f'{pred.dtype}'
            )
        return pred.long()
    # Scores with the classes on dim 1: (N, C) or (N, C, H, W).
    if (
        pred.dim() == labels.dim() + 1
        and pred.shape[:1] + pred.shape[2:] == labels.shape
    ):
        return pred.argmax(1)
    raise ValueError(
        f'member {name!r}: predictions of shape {tuple(pred.shape)} do not '
        f'match labels of shape {tuple(labels.shape)} (give class indices '
        'of the same shape, or scores with the classes on dim 1)'
    )


class Complementarity:
    """Counts where members are right and wrong, batch by batch.

    Args:
        names (Sequence[str]): Member names, in report order (at least 2).
        num_classes (int): Number of classes; labels and predictions lie
            in ``[0, num_classes)`` (labels may also be ``ignore_index``).
        task (str): ``'classification'`` (accuracy) or ``'segmentation'``
            (accuracy over pixels and mIoU). Defaults to
            ``'classification'``.
        ignore_index (int, optional): Label of samples or pixels left out
            of every count. Defaults to None.
    """

    def __init__(
        self,
        names: Sequence[str],
        num_classes: int,
        task: str = 'classification',
        ignore_index: int | None = None,
    ) -> None:
        names = list(names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(
                f'complementarity needs two or more distinct member names, '
                f'got {names}'
            )
        if task not in TASKS:
            raise ValueError(f'task must be one of {TASKS}, got {task!r}')
        if int(num_classes) < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.names = names
        self.num_classes = int(num_classes)
        self.task = task
        self.ignore_index = ignore_index
        self.total = 0
        c = self.num_classes
        self.confusion = {n: np.zeros((c, c), np.int64) for n in names}
        # Subsets: every pair, and all members when there are more than 2.
        self.subsets = [tuple(p) for p in itertools.combinations(names, 2)]
        if len(names) > 2:
            self.subsets.append(tuple(names))
        # subset -> number of valid samples per right/wrong pattern
        # (bit k set: the k-th member of the subset is right).
        self.patterns = {
            s: np.zeros(2 ** len(s), np.int64) for s in self.subsets
        }
        # subset -> label counts where some member is right, and per
        # member the confusion where all are wrong (its fallback).
        self.right_labels = {s: np.zeros(c, np.int64) for s in self.subsets}
        self.fallback = {
            s: {n: np.zeros((c, c), np.int64) for n in s} for s in self.subsets
        }

    def update(self, preds: Mapping[str, Tensor], labels: Tensor) -> None:
        """Add one batch.

        Args:
            preds (Mapping[str, Tensor]): Per member name, class indices of
                the labels' shape, or scores with the classes on dim 1.
            labels (Tensor): True classes; ``(N,)`` for classification,
                any shape (e.g. ``(N, H, W)``) for segmentation.

        Raises:
            KeyError: If a member's predictions are missing (or unknown).
            ValueError: On shapes that do not match, or classes outside
                ``[0, num_classes)``.
        """
        if set(preds) != set(self.names):
            raise KeyError(
                f'predictions are for {sorted(preds)}; the members are '
                f'{self.names}'
            )
        labels = torch.as_tensor(labels).long()
        if self.task == 'classification' and labels.dim() != 1:
            raise ValueError(
                'classification labels must be one class per sample, shape '
                f'(N,), got {tuple(labels.shape)}'
            )
        pred = {
            n: _as_labels(n, preds[n], labels, self.task).reshape(-1)
            for n in self.names
        }
        labels = labels.reshape(-1)
        valid = torch.ones_like(labels, dtype=torch.bool)
        if self.ignore_index is not None:
            valid = labels != self.ignore_index
        labels = labels[valid].cpu().numpy()
        c = self.num_classes
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise ValueError(
                f'labels hold class {labels.min()}..{labels.max()}, outside '
                f'[0, {c}) (ignore_index: {self.ignore_index})'
            )
        right = {}
        for n in self.names:
            p = pred[n][valid].cpu().numpy()
            if p.size and (p.min() < 0 or p.max() >= c):
                raise ValueError(
                    f'member {n!r} predicts class {p.min()}..{p.max()}, '
                    f'outside [0, {c})'
                )
            pred[n] = p
            right[n] = p == labels
            self.confusion[n] += _confusion(labels, p, c)
        self.total += int(labels.size)
        for s in self.subsets:
            code = sum(right[n].astype(np.int64) << k for k, n in enumerate(s))
            self.patterns[s] += np.bincount(
                np.asarray(code, np.int64).reshape(-1),
                minlength=2 ** len(s),
            )
            some = np.zeros(labels.shape, bool)
            for n in s:
                some |= right[n]
            self.right_labels[s] += np.bincount(labels[some], minlength=c)
            for n in s:
                self.fallback[s][n] += _confusion(
                    labels[~some], pred[n][~some], c
                )

    def result(self) -> dict:
        """The report of everything added so far.

        Returns:
            dict: ``task``, ``num_valid`` (samples or pixels counted),
            ``members`` (per name: ``accuracy``, and ``mIoU`` for
            segmentation), ``pairs`` (one dict per pair: ``a``, ``b``,
            the four :data:`SHARES`, ``best`` member of the two, its
            metric(s) as ``best_accuracy`` / ``best_mIoU``, and
            ``oracle_accuracy`` / ``oracle_mIoU``) and ``oracle``, the
            same for all members together (``members``, ``all_right``,
            ``all_wrong``, ``best``, ``best_*`` and ``oracle_*``; with two
            members, the pair's). Shares, accuracies and
            mIoU are fractions in [0, 1].

        Raises:
            ValueError: If no valid sample was added.
        """
        if self.total == 0:
            raise ValueError(
                'no valid sample or pixel to count (every label is '
                f'ignore_index {self.ignore_index}, or nothing was added)'
            )
        seg = self.task == 'segmentation'
        members = {}
        for n in self.names:
            conf = self.confusion[n]
            members[n] = dict(accuracy=float(np.trace(conf)) / self.total)
            if seg:
                members[n]['mIoU'] = mean_iou(conf)
        key = 'mIoU' if seg else 'accuracy'
        out = dict(
            task=self.task,
            num_valid=self.total,
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            members=members,
            pairs=[],
        )
        for s in self.subsets:
            counts = self.patterns[s] / self.total
            # The first member of the best score, in member order.
            best = max(s, key=lambda n: (members[n][key], -s.index(n)))
            entry = dict(
                best=best,
                best_accuracy=members[best]['accuracy'],
                oracle_accuracy=float(1.0 - counts[0]),
            )
            if seg:
                oracle = np.diag(self.right_labels[s]) + self.fallback[s][best]
                entry['best_mIoU'] = members[best]['mIoU']
                entry['oracle_mIoU'] = mean_iou(oracle)
            if len(s) == 2:
                a, b = s
                shares = dict(
                    both_right=counts[3],
                    a_right_b_wrong=counts[1],
                    b_right_a_wrong=counts[2],
                    both_wrong=counts[0],
                )
                out['pairs'].append(dict(a=a, b=b, **_floats(shares), **entry))
            if len(s) == len(self.names):
                out['oracle'] = dict(
                    members=list(s),
                    all_right=float(counts[-1]),
                    all_wrong=float(counts[0]),
                    **entry,
                )
        return out


def _floats(values: dict) -> dict:
    return {k: float(v) for k, v in values.items()}


def _confusion(labels: np.ndarray, pred: np.ndarray, c: int) -> np.ndarray:
    flat = labels.astype(np.int64) * c + pred.astype(np.int64)
    return np.bincount(flat, minlength=c * c).reshape(c, c)


def complementarity(
    preds: Mapping[str, Tensor],
    labels: Tensor,
    ignore_index: int | None = None,
    num_classes: int | None = None,
    task: str | None = None,
) -> dict:
    """Complementarity of members from their predictions on one set.

    Args:
        preds (Mapping[str, Tensor]): Per member name (two or more),
            class indices of the labels' shape, or scores with the classes
            on dim 1 (``(N, C)`` or ``(N, C, H, W)``).
        labels (Tensor): True classes, ``(N,)`` or ``(N, H, W)``.
        ignore_index (int, optional): Label left out of every count.
            Defaults to None.
        num_classes (int, optional): Number of classes; None takes one
            more than the largest class in the labels, the predicted
            indices and the scores. Defaults to None.
        task (str, optional): ``'classification'`` or ``'segmentation'``;
            None: classification for ``(N,)`` labels, else segmentation.

    Returns:
        dict: See :meth:`Complementarity.result`.
    """
    labels = torch.as_tensor(labels)
    if task is None:
        task = 'classification' if labels.dim() == 1 else 'segmentation'
    if num_classes is None:
        num_classes = _infer_num_classes(preds, labels, ignore_index)
    meter = Complementarity(list(preds), num_classes, task, ignore_index)
    meter.update(preds, labels)
    return meter.result()


def _infer_num_classes(preds, labels: Tensor, ignore_index) -> int:
    valid = labels if ignore_index is None else labels[labels != ignore_index]
    top = int(valid.max()) if valid.numel() else 0
    for pred in preds.values():
        pred = torch.as_tensor(pred)
        if pred.shape == labels.shape:
            top = max(top, int(pred.max()) if pred.numel() else 0)
        elif pred.dim() == labels.dim() + 1:
            top = max(top, pred.shape[1] - 1)
    return top + 1
