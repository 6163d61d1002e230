"""Charts for model evaluation reports, each a PNG data URI drawn from plain numbers.

Every chart takes one series per model (the model first, then its baselines), so
the report draws exactly the numbers its JSON holds.

>>> uri = roc_chart({"model": ([0.0, 0.2, 1.0], [0.0, 0.7, 1.0])})
>>> uri.startswith("data:image/png;base64,")
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nextbest.reporting.charts import figure_uri

__all__ = [
    "backtest_chart",
    "calibration_chart",
    "decile_chart",
    "gains_chart",
    "importance_chart",
    "lift_chart",
    "pr_chart",
    "roc_chart",
]

Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]

_SIZE = (4.6, 3.6)
_CHANCE: dict[str, Any] = {"color": "#a0aec0", "linestyle": ":", "linewidth": 1}


def _style(name: str, i: int) -> dict[str, Any]:
    """The model in a strong solid line, baselines thinner and dashed."""
    return {
        "label": name,
        "linewidth": 2.0 if i == 0 else 1.2,
        "linestyle": "-" if i == 0 else "--",
    }


def _finish(fig: Figure, ax: Axes, title: str, xlabel: str, ylabel: str) -> str:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return figure_uri(fig)


def roc_chart(curves: Series, *, title: str = "ROC curve") -> str:
    """True-positive rate against false-positive rate, with the chance diagonal."""
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot([0, 1], [0, 1], label="chance", **_CHANCE)
    for i, (name, (fpr, tpr)) in enumerate(curves.items()):
        ax.plot(fpr, tpr, **_style(name, i))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    return _finish(fig, ax, title, "false-positive rate", "true-positive rate")


def pr_chart(curves: Series, base_rate: float, *, title: str = "Precision-recall curve") -> str:
    """Precision against recall (steps), with the base rate a random ranking achieves."""
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.axhline(base_rate, label=f"base rate {base_rate:.3f}", **_CHANCE)
    for i, (name, (recall, precision)) in enumerate(curves.items()):
        ax.step(recall, precision, where="post", **_style(name, i))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    return _finish(fig, ax, title, "recall", "precision")


def gains_chart(curves: Series, *, title: str = "Cumulative gains") -> str:
    """Share of positives reached against share of customers contacted, by decile."""
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot([0, 1], [0, 1], label="random", **_CHANCE)
    for i, (name, (share, gain)) in enumerate(curves.items()):
        ax.plot([0.0, *share], [0.0, *gain], marker="o", markersize=3, **_style(name, i))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    return _finish(
        fig, ax, title, "share of customers (highest scores first)", "share of positives"
    )


def lift_chart(lifts: Mapping[str, Sequence[float]], *, title: str = "Lift by decile") -> str:
    """Grouped bars: each model's positive rate per decile over the base rate."""
    fig, ax = plt.subplots(figsize=_SIZE)
    width = 0.8 / max(len(lifts), 1)
    for i, (name, values) in enumerate(lifts.items()):
        x = np.arange(1, len(values) + 1) + (i - (len(lifts) - 1) / 2) * width
        ax.bar(x, values, width=width, label=name, alpha=1.0 if i == 0 else 0.6)
    ax.axhline(1.0, label="random", **_CHANCE)
    if lifts:
        ax.set_xticks(range(1, len(next(iter(lifts.values()))) + 1))
    return _finish(fig, ax, title, "decile (1 = highest scores)", "lift")


def calibration_chart(curves: Series, *, title: str = "Calibration") -> str:
    """Observed rate against mean predicted probability per bin, with the diagonal."""
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot([0, 1], [0, 1], label="perfect", **_CHANCE)
    for i, (name, (predicted, observed)) in enumerate(curves.items()):
        ax.plot(predicted, observed, marker="o", markersize=3, **_style(name, i))
    return _finish(fig, ax, title, "mean predicted probability", "observed rate")


def decile_chart(tables: Series, *, title: str = "Predicted and actual by decile") -> str:
    """Mean actual (markers) and mean predicted (line) per predicted decile, per model."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for i, (name, (predicted, actual)) in enumerate(tables.items()):
        x = np.arange(1, len(predicted) + 1)
        (line,) = ax.plot(x, predicted, **(_style(name, i) | {"label": f"{name}: predicted"}))
        ax.plot(x, actual, "o", color=line.get_color(), label=f"{name}: actual")
    if tables:
        ax.set_xticks(range(1, len(next(iter(tables.values()))[0]) + 1))
    return _finish(fig, ax, title, "predicted decile (1 = highest)", "mean value")


def backtest_chart(
    origins: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    metric: str,
    *,
    title: str = "Backtest by origin",
) -> str:
    """One line per model: ``metric`` at each rolling origin, oldest first (gaps where
    a value is missing).

    >>> backtest_chart(["2025-02", "2025-03"], {"m": [0.7, 0.72]}, "roc_auc")[:22]
    'data:image/png;base64,'
    """
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    x = np.arange(len(origins))
    for i, (name, values) in enumerate(series.items()):
        y = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        ax.plot(x, y, marker="o", markersize=4, **_style(name, i))
    ax.set_xticks(x, list(origins), rotation=30, ha="right", fontsize=7)
    return _finish(fig, ax, title, "origin (cutoff predicted)", metric)


def importance_chart(
    features: Sequence[str],
    bars: Mapping[str, Sequence[float]],
    *,
    title: str = "Global importance (share of the total)",
) -> str:
    """Horizontal grouped bars per feature (most important at the top), one colour per
    measure (mean |SHAP|, gain).

    >>> importance_chart(["recency", "frequency"], {"mean |SHAP|": [0.7, 0.3]})[:22]
    'data:image/png;base64,'
    """
    height = max(2.6, 0.28 * len(features) + 1.2)
    fig, ax = plt.subplots(figsize=(5.6, height))
    y = np.arange(len(features))
    width = 0.8 / max(len(bars), 1)
    for i, (name, values) in enumerate(bars.items()):
        offset = (i - (len(bars) - 1) / 2) * width
        ax.barh(y + offset, [float(v) for v in values], height=width, label=name)
    ax.set_yticks(y, list(features), fontsize=7)
    ax.invert_yaxis()
    return _finish(fig, ax, title, "share", "")
