"""Data commands: ``synth``, ``ingest`` and ``quarantine``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nextbest.cli.common import (
    JsonOpt,
    ProjectOpt,
    command,
    emit,
    open_warehouse,
    out,
    progress_bar,
    settings_for,
)
from nextbest.ingest import IngestReport
from nextbest.ingest import ingest as ingest_source
from nextbest.synth import generate, spoil, write_store


class Format(StrEnum):
    parquet = "parquet"
    csv = "csv"


@command
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the store into.")],
    customers: Annotated[
        int | None, typer.Option(min=1, help="Number of customers [default: settings, 2000].")
    ] = None,
    days: Annotated[int | None, typer.Option(min=7, help="Days of history [default: 365].")] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Random seed: the same seed gives the same data [default: 42]."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First day of the history, YYYY-MM-DD [default: 2025-01-01].")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="File format.")] = Format.parquet,
    dirty: Annotated[
        bool, typer.Option("--dirty", help="Inject the faults real exports have, and list them.")
    ] = False,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a realistic synthetic store in the canonical layout (plus its hidden truth)."""
    _, settings = settings_for(project)
    conf = settings.synth
    customers = customers or conf.customers
    days = days or conf.days
    seed = conf.seed if seed is None else seed
    start = start or conf.start
    with progress_bar("synth") as tick:
        store = generate(customers=customers, days=days, seed=seed, start=start, progress=tick)
        spoiled = None
        if dirty:
            store, spoiled = spoil(store, seed=seed)
        paths = write_store(store, out_dir, fmt=fmt.value, spoiled=spoiled)
    rows = {name: t.num_rows for name, t in store.tables.items()}
    payload = {
        "out": str(out_dir),
        "format": fmt.value,
        "rows": rows,
        "files": {k: str(v) for k, v in paths.items()},
        "spoiled": None if spoiled is None else spoiled.num_rows,
    }

    def render() -> None:
        table = Table(title=f"synthetic store in {out_dir}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in rows.items():
            table.add_row(name, f"{n:,}")
        out.print(table)
        if spoiled is not None:
            out.print(f"spoiled {spoiled.num_rows:,} rows, listed in {out_dir}/_truth/spoiled.csv")

    emit(as_json, payload, render)


def print_ingest(report: IngestReport) -> None:
    table = Table(title=f"load {report.load_id} ({report.seconds:.1f} s)")
    for col in ("table", "read", "loaded", "duplicates", "quarantined", "reasons"):
        table.add_column(col, justify="left" if col in ("table", "reasons") else "right")
    for t in report.tables.values():
        reasons = ", ".join(f"{k}: {v:,}" for k, v in sorted(t.reasons.items()))
        table.add_row(
            t.table,
            f"{t.read:,}",
            f"{t.loaded:,}",
            f"{t.duplicates:,}",
            f"{t.quarantined:,}",
            reasons,
        )
    out.print(table)
    if report.totals["quarantined"]:
        out.print("see the quarantined rows with: nextbest quarantine")


@command
def ingest(
    source: Annotated[
        Path, typer.Argument(help="A file, an SQLite database, or a canonical folder.")
    ],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping YAML (see examples/).")
    ] = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a source into the warehouse: map, validate, quarantine bad rows, skip duplicates."""
    _, settings = settings_for(project)
    with open_warehouse(project) as wh, progress_bar("ingest") as tick:
        report = ingest_source(wh, source, mapping, settings=settings.ingest, progress=tick)
    emit(as_json, report.to_dict(), lambda: print_ingest(report))


@command
def quarantine(
    table: Annotated[
        str | None, typer.Option("--table", help="Only rows meant for this table.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 20,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show quarantined rows: table, source file and line, reason, field and raw record."""
    with open_warehouse(project, read_only=True) as wh:
        q = wh.table("_quarantine")
        if table:
            q = q.filter(q.target == table)
        total = int(wh.execute(q.count()))
        rows = wh.execute(q.order_by(["source", "line"]).limit(limit)).to_dict("records")
    payload = {"total": total, "rows": rows}

    def render() -> None:
        title = f"quarantine: {total:,} rows" + (f" (first {limit})" if total > limit else "")
        view = Table(title=title, expand=True)
        for col in ("table", "source:line", "reason", "field", "detail", "record"):
            view.add_column(col, overflow="fold", ratio=3 if col in ("detail", "record") else 2)
        for r in rows:
            view.add_row(
                r["target"],
                f"{Path(r['source']).name}:{r['line']}",
                r["reason"],
                r["field"] if isinstance(r["field"], str) else "",
                r["detail"] or "",
                (r["record"] or "")[:120],
            )
        out.print(view)

    emit(as_json, payload, render)
