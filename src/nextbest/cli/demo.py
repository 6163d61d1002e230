"""``nextbest demo``: the whole loop on a synthetic store."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any

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
    step_counter,
)
from nextbest.cli.data import print_ingest
from nextbest.cli.quality import build_quality, print_quality
from nextbest.config import Settings
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
    trials: Annotated[
        int, typer.Option("--trials", help="Search trials per model (a short search).")
    ] = 8,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a synthetic store, ingest it, report its quality, build features and
    segments, train churn and purchase models, score every customer and write
    everyone's recommendations."""
    # scikit-learn and matplotlib load only for the commands that use them
    from nextbest.models.recommend.batch import build_recommendations
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
    t0 = time.perf_counter()
    history = days or settings.synth.days
    trained, scored = _models(root, settings, as_of, history, trials, as_json)
    timings["models"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with open_warehouse(root) as wh, progress_bar("recommend", quiet=as_json) as bar:
        recs = build_recommendations(
            wh,
            as_of,
            settings.recommend,
            progress=step_counter(bar, 4),
            models_dir=settings.models_dir(root),
        )
        sample = wh.to_pandas(
            wh.table("recommendations").filter(lambda t: t.path == "personal").limit(1)
        )
    timings["recommend"] = time.perf_counter() - t0

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
        for r in trained:
            v = r.version
            out.print(
                f"model {v.name} v{v.version}: ROC-AUC {r.metrics['roc_auc']:.3f} "
                f"(logistic baseline {r.baseline['roc_auc']:.3f}); report: {r.report}"
            )
        out.print(
            f"scores: {scored.rows:,} rows in table `scores` ({timings['models']:.1f} s "
            "for training and scoring); see: nextbest models list"
        )
        paths = ", ".join(f"{c:,} {p}" for p, c in sorted(recs.paths.items()))
        out.print(
            f"recommendations: {recs.rows:,} rows in table `recommendations` ({paths}; "
            f"{timings['recommend']:.1f} s)"
            + (f"; see one: nextbest recommend show {sample.customer_id[0]}" if len(sample) else "")
        )

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
            "models": [r.as_dict() for r in trained],
            "scores": scored.as_dict(),
            "recommendations": recs.as_dict(),
            "seconds": {k: round(v, 2) for k, v in timings.items()},
        },
        render,
    )


def _models(
    root: Path, settings: Settings, as_of: dt.datetime, days: int, trials: int, quiet: bool
) -> tuple[list, Any]:
    """Train the churn and purchase models on the demo store, then score everyone.

    The horizon shrinks (to a week at least) when the store's history is too short
    for the configured cutoffs.
    """
    from nextbest.features.labels import Target
    from nextbest.models.registry import ModelRegistry
    from nextbest.models.score import score_warehouse
    from nextbest.models.train import TrainOptions, train

    ts = settings.training
    registry = ModelRegistry(settings.models_dir(root), num_threads=settings.models.threads)
    windows = min(ts.windows, 3)
    horizon = max(7, min(ts.horizon_days, days // (windows + 1)))
    options = TrainOptions(
        windows=windows,
        trials=trials,
        threads=settings.models.threads,
        seed=ts.seed,
        as_of=as_of,
    )
    trained = []
    snapshots: dict[dt.datetime, Any] = {}  # both targets use the same cutoffs
    with open_warehouse(root) as wh:
        for kind in ("churn", "purchase"):
            with progress_bar(f"train {kind}", quiet=quiet) as tick:
                step = step_counter(tick, options.steps)
                goal = Target(kind, horizon_days=horizon, active_days=ts.active_days)  # type: ignore[arg-type]
                trained.append(
                    train(
                        wh,
                        registry,
                        goal,
                        options,
                        feature_settings=settings.features,
                        report_dir=settings.reports_dir(root),
                        progress=step,
                        snapshots=snapshots,
                    )
                )
        scored = score_warehouse(wh, registry, as_of, settings.features)
    return trained, scored
