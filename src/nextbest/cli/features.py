"""``nextbest features``: build, show and list customer features."""

from __future__ import annotations

import datetime as dt
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
    settings_for,
)
from nextbest.errors import NextBestError, NotFoundError
from nextbest.features import REGISTRY, Context, default_as_of
from nextbest.features.incremental import Update, update_snapshot
from nextbest.features.store import list_snapshots, load_snapshot, save_snapshot

app = typer.Typer(help="Customer features: point-in-time snapshots.", no_args_is_help=True)

AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Only data strictly before this moment (YYYY-MM-DD or ISO timestamp, UTC). "
        "Default: midnight after the latest data.",
        show_default=False,
    ),
]


def parse_as_of(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise NextBestError(
            f"cannot read {text!r} as a date or timestamp",
            field="--as-of",
            hint="Use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.",
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@app.command("build")
@command
def build(
    as_of: AsOfOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute from all data, not from the stored state.")
    ] = False,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute one feature row per customer from data before --as-of and store it.

    When the snapshot of an earlier midnight left its state behind, only the data
    since then is read (an incremental update); otherwise every row is.
    """
    _, settings = settings_for(project)
    with open_warehouse(project) as wh:
        when = parse_as_of(as_of) or default_as_of(wh)
        if settings.features.incremental:
            result = update_snapshot(wh, when, settings.features, full=full)
        else:
            rows = save_snapshot(wh, when, settings.features)
            result = Update(when, rows, "full", None, "features.incremental is off")
    n_features = len(REGISTRY.declared(Context.empty(when, settings.features)))
    how = (
        f"incremental from {result.since}"
        if result.mode == "incremental"
        else f"full: {result.reason}"
    )
    emit(
        as_json,
        {**result.as_dict(), "customers": result.rows, "features": n_features},
        lambda: out.print(
            f"snapshot as of {when}: {result.rows:,} customers, {n_features} features ({how})"
        ),
    )


@app.command("show")
@command
def show(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    as_of: AsOfOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print one customer's stored features with each feature's description."""
    _, settings = settings_for(project)
    with open_warehouse(project, read_only=True) as wh:
        frame = load_snapshot(wh, parse_as_of(as_of), customer_id=customer)
    if frame.empty:
        raise NotFoundError(f"customer {customer!r} is not in the snapshot", field="CUSTOMER")
    row = frame.iloc[0].to_dict()
    when = row.pop("as_of")
    row.pop("customer_id")
    meta = {f.name: f for f in REGISTRY.declared(Context.empty(when, settings.features))}
    values = {k: (None if v != v else v) for k, v in row.items()}  # NaN -> None

    def render() -> None:
        table = Table(title=f"{customer} as of {when}")
        for col in ("feature", "value", "window", "description"):
            table.add_column(col, justify="right" if col == "value" else "left")
        for name, value in values.items():
            f = meta.get(name)
            if f is None and name.startswith("affinity_"):
                f = meta.get("affinity_<category>")
            shown = (
                "" if value is None else f"{value:,.3f}" if isinstance(value, float) else str(value)
            )
            table.add_row(name, shown, f.window if f else "", f.description if f else "")
        out.print(table)

    emit(as_json, {"customer_id": customer, "as_of": str(when), "features": values}, render)


@app.command("list")
@command
def list_features(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """The feature registry (name, family, type, window, description) and stored snapshots."""
    _, settings = settings_for(project)
    features = REGISTRY.declared(Context.empty(settings=settings.features))
    with open_warehouse(project) as wh:
        stored = list_snapshots(wh)

    def render() -> None:
        table = Table(title=f"{len(features)} features")
        for col in ("feature", "family", "type", "window", "description"):
            table.add_column(col)
        for f in features:
            table.add_row(f.name, f.family, f.dtype, f.window, f.description)
        out.print(table)
        out.print("stored snapshots: " + (", ".join(str(s) for s in stored) or "none"))

    emit(
        as_json,
        {
            "features": [f.__dict__ for f in features],
            "snapshots": [s.isoformat() for s in stored],
        },
        render,
    )
