"""Sums over the highest-scored rows, with tied scores shared out evenly.

Lift tables, top-k precision and decile charts cut the rows, ordered by descending
score, at fixed depths. When tied scores straddle a cut, which tied rows fall above
it would depend on row order. Instead each tied group contributes in proportion:
the first ``m`` rows hold every group wholly above the cut plus the fraction of the
straddling group that fits, at that group's average. This equals the average over
every ordering of the tied rows, so results never depend on how the input was sorted.

>>> depth_sums([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0], [0, 1, 2, 3, 4]).tolist()
[0.0, 1.0, 1.5, 2.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nextbest.evaluation.inputs import ArrayLike

__all__ = ["decile_cuts", "depth_sums"]


def depth_sums(
    score: ArrayLike, values: ArrayLike, depths: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Expected sum of ``values`` over the ``depth`` highest-scored rows, for each depth.

    Parameters
    ----------
    score : array of float
        Ranking score per row (higher first).
    values : array of float
        What to sum per row (labels, actual values, predictions).
    depths : sequence of int
        Row counts from 0 to ``len(score)``.
    """
    s = np.asarray(score, dtype=float)
    v = np.asarray(values, dtype=float)
    m = np.asarray(depths, dtype=np.int64)
    order = np.argsort(-s, kind="stable")
    s_sorted, v_sorted = s[order], v[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    ends = np.r_[starts[1:], s.size]
    cum = np.r_[0.0, np.cumsum(v_sorted)]
    group = np.searchsorted(starts, np.maximum(m, 1) - 1, side="right") - 1
    gs, ge = starts[group], ends[group]
    partial = (m - gs) * (cum[ge] - cum[gs]) / (ge - gs)
    return np.where(m == 0, 0.0, cum[gs] + partial)


def decile_cuts(rows: int, bins: int) -> np.ndarray:
    """Depths splitting ``rows`` into ``bins`` groups whose sizes differ by at most one.

    >>> decile_cuts(10, 4).tolist()
    [0, 2, 5, 7, 10]
    """
    return (np.arange(bins + 1) * rows) // bins
