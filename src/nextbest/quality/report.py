"""The data-quality report: what is in the warehouse and how clean it is.

Row counts, null rates and distinct counts per column, value distributions,
freshness (earliest and latest timestamp per table), duplicates removed and rows
quarantined by reason, from the load log. All computed with portable expressions.

>>> import tempfile, pathlib
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     report = quality_report(wh)
>>> report["tables"]["orders"]["rows"]
0
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from nextbest.schema import TABLES
from nextbest.warehouse import Warehouse

__all__ = ["quality_report"]

_TOP = 8
_BINS = 20
_EXACT_DISTINCT_ROWS = 1_000_000


def _column_profile(wh: Warehouse, t: ibis.Table, rows: int) -> dict[str, dict[str, Any]]:
    aggs: dict[str, ibis.Value] = {}
    for name in t.columns:
        col = t[name]
        aggs[f"{name}__nulls"] = col.isnull().sum()
        if not col.type().is_json():
            exact = rows <= _EXACT_DISTINCT_ROWS
            aggs[f"{name}__distinct"] = col.nunique() if exact else col.approx_nunique()
        if col.type().is_numeric():
            num = col.cast("float64")
            aggs[f"{name}__min"] = num.min()
            aggs[f"{name}__max"] = num.max()
            aggs[f"{name}__mean"] = num.mean()
            aggs[f"{name}__median"] = num.approx_median()
        elif col.type().is_temporal():
            aggs[f"{name}__min"] = col.min().cast("string").substr(0, 19)
            aggs[f"{name}__max"] = col.max().cast("string").substr(0, 19)
    values = wh.execute(t.aggregate(**aggs)).iloc[0].to_dict() if rows else {}
    out: dict[str, dict[str, Any]] = {}
    for name in t.columns:
        col = t[name]
        nulls = int(values.get(f"{name}__nulls") or 0)
        prof: dict[str, Any] = {
            "dtype": str(col.type()),
            "nulls": nulls,
            "null_rate": round(nulls / rows, 6) if rows else None,
        }
        if f"{name}__distinct" in values:
            prof["distinct"] = int(values[f"{name}__distinct"] or 0)
        for stat in ("min", "max", "mean", "median"):
            if f"{name}__{stat}" in values:
                v = values[f"{name}__{stat}"]
                prof[stat] = None if v is None or v != v else v
        mostly_unique = prof.get("distinct", 0) > 0.9 * rows
        if rows and col.type().is_string() and not mostly_unique:
            top = wh.execute(
                t.filter(col.notnull())
                .group_by(name)
                .aggregate(n=ibis._.count())
                .order_by([ibis.desc("n"), name])
                .limit(_TOP)
            )
            prof["top"] = [
                {"value": str(v), "count": int(n)} for v, n in zip(top[name], top["n"], strict=True)
            ]
        if rows and col.type().is_numeric() and prof.get("min") is not None:
            prof["histogram"] = _histogram(wh, t, name, float(prof["min"]), float(prof["max"]))
        out[name] = prof
    return out


def _histogram(wh: Warehouse, t: ibis.Table, name: str, lo: float, hi: float) -> dict[str, Any]:
    width = (hi - lo) / _BINS or 1.0
    col = t[name].cast("float64")
    bucket = ((col - lo) / width).floor().clip(upper=_BINS - 1).cast("int64")
    counts = wh.execute(
        t.filter(t[name].notnull()).group_by(b=bucket).aggregate(n=ibis._.count()).order_by("b")
    )
    hist = [0] * _BINS
    for b, n in zip(counts["b"], counts["n"], strict=True):
        hist[int(b)] = int(n)
    return {"edges": [lo + i * width for i in range(_BINS + 1)], "counts": hist}


def _daily(wh: Warehouse, t: ibis.Table, column: str) -> list[dict[str, Any]]:
    day = t[column].date()
    daily = wh.execute(
        t.filter(t[column].notnull()).group_by(day=day).aggregate(n=ibis._.count()).order_by("day")
    )
    return [{"day": str(d), "rows": int(n)} for d, n in zip(daily["day"], daily["n"], strict=True)]


def quality_report(wh: Warehouse) -> dict[str, Any]:
    """Everything the quality report shows, as one JSON-ready dict."""
    tables: dict[str, Any] = {}
    for name, spec in TABLES.items():
        t = wh.table(name)
        rows = wh.count(name)
        entry: dict[str, Any] = {"rows": rows, "columns": _column_profile(wh, t, rows)}
        if spec.time_column:
            tc = entry["columns"][spec.time_column]
            entry["time_column"] = spec.time_column
            entry["earliest"] = tc.get("min")
            entry["latest"] = tc.get("max")
            entry["daily"] = _daily(wh, t, spec.time_column) if rows else []
        tables[name] = entry
    loads = wh.table("_loads")
    by_table = wh.execute(
        loads.group_by("target").aggregate(
            loads_=loads.count(),
            read=loads.rows_read.sum(),
            loaded=loads.loaded.sum(),
            duplicates=loads.duplicates.sum(),
            quarantined=loads.quarantined.sum(),
            last_load=loads.finished_at.max().cast("string"),
        )
    )
    load_summary = {
        row["target"]: {
            "loads": int(row["loads_"]),
            "read": int(row["read"]),
            "loaded": int(row["loaded"]),
            "duplicates_removed": int(row["duplicates"]),
            "quarantined": int(row["quarantined"]),
            "last_load": row["last_load"],
        }
        for row in by_table.to_dict("records")
    }
    q = wh.table("_quarantine")
    reasons = wh.execute(
        q.group_by(["target", "reason", "field"])
        .aggregate(rows=q.count(), example_line=q.line.min())
        .order_by([ibis.desc("rows"), "target", "reason", "field"])
    )
    quarantine = [
        {
            "table": r["target"],
            "reason": r["reason"],
            "field": r["field"] if isinstance(r["field"], str) else None,
            "rows": int(r["rows"]),
            "example_line": int(r["example_line"]),
        }
        for r in reasons.to_dict("records")
    ]
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "warehouse": str(wh.path),
        "tables": tables,
        "loads": load_summary,
        "quarantine": quarantine,
        "quarantined_rows": int(sum(r["rows"] for r in quarantine)),
    }
