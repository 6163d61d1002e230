"""Bootstrap intervals: one statistic, a paired difference of means, a paired AUC difference.

Resampling is vectorised: a block of resamples is drawn as one index matrix, and
blocks are sized to keep memory near a few million values whatever the row
count. Intervals are percentile intervals. The same ``seed`` gives the same result.

>>> a = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
>>> b = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
>>> r = paired_bootstrap(a, b, n_boot=500, seed=1)
>>> r.difference, r.low <= r.difference <= r.high, r.share_b_better > 0.9
(0.375, True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

import numpy as np

from nextbest.evaluation.inputs import (
    ArrayLike,
    EvaluationInputError,
    check_binary_scores,
    check_paired,
    to_float_array,
)

__all__ = [
    "BootstrapInterval",
    "PairedComparison",
    "bootstrap_ci",
    "paired_auc_bootstrap",
    "paired_bootstrap",
    "weighted_auc",
]

_BLOCK_VALUES = 2_000_000

Seed: TypeAlias = int | np.random.Generator


@dataclass(frozen=True)
class BootstrapInterval:
    """A statistic with its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    ci: float
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairedComparison:
    """``b`` against ``a`` on the same units: the difference ``b - a`` and its interval.

    ``share_b_better`` is the share of resamples in which ``b`` is strictly
    higher; ``a`` and ``b`` are the two statistics on the full data.
    """

    a: float
    b: float
    difference: float
    low: float
    high: float
    share_b_better: float
    ci: float
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(n_boot: int, ci: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise EvaluationInputError(f"must be a positive integer; got {n_boot!r}.", field="n_boot")
    if not 0.0 < ci < 1.0:
        raise EvaluationInputError(f"must lie strictly between 0 and 1; got {ci!r}.", field="ci")


def _blocks(rng: np.random.Generator, n_boot: int, n: int) -> Iterator[np.ndarray]:
    """Index matrices of shape (block, n), ``n_boot`` rows in all."""
    block = max(1, _BLOCK_VALUES // max(n, 1))
    for start in range(0, n_boot, block):
        yield rng.integers(0, n, size=(min(block, n_boot - start), n))


def _interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    tail = 50.0 * (1.0 - ci)
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    values: ArrayLike,
    statistic: Callable[..., Any] = np.mean,
    n_boot: int = 2000,
    seed: Seed = 0,
    ci: float = 0.95,
) -> BootstrapInterval:
    """Percentile bootstrap interval of ``statistic(values)``, resampling values.

    ``statistic`` is called as ``statistic(matrix, axis=1)`` on a block of
    resamples when it accepts ``axis`` (numpy reductions do), else once per resample.

    >>> r = bootstrap_ci([2.0, 4.0, 6.0, 8.0], n_boot=200, seed=3)
    >>> r.estimate, r.low >= 2.0, r.high <= 8.0
    (5.0, True, True)
    """
    _check(n_boot, ci)
    x = to_float_array(values, "values")
    if x.size == 0:
        raise EvaluationInputError("no values to resample.", field="values")
    rng = np.random.default_rng(seed)
    stats = []
    for idx in _blocks(rng, n_boot, x.size):
        sample = x[idx]
        try:
            out = np.asarray(statistic(sample, axis=1), dtype=float)
            if out.shape != (idx.shape[0],):
                raise TypeError("statistic did not reduce along axis 1")
        except TypeError:
            out = np.array([float(statistic(row)) for row in sample])
        stats.append(out)
    low, high = _interval(np.concatenate(stats), ci)
    return BootstrapInterval(float(statistic(x)), low, high, ci, int(n_boot))


def paired_bootstrap(
    a_per_unit: ArrayLike,
    b_per_unit: ArrayLike,
    n_boot: int = 2000,
    seed: Seed = 0,
    ci: float = 0.95,
) -> PairedComparison:
    """Mean of ``b - a`` over units (users, customers), with a paired bootstrap interval.

    Units are resampled together, so both arrays must be aligned: entry ``i`` of
    each is the same unit's metric (e.g. NDCG per user under two recommenders).
    """
    _check(n_boot, ci)
    a, b = check_paired(a_per_unit, b_per_unit, ("a_per_unit", "b_per_unit"))
    d = b - a
    rng = np.random.default_rng(seed)
    means = np.concatenate([d[idx].mean(axis=1) for idx in _blocks(rng, n_boot, d.size)])
    low, high = _interval(means, ci)
    return PairedComparison(
        a=float(a.mean()),
        b=float(b.mean()),
        difference=float(d.mean()),
        low=low,
        high=high,
        share_b_better=float(np.mean(means > 0)),
        ci=ci,
        n_boot=int(n_boot),
    )


class _SortedScores:
    """A score sorted once, so AUC under many row weightings costs a few passes."""

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        self.order = np.argsort(score, kind="stable")
        s = score[self.order]
        self.starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        self.pos = y[self.order] == 1

    def auc(self, weights: np.ndarray) -> np.ndarray:
        w = weights[:, self.order]
        pos = np.add.reduceat(np.where(self.pos, w, 0.0), self.starts, axis=1)
        neg = np.add.reduceat(np.where(self.pos, 0.0, w), self.starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        wins = np.sum(pos * (below + 0.5 * neg), axis=1)
        return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def weighted_auc(y_true: ArrayLike, score: ArrayLike, weights: np.ndarray) -> np.ndarray:
    """ROC AUC under each row of ``weights`` (shape ``(r, n)``): one value per row.

    A weight counts a row that many times (a bootstrap resample's counts);
    positive-negative ties count one half.

    >>> weighted_auc([0, 1, 0, 1], [0.1, 0.3, 0.5, 0.9], np.array([[1, 1, 1, 1], [0, 1, 1, 1.0]]))
    array([0.75, 0.5 ])
    """
    y, s = check_binary_scores(y_true, score, both_classes=True)
    return _SortedScores(y, s).auc(np.atleast_2d(np.asarray(weights, dtype=float)))


def paired_auc_bootstrap(
    y_true: ArrayLike,
    score_a: ArrayLike,
    score_b: ArrayLike,
    n_boot: int = 2000,
    seed: Seed = 0,
    ci: float = 0.95,
) -> PairedComparison:
    """AUC of ``score_b`` minus AUC of ``score_a`` on the same customers, with an interval.

    Customers are resampled with replacement, within positives and within
    negatives separately (a stratified bootstrap, as in DeLong-style
    comparisons), so every resample keeps the class counts and both AUCs are
    always defined; each resample scores both models on the same rows.

    >>> y = [0, 0, 1, 1, 0, 1]
    >>> r = paired_auc_bootstrap(y, [0.5, 0.4, 0.3, 0.6, 0.2, 0.7], [0.1, 0.2, 0.8, 0.9, 0.3, 0.7],
    ...                          n_boot=300)
    >>> round(r.a, 3), r.b, r.difference > 0
    (0.778, 1.0, True)
    """
    _check(n_boot, ci)
    y, a = check_binary_scores(y_true, score_a, field="score_a", both_classes=True)
    _, b = check_binary_scores(y, score_b, field="score_b")
    sa, sb = _SortedScores(y, a), _SortedScores(y, b)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n = y.size
    rng = np.random.default_rng(seed)
    diffs = []
    block = max(1, _BLOCK_VALUES // n)
    for start in range(0, n_boot, block):
        r = min(block, n_boot - start)
        rows = np.concatenate(
            [
                pos[rng.integers(0, pos.size, (r, pos.size))],
                neg[rng.integers(0, neg.size, (r, neg.size))],
            ],
            axis=1,
        )
        flat = (rows + n * np.arange(r)[:, None]).ravel()
        w = np.bincount(flat, minlength=r * n).reshape(r, n).astype(float)
        diffs.append(sb.auc(w) - sa.auc(w))
    d = np.concatenate(diffs)
    ones = np.ones((1, n))
    auc_a, auc_b = float(sa.auc(ones)[0]), float(sb.auc(ones)[0])
    low, high = _interval(d, ci)
    return PairedComparison(
        a=auc_a,
        b=auc_b,
        difference=auc_b - auc_a,
        low=low,
        high=high,
        share_b_better=float(np.mean(d > 0)),
        ci=ci,
        n_boot=int(n_boot),
    )
