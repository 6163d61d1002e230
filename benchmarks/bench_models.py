"""Training and batch-scoring speed of the propensity models.

    python benchmarks/bench_models.py [--customers 100000] [--trials 20] [--score-rows 1000000]

1. A synthetic store (default 100,000 customers, a year, about 10M events) is
   generated and ingested (not timed; ``--reuse`` keeps an earlier one).
2. ``train``: the churn model as ``nextbest train churn`` builds it, timed whole:
   snapshots and outcomes at 3 training cutoffs and the evaluation cutoff, an Optuna
   search of ``--trials`` trials over rolling-origin folds, out-of-time calibration
   and threshold on the last training cutoff, the rolling-origin backtest, the
   logistic baseline, global importance, the report and registration, with
   ``--threads`` threads for the engine and LightGBM.
3. ``score``: the champion scores ``--score-rows`` customers (the latest snapshot
   repeated with new ids) with its top three reason codes, timed without the
   snapshot read.

Each stage runs in its own process; peak memory is that process's.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table


def stage_prepare(args: argparse.Namespace) -> dict:
    from nextbest.ingest import ingest
    from nextbest.synth import generate, write_store
    from nextbest.warehouse import Warehouse

    work = Path(args.work)
    write_store(generate(customers=args.customers, days=args.days, seed=1), work / "store")
    with Warehouse(work / "warehouse.duckdb") as wh:
        ingest(wh, work / "store")
    shutil.rmtree(work / "store")
    return {"seconds": 0.0}


def stage_train(args: argparse.Namespace) -> dict:
    from nextbest.features.labels import Target
    from nextbest.models.registry import ModelRegistry
    from nextbest.models.train import TrainOptions, train
    from nextbest.warehouse import Warehouse

    work = Path(args.work)
    shutil.rmtree(work / "models", ignore_errors=True)
    t0 = time.perf_counter()
    with Warehouse(work / "warehouse.duckdb", read_only=True, threads=args.threads) as wh:
        result = train(
            wh,
            ModelRegistry(work / "models"),
            Target("churn"),
            TrainOptions(trials=args.trials, windows=3, threads=args.threads),
            report_dir=work / "reports",
        )
    return {
        "seconds": time.perf_counter() - t0,
        "rows": result.rows["train"],
        "search_seconds": result.search.get("seconds", 0.0),
        "roc_auc": result.metrics["roc_auc"],
        "baseline_roc_auc": result.baseline["roc_auc"],
    }


def stage_score(args: argparse.Namespace) -> dict:
    import pandas as pd

    from nextbest.features import build_snapshot, default_as_of
    from nextbest.models.registry import ModelRegistry
    from nextbest.models.score import score_frame
    from nextbest.warehouse import Warehouse

    work = Path(args.work)
    registry = ModelRegistry(work / "models")
    version = registry.champion("churn")
    assert version is not None, "run the train stage first"
    model = registry.load("churn")
    with Warehouse(work / "warehouse.duckdb", read_only=True, threads=args.threads) as wh:
        snapshot = wh.to_pandas(build_snapshot(wh, default_as_of(wh)))
    copies = -(-args.score_rows // len(snapshot))
    frame = pd.concat(
        [snapshot.assign(customer_id=snapshot.customer_id + f"-{i}") for i in range(copies)],
        ignore_index=True,
    ).iloc[: args.score_rows]
    t0 = time.perf_counter()
    scores = score_frame(model, version, frame)
    seconds = time.perf_counter() - t0
    assert scores.reason_1.str.len().gt(0).mean() > 0.5
    return {"seconds": seconds, "rows": len(scores)}


STAGES = {"prepare": stage_prepare, "train": stage_train, "score": stage_score}


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-models")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--score-rows", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep an existing prepared store")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    console = Console()
    work = Path(args.work)
    if not (args.reuse and (work / "warehouse.duckdb").exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        with console.status("generating and ingesting the store ..."):
            run_stage(__file__, "prepare", args)
    with console.status(f"training churn with a {args.trials}-trial search ..."):
        trained = run_stage(__file__, "train", args)
    with console.status(f"scoring {args.score_rows:,} customers with reasons ..."):
        scored = run_stage(__file__, "score", args)
    table = Table(title=f"models on {args.customers:,} customers ({args.threads} DuckDB threads)")
    for col in ("stage", "rows", "seconds", "peak RSS MB", "target"):
        table.add_column(col, justify="left" if col in ("stage", "target") else "right")
    table.add_row(
        f"train churn, {args.trials} trials (search {trained['search_seconds']:.0f} s)",
        f"{trained['rows']:,}",
        f"{trained['seconds']:.1f}",
        f"{trained['peak_mb']:,.0f}",
        "<= 180 s",
    )
    table.add_row(
        "score with 3 reason codes",
        f"{scored['rows']:,}",
        f"{scored['seconds']:.1f}",
        f"{scored['peak_mb']:,.0f}",
        "<= 60 s",
    )
    console.print(table)
    console.print(
        f"churn ROC-AUC {trained['roc_auc']:.3f} (logistic {trained['baseline_roc_auc']:.3f})"
    )


if __name__ == "__main__":
    main()
