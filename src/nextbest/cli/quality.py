"""``nextbest quality``: the data-quality report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from nextbest.cli.common import (
    JsonOpt,
    ProjectOpt,
    ReportDirOpt,
    command,
    emit,
    open_warehouse,
    out,
    settings_for,
)
from nextbest.quality import quality_report, write_quality_report


def print_quality(report: dict[str, Any], html: Path) -> None:
    table = Table(title="data quality")
    for col in ("table", "rows", "latest", "worst null rate", "duplicates removed", "quarantined"):
        table.add_column(
            col, justify="left" if col in ("table", "latest", "worst null rate") else "right"
        )
    for name, t in report["tables"].items():
        loads = report["loads"].get(name, {})
        rates = [(p["null_rate"] or 0, c) for c, p in t["columns"].items()]
        rate, col = max(rates) if rates else (0, "")
        table.add_row(
            name,
            f"{t['rows']:,}",
            str(t.get("latest") or "")[:19],
            f"{col} {rate:.1%}" if rate else "",
            f"{loads.get('duplicates_removed', 0):,}",
            f"{loads.get('quarantined', 0):,}",
        )
    out.print(table)
    if report["quarantine"]:
        reasons = Table(title="quarantine by reason")
        for col in ("table", "reason", "field", "rows"):
            reasons.add_column(col, justify="right" if col == "rows" else "left")
        for q in report["quarantine"]:
            reasons.add_row(q["table"], q["reason"], q["field"] or "", f"{q['rows']:,}")
        out.print(reasons)
    out.print(f"report: {html}")


def build_quality(
    project: Path | None, out_dir: Path | None = None
) -> tuple[dict[str, Any], Path, Path]:
    root, settings = settings_for(project)
    with open_warehouse(project, read_only=True) as wh:
        report = quality_report(wh)
    html, js = write_quality_report(report, out_dir or settings.reports_dir(root))
    return report, html, js


@command
def quality(
    out_dir: ReportDirOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the data-quality summary and write it as HTML (with charts) and JSON."""
    report, html, js = build_quality(project, out_dir)
    emit(
        as_json,
        {"html": str(html), "json": str(js), "report": report},
        lambda: print_quality(report, html),
    )
