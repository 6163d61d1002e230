"""Confusion counts at every distinct threshold, and the ROC and precision-recall curves.

One descending sort of the scores gives, for each distinct score ``t``, how many
positives and negatives score at least ``t``: every threshold metric (AUC, average
precision, the best F1 or profit threshold) reads off these cumulative counts, so
each is exact over all thresholds at the cost of one sort. A row is predicted
positive when its score is **at least** the threshold.

>>> c = threshold_counts([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1])
>>> c.thresholds.tolist(), c.tp.tolist(), c.fp.tolist()
([0.9, 0.8, 0.1], [1, 2, 2], [0, 1, 2])
>>> roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1])
0.875
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.evaluation.inputs import ArrayLike, check_binary_scores

__all__ = [
    "ThresholdCounts",
    "average_precision",
    "pr_curve",
    "roc_auc",
    "roc_curve",
    "thin_curve",
    "threshold_counts",
]


@dataclass(frozen=True)
class ThresholdCounts:
    """Cumulative counts at each distinct score, highest score first.

    ``tp[i]`` and ``fp[i]`` count the positives and negatives scoring at least
    ``thresholds[i]``; ``positives`` and ``negatives`` are the totals.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: int
    negatives: int

    @property
    def fn(self) -> np.ndarray:
        return self.positives - self.tp

    @property
    def tn(self) -> np.ndarray:
        return self.negatives - self.fp


def _counts(y: np.ndarray, s: np.ndarray) -> ThresholdCounts:
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    tp = np.cumsum(y_sorted)[last]
    fp = last + 1 - tp
    positives = int(y.sum())
    return ThresholdCounts(s_sorted[last], tp, fp, positives, int(y.size) - positives)


def threshold_counts(y_true: ArrayLike, score: ArrayLike) -> ThresholdCounts:
    """Positives and negatives at or above each distinct score (see the module docstring)."""
    return _counts(*check_binary_scores(y_true, score))


def roc_curve(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates at each distinct score, starting from (0, 0).

    Returns ``(fpr, tpr, thresholds)``; the first threshold is ``inf`` (nobody
    predicted positive).

    >>> fpr, tpr, _ = roc_curve([0, 1, 1], [0.2, 0.6, 0.9])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.0, 1.0], [0.0, 0.5, 1.0, 1.0])
    """
    c = _counts(*check_binary_scores(y_true, score, both_classes=True))
    fpr = np.r_[0.0, c.fp / c.negatives]
    tpr = np.r_[0.0, c.tp / c.positives]
    return fpr, tpr, np.r_[np.inf, c.thresholds]


def roc_auc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative.

    Ties between a positive and a negative count one half.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    fpr, tpr, _ = roc_curve(y_true, score)
    return float(np.trapezoid(tpr, fpr))


def pr_curve(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at each distinct score, highest threshold first.

    Returns ``(recall, precision, thresholds)``.

    >>> recall, precision, _ = pr_curve([1, 0, 1], [0.9, 0.5, 0.2])
    >>> recall.tolist(), precision.round(3).tolist()
    ([0.5, 0.5, 1.0], [1.0, 0.5, 0.667])
    """
    c = _counts(*check_binary_scores(y_true, score, both_classes=True))
    return c.tp / c.positives, c.tp / (c.tp + c.fp), c.thresholds


def average_precision(y_true: ArrayLike, score: ArrayLike) -> float:
    """Average precision: precision at each threshold weighted by the recall it adds.

    ``sum_i (R_i - R_{i-1}) P_i`` over distinct thresholds, highest first (the
    step-wise area under the precision-recall curve, no interpolation).

    >>> round(average_precision([1, 0, 1], [0.9, 0.5, 0.2]), 4)
    0.8333
    """
    recall, precision, _ = pr_curve(y_true, score)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def thin_curve(x: np.ndarray, y: np.ndarray, max_points: int = 200) -> tuple[list, list]:
    """Drop interior points on straight segments, then keep at most ``max_points`` points.

    Used for the curves a report draws and stores; the first and last points are kept.

    >>> thin_curve(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.5, 1.0]))
    ([0.0, 1.0], [0.0, 1.0])
    """
    if x.size > 2:
        dx1, dy1 = x[1:-1] - x[:-2], y[1:-1] - y[:-2]
        dx2, dy2 = x[2:] - x[1:-1], y[2:] - y[1:-1]
        keep = np.r_[True, np.abs(dx1 * dy2 - dy1 * dx2) > 1e-12, True]
        x, y = x[keep], y[keep]
    if x.size > max_points:
        idx = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(int))
        x, y = x[idx], y[idx]
    return [float(v) for v in x], [float(v) for v in y]
