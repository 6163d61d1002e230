"""Metrics for a numeric prediction (lifetime value, spend, counts), and its decile calibration.

>>> m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 2.0, 5.0])
>>> m["rmse"], m["mae"], m["r2"], m["spearman"]
(0.7071067811865476, 0.5, 0.6, 0.9486832980505138)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from nextbest.evaluation.inputs import ArrayLike, check_bins, check_paired
from nextbest.evaluation.ordering import decile_cuts, depth_sums

__all__ = ["decile_calibration", "regression_metrics"]


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    dx, dy = x - x.mean(), y - y.mean()
    denom = float(np.sqrt(np.sum(dx * dx) * np.sum(dy * dy)))
    return float(np.sum(dx * dy) / denom) if denom > 0 else None


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, Any]:
    """RMSE, MAE, R², Spearman rank correlation and bias of predictions.

    Returns
    -------
    dict
        ``n``, ``rmse``, ``mae``, ``r2`` (``1 - SS_res / SS_tot``; ``None`` when the
        actual values are all equal), ``spearman`` (Pearson correlation of the
        average ranks; ``None`` when either side is constant), ``bias`` (mean of
        prediction minus actual), ``mean_actual`` and ``mean_predicted``.
    """
    y, p = check_paired(y_true, y_pred, ("y_true", "y_pred"))
    err = p - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "n": int(y.size),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else None,
        "spearman": _pearson(rankdata(y), rankdata(p)),
        "bias": float(err.mean()),
        "mean_actual": float(y.mean()),
        "mean_predicted": float(p.mean()),
    }


def decile_calibration(y_true: ArrayLike, y_pred: ArrayLike, bins: int = 10) -> pd.DataFrame:
    """Mean predicted against mean actual per predicted decile, highest predictions first.

    Decile sizes differ by at most one row; tied predictions straddling a
    boundary are shared out evenly (see :mod:`nextbest.evaluation.ordering`).

    Columns: ``decile``, ``count``, ``mean_predicted``, ``mean_actual`` and
    ``actual_share`` (the decile's share of the summed actual values; ``None``
    when that sum is 0).

    >>> t = decile_calibration([5.0, 1.0, 0.0, 2.0], [4.0, 3.0, 1.0, 0.0], bins=2)
    >>> t[["mean_predicted", "mean_actual", "actual_share"]].to_dict("list")
    {'mean_predicted': [3.5, 0.5], 'mean_actual': [3.0, 1.0], 'actual_share': [0.75, 0.25]}
    """
    y, p = check_paired(y_true, y_pred, ("y_true", "y_pred"))
    bins = check_bins(bins, y.size)
    cuts = decile_cuts(y.size, bins)
    count = np.diff(cuts)
    actual = np.diff(depth_sums(p, y, cuts))
    predicted = np.diff(depth_sums(p, p, cuts))
    total = float(y.sum())
    return pd.DataFrame(
        {
            "decile": np.arange(1, bins + 1),
            "count": count,
            "mean_predicted": predicted / count,
            "mean_actual": actual / count,
            "actual_share": actual / total if total else [None] * bins,
        }
    )
