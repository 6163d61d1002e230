"""Metrics for a binary model: ranking, probability quality, threshold, top-k, lift, calibration.

>>> y = [1, 0, 1, 0, 0, 1, 0, 0, 0, 0]
>>> p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
>>> m = classification_metrics(y, p, k_fracs=(0.2,))
>>> round(m["roc_auc"], 4), m["tp"], m["fp"], m["top"][0]["precision"]
(0.8095, 2, 3, 0.5)
>>> lift_table(y, p, bins=5)["positives"].tolist()
[1.0, 1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from nextbest.evaluation.curves import average_precision, roc_auc
from nextbest.evaluation.inputs import (
    ArrayLike,
    EvaluationInputError,
    check_binary_scores,
    check_bins,
    check_share,
    is_probability,
)
from nextbest.evaluation.ordering import decile_cuts, depth_sums

__all__ = [
    "brier_score",
    "calibration_curve",
    "classification_metrics",
    "confusion_at",
    "lift_table",
    "log_loss",
    "top_share_metrics",
]

_EPS = float(np.finfo(np.float64).eps)


def _probabilities(y_true: ArrayLike, prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y, p = check_binary_scores(y_true, prob, field="prob")
    if not is_probability(p):
        raise EvaluationInputError(
            f"probabilities must lie in [0, 1]; found values from {p.min():g} to {p.max():g}.",
            field="prob",
            hint="Pass predicted probabilities (predict_proba), not raw scores.",
        )
    return y, p


def log_loss(y_true: ArrayLike, prob: ArrayLike) -> float:
    """Mean negative log-likelihood of the labels; probabilities clipped to [eps, 1 - eps].

    >>> round(log_loss([1, 0], [0.8, 0.4]), 4)
    0.367
    """
    y, p = _probabilities(y_true, prob)
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def brier_score(y_true: ArrayLike, prob: ArrayLike) -> float:
    """Mean squared difference between probability and label.

    >>> round(brier_score([1, 0], [0.8, 0.4]), 4)
    0.1
    """
    y, p = _probabilities(y_true, prob)
    return float(np.mean((p - y) ** 2))


def confusion_at(y_true: ArrayLike, score: ArrayLike, threshold: float) -> dict[str, Any]:
    """Confusion counts and derived rates when rows scoring at least ``threshold`` are positive.

    Precision is 0 when nothing is predicted positive (and recall 0 without positives).

    >>> confusion_at([1, 0, 1, 0], [0.9, 0.6, 0.3, 0.1], 0.5)["f1"]
    0.5
    """
    y, s = check_binary_scores(y_true, score)
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(y.size) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {
        "threshold": float(threshold),
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "accuracy": (tp + tn) / y.size,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }


def top_share_metrics(
    y_true: ArrayLike, score: ArrayLike, k_fracs: Sequence[float] = (0.01, 0.05, 0.1, 0.2)
) -> list[dict[str, float]]:
    """Precision, recall and lift among the top ``k`` share of rows by score, per ``k``.

    The top share holds ``ceil(k * n)`` rows (at least one). Ties at the cut are
    shared out evenly (see :mod:`nextbest.evaluation.ordering`), so positives may
    be fractional.

    >>> top_share_metrics([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1], (0.5,))[0]["precision"]
    0.75
    """
    y, s = check_binary_scores(y_true, score, both_classes=True)
    shares = [check_share(k, "k_fracs") for k in k_fracs]
    n, positives = y.size, int(y.sum())
    rows = [max(1, math.ceil(k * n - 1e-9)) for k in shares]
    hits = depth_sums(s, y, rows)
    return [
        {
            "share": k,
            "customers": r,
            "positives": float(h),
            "precision": float(h / r),
            "recall": float(h / positives),
            "lift": float((h / r) / (positives / n)),
        }
        for k, r, h in zip(shares, rows, hits, strict=True)
    ]


def classification_metrics(
    y_true: ArrayLike,
    score: ArrayLike,
    threshold: float | None = None,
    k_fracs: Sequence[float] = (0.01, 0.05, 0.1, 0.2),
) -> dict[str, Any]:
    """Everything a binary model is judged by, in one JSON-ready dict.

    Parameters
    ----------
    y_true : array of 0/1
        Observed outcome per customer; both classes must occur.
    score : array of float
        Model score per customer; higher means more likely positive.
    threshold : float, optional
        Rows scoring at least this are predicted positive. Defaults to 0.5, which
        needs probabilities; give a threshold for other scores.
    k_fracs : sequence of float
        Top shares for precision and recall at top-k (see :func:`top_share_metrics`).

    Returns
    -------
    dict
        ``n``, ``positives``, ``base_rate``, ``roc_auc``, ``pr_auc`` (average
        precision), ``log_loss`` and ``brier`` (``None`` unless every score is in
        [0, 1]), the confusion entries of :func:`confusion_at` (``threshold``,
        ``f1``, ``precision``, ``recall``, ``accuracy``, ``tn``, ``fp``, ``fn``,
        ``tp``) and ``top``: one dict per top share.

    Examples
    --------
    >>> m = classification_metrics([0, 1, 0, 1], [0.2, 0.7, 0.6, 0.4], k_fracs=(0.5,))
    >>> m["roc_auc"], m["accuracy"], m["top"][0]["recall"]
    (0.75, 0.5, 0.5)
    """
    y, s = check_binary_scores(y_true, score, both_classes=True)
    probabilities = is_probability(s)
    if threshold is None:
        if not probabilities:
            raise EvaluationInputError(
                "scores are not probabilities, so the default threshold 0.5 does not apply.",
                field="threshold",
                hint="Pass a threshold (choose_threshold can pick one).",
            )
        threshold = 0.5
    positives = int(y.sum())
    return {
        "n": int(y.size),
        "positives": positives,
        "base_rate": positives / y.size,
        "roc_auc": roc_auc(y, s),
        "pr_auc": average_precision(y, s),
        "log_loss": log_loss(y, s) if probabilities else None,
        "brier": brier_score(y, s) if probabilities else None,
        **confusion_at(y, s, threshold),
        "top": top_share_metrics(y, s, k_fracs),
    }


def lift_table(y_true: ArrayLike, score: ArrayLike, bins: int = 10) -> pd.DataFrame:
    """Customers, positives, rate and lift per score decile, highest scores first.

    Decile 1 holds the highest-scored tenth. Decile sizes differ by at most one
    row; tied scores straddling a boundary are shared out evenly between the
    deciles (the average over every order of the tied rows), so ``positives`` may
    be fractional and the table does not depend on row order.

    Columns: ``decile``, ``customers``, ``positives``, ``rate``, ``lift`` (rate over
    the base rate), ``cum_customers``, ``cum_positives``, ``cum_gain`` (share of all
    positives reached so far), ``cum_lift``, ``min_score``, ``max_score``.

    >>> t = lift_table([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], bins=2)
    >>> t[["decile", "rate", "lift", "cum_gain"]].to_dict("records")[0]
    {'decile': 1, 'rate': 1.0, 'lift': 2.0, 'cum_gain': 1.0}
    """
    y, s = check_binary_scores(y_true, score)
    bins = check_bins(bins, y.size)
    positives = int(y.sum())
    if positives == 0:
        raise EvaluationInputError("no positives, so lift is undefined.", field="y_true")
    cuts = decile_cuts(y.size, bins)
    cum = depth_sums(s, y, cuts)
    customers = np.diff(cuts)
    hits = np.diff(cum)
    base = positives / y.size
    s_sorted = np.sort(s)[::-1]
    return pd.DataFrame(
        {
            "decile": np.arange(1, bins + 1),
            "customers": customers,
            "positives": hits,
            "rate": hits / customers,
            "lift": hits / customers / base,
            "cum_customers": cuts[1:],
            "cum_positives": cum[1:],
            "cum_gain": cum[1:] / positives,
            "cum_lift": cum[1:] / cuts[1:] / base,
            "min_score": s_sorted[cuts[1:] - 1],
            "max_score": s_sorted[cuts[:-1]],
        }
    )


def calibration_curve(
    y_true: ArrayLike,
    prob: ArrayLike,
    bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> pd.DataFrame:
    """Mean predicted probability against the observed rate, per probability bin.

    ``"uniform"`` splits [0, 1] into equal widths; ``"quantile"`` puts edges at the
    quantiles of the predictions, so bins hold about equal counts (equal
    probabilities always share a bin, so there may be fewer bins). Each bin is
    ``[lower, upper)``, the last one closed; empty bins are left out.

    Columns: ``bin``, ``lower``, ``upper``, ``count``, ``mean_predicted``,
    ``observed_rate``.

    >>> c = calibration_curve([0, 1, 0, 1], [0.1, 0.3, 0.6, 0.9], bins=2, strategy="uniform")
    >>> c[["count", "mean_predicted", "observed_rate"]].to_dict("list")
    {'count': [2, 2], 'mean_predicted': [0.2, 0.75], 'observed_rate': [0.5, 0.5]}
    """
    y, p = _probabilities(y_true, prob)
    bins = check_bins(bins, y.size)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, bins + 1)))
        if edges.size == 1:
            edges = np.r_[edges, edges]
    else:
        raise EvaluationInputError(
            f"unknown strategy {strategy!r}; use 'quantile' or 'uniform'.", field="strategy"
        )
    which = np.searchsorted(edges[1:-1], p, side="right")
    k = edges.size - 1
    count = np.bincount(which, minlength=k)
    pred_sum = np.bincount(which, weights=p, minlength=k)
    pos_sum = np.bincount(which, weights=y, minlength=k)
    keep = count > 0
    return pd.DataFrame(
        {
            "bin": np.arange(1, k + 1)[keep],
            "lower": edges[:-1][keep],
            "upper": edges[1:][keep],
            "count": count[keep],
            "mean_predicted": pred_sum[keep] / count[keep],
            "observed_rate": pos_sum[keep] / count[keep],
        }
    )
