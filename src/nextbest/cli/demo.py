"""``nextbest demo``: the whole loop on a synthetic store."""

from __future__ import annotations

import time
from typing import Annotated

import typer

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
from nextbest.cli.data import print_ingest
from nextbest.cli.quality import build_quality, print_quality
from nextbest.features import default_as_of
from nextbest.features.store import save_snapshot
from nextbest.ingest import ingest
from nextbest.synth import generate, write_store

LARGE_CUSTOMERS = 100_000


@command
def demo(
    customers: Annotated[
        int | None,
        typer.Option(min=1, help="Customers in the store (default from settings: 2000)."),
    ] = None,
    days: Annotated[int | None, typer.Option(min=7, help="Days of history.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    large: Annotated[
        bool,
        typer.Option("--large", help=f"A large store: {LARGE_CUSTOMERS:,} customers, ~10M events."),
    ] = False,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a synthetic store, ingest it, report its quality, build features and segments."""
    # scikit-learn and matplotlib load only for the commands that use them
    from nextbest.segments.report import write_segment_report
    from nextbest.segments.run import run_segmentation

    root, settings = settings_for(project)
    n = LARGE_CUSTOMERS if large else customers or settings.synth.customers
    data_dir = root / ".nextbest" / "demo-data"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with progress_bar("synth") as tick:
        store = generate(
            customers=n,
            days=days or settings.synth.days,
            seed=settings.synth.seed if seed is None else seed,
            start=settings.synth.start,
            progress=tick,
        )
        write_store(store, data_dir, fmt="parquet")
    timings["synth"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with open_warehouse(root) as wh, progress_bar("ingest") as tick:
        report = ingest(wh, data_dir, settings=settings.ingest, progress=tick)
    timings["ingest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    quality, html, js = build_quality(root)
    timings["quality"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with open_warehouse(root) as wh:
        as_of = default_as_of(wh)
        snapshot_rows = save_snapshot(wh, as_of, settings.features)
        timings["features"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        segments, result = run_segmentation(wh, as_of, settings)
    seg_html, _ = write_segment_report(segments, result, settings.reports_dir(root))
    timings["segments"] = time.perf_counter() - t0

    def render() -> None:
        out.print(f"synthetic store: {n:,} customers in {data_dir} ({timings['synth']:.1f} s)")
        print_ingest(report)
        print_quality(quality, html)
        out.print(
            f"features: {snapshot_rows:,} customers as of {as_of} ({timings['features']:.1f} s); "
            "see one with: nextbest features show CUSTOMER_ID"
        )
        personas = ", ".join(f"{p.name} ({p.size:,})" for p in result.personas)
        out.print(f"segments: {result.k} personas: {personas}")
        out.print(f"segment report: {seg_html}")

    emit(
        as_json,
        {
            "project": str(root),
            "data": str(data_dir),
            "customers": n,
            "ingest": report.to_dict(),
            "quality_html": str(html),
            "quality_json": str(js),
            "features": {"as_of": as_of.isoformat(), "customers": snapshot_rows},
            "segments": {
                "html": str(seg_html),
                "k": result.k,
                "rfm_segments": segments["rfm_segments"],
            },
            "seconds": {k: round(v, 2) for k, v in timings.items()},
        },
        render,
    )
