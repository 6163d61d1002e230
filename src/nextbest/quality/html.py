"""The quality report as HTML with charts, and as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd

from nextbest.reporting import bar_chart, histogram_chart, line_chart, write_report

__all__ = ["quality_charts", "write_quality_report"]


def quality_charts(report: dict[str, Any]) -> dict[str, Any]:
    tables = report["tables"]
    charts: dict[str, Any] = {
        "rows": bar_chart(
            list(tables), [t["rows"] for t in tables.values()], title="Rows per table", log=True
        ),
        "hist": {},
    }
    daily: dict[str, tuple[Any, Sequence[float]]] = {
        name: (pd.to_datetime([d["day"] for d in t["daily"]]), [d["rows"] for d in t["daily"]])
        for name, t in tables.items()
        if t.get("daily")
    }
    if daily:
        charts["daily"] = line_chart(daily, title="Rows per day (by each table's time column)")
    if report["quarantine"]:
        labels = [f"{q['table']}: {q['reason']} {q['field'] or ''}" for q in report["quarantine"]]
        charts["quarantine"] = bar_chart(
            labels[:25],
            [q["rows"] for q in report["quarantine"]][:25],
            title="Quarantined rows by reason",
            horizontal=True,
        )
    nulls = sorted(
        (
            (p["null_rate"], f"{name}.{col}")
            for name, t in tables.items()
            for col, p in t["columns"].items()
            if p.get("null_rate")
        ),
        reverse=True,
    )[:30]
    if nulls:
        charts["nulls"] = bar_chart(
            [n for _, n in nulls], [r for r, _ in nulls], title="Null rate", horizontal=True
        )
    for name, t in tables.items():
        for col, p in t["columns"].items():
            if p.get("histogram") and not col.endswith("_id"):
                h = p["histogram"]
                charts["hist"].setdefault(name, []).append(
                    histogram_chart(h["edges"], h["counts"], title=f"{name}.{col}")
                )
    return charts


def write_quality_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``quality.html`` and ``quality.json`` into ``folder``; return both paths."""
    template = files("nextbest.quality").joinpath("report.html.j2").read_text(encoding="utf-8")
    return write_report(folder, "quality", report, template, quality_charts(report))
