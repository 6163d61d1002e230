"""The recommender evaluation report: metrics table, NDCG with intervals, coverage vs novelty.

:func:`evaluation_report` turns an
:class:`~nextbest.models.recommend.offline.OfflineEvaluation` into the report's
JSON-ready data; :func:`write_evaluation_report` writes it as
``recommend-evaluation.html`` (with the charts of :func:`evaluation_charts`)
and ``recommend-evaluation.json``.

>>> rows = [{"generator": "popularity", "ndcg": 0.1, "coverage": 0.1, "novelty": 6.0,
...          "ndcg_vs_popularity": [0.0, 0.0, 0.0]},
...         {"generator": "ease", "ndcg": 0.3, "coverage": 0.9, "novelty": 7.5,
...          "ndcg_vs_popularity": [0.2, 0.15, 0.25]}]
>>> charts = evaluation_charts({"k": 10, "models": rows})
>>> sorted(charts), charts["ndcg"].startswith("data:image/png;base64,")
(['coverage_novelty', 'ndcg', 'seconds'], True)
"""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from nextbest.models.recommend.offline import BASELINE, OfflineEvaluation
from nextbest.reporting import bar_chart, write_report
from nextbest.reporting.charts import figure_uri

__all__ = ["REPORT_NAME", "evaluation_charts", "evaluation_report", "write_evaluation_report"]

REPORT_NAME = "recommend-evaluation"
"""The report's file name without extension, in the project's reports dir."""

_COLOR = "#2b6cb0"
_HIGHLIGHT = "#c05621"


def evaluation_report(evaluation: OfflineEvaluation) -> dict[str, Any]:
    """The report's data: :meth:`OfflineEvaluation.as_dict` with a title and the time."""
    return {
        "title": f"Recommender evaluation: every generator and the ranker at k = {evaluation.k}",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **evaluation.as_dict(),
    }


def _value(row: dict[str, Any], key: str) -> float:
    v = row.get(key)
    return float("nan") if v is None else float(v)


def _ndcg_chart(rows: list[dict[str, Any]], k: int) -> str:
    names = [r["generator"] for r in rows][::-1]
    ndcg = np.array([_value(r, "ndcg") for r in rows])[::-1]
    base = next((_value(r, "ndcg") for r in rows if r["generator"] == BASELINE), float("nan"))
    low, high = [], []
    for r in rows[::-1]:
        diff = r.get("ndcg_vs_popularity") or [None, None, None]
        if r["generator"] == BASELINE or diff[1] is None:
            low.append(0.0)
            high.append(0.0)
        else:
            low.append(max(_value(r, "ndcg") - (base + diff[1]), 0.0))
            high.append(max(base + diff[2] - _value(r, "ndcg"), 0.0))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.32 * len(rows) + 1)))
    colors = [_HIGHLIGHT if n == BASELINE else _COLOR for n in names]
    ax.barh(names, ndcg, color=colors, xerr=[low, high], capsize=3, ecolor="#1a202c")
    if np.isfinite(base):
        ax.axvline(base, color=_HIGHLIGHT, linestyle=":", linewidth=1)
    ax.set_xlabel(f"NDCG@{k} on test")
    ax.set_title(f"NDCG@{k} on test; whiskers: 95% interval of the difference from {BASELINE}")
    return figure_uri(fig)


def _label_heights(x: np.ndarray, y: np.ndarray, gap: float, near: float) -> np.ndarray:
    """Label heights at least ``gap`` apart among points within ``near`` of each other in x."""
    out = y.astype(float).copy()
    order = np.argsort(y, kind="stable")
    for n, i in enumerate(order):
        for j in order[:n]:
            if abs(x[i] - x[j]) < near and out[i] - out[j] < gap:
                out[i] = out[j] + gap
    return out


def _scatter(rows: list[dict[str, Any]]) -> str:
    points = [
        (r["generator"], _value(r, "coverage"), _value(r, "novelty"))
        for r in rows
        if np.isfinite(_value(r, "coverage")) and np.isfinite(_value(r, "novelty"))
    ]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    if points:
        names = [p[0] for p in points]
        x = np.array([p[1] for p in points])
        y = np.array([p[2] for p in points])
        span = max(float(np.ptp(y)), 1e-9)
        labels = _label_heights(x, y, 0.06 * span, 0.15)
        dx = 0.025 * max(float(np.ptp(x)), 0.05)
        ax.scatter(x, y, s=30, color=[_HIGHLIGHT if n == BASELINE else _COLOR for n in names])
        for name, xi, yi, li in zip(names, x, y, labels, strict=True):
            right = xi > 0.5 * (x.min() + x.max())
            ax.annotate(
                name,
                (xi, yi),
                xytext=(xi - dx if right else xi + dx, li),
                textcoords="data",
                fontsize=7,
                ha="right" if right else "left",
                va="center",
                arrowprops={"arrowstyle": "-", "color": "#a0aec0", "lw": 0.5} if li != yi else None,
            )
        ax.set_ylim(top=max(float(labels.max()), float(y.max())) + 0.08 * span)
    ax.set_xlabel("catalogue coverage (share of products in some list)")
    ax.set_ylabel("novelty (mean self-information, bits)")
    ax.set_title("Coverage and novelty on test")
    return figure_uri(fig)


def evaluation_charts(report: dict[str, Any]) -> dict[str, str]:
    """NDCG@k bars with intervals, the coverage-vs-novelty scatter and time per model."""
    rows = report["models"]
    return {
        "ndcg": _ndcg_chart(rows, int(report["k"])),
        "coverage_novelty": _scatter(rows),
        "seconds": bar_chart(
            [r["generator"] for r in rows],
            [(r.get("search_s") or 0.0) + (r.get("fit_s") or 0.0) for r in rows],
            title="Seconds to tune on validation and fit for test",
            horizontal=True,
        ),
    }


def write_evaluation_report(
    report: dict[str, Any], folder: Path, name: str = REPORT_NAME
) -> tuple[Path, Path]:
    """Write ``<name>.html`` and ``<name>.json`` into ``folder``; return both paths."""
    template = (
        files("nextbest.models.recommend").joinpath("report.html.j2").read_text(encoding="utf-8")
    )
    return write_report(Path(folder), name, report, template, evaluation_charts(report))
