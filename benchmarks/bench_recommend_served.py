"""What the served recommender is worth: the lists `nextbest recommend build` writes, scored.

    .venv/bin/python benchmarks/bench_recommend_served.py [--customers 10000] [--days 365]
        [--seed 0] [--calls 3000] [--work DIR] [--reuse]

A synthetic store is generated and ingested (not timed). The serving recommender is
fitted from the warehouse exactly as ``nextbest recommend build`` fits it, but on the
data before the last 28 days (``test_cut``), twice: with the re-ranker
(``recommend.ranker``, the default) and with EASE alone (``enabled: false``). Both
serve top-10 to every customer in the test truth (products a customer with history
touched for the first time in those 28 days, as ``nextbest recommend evaluate`` cuts
it), with every business rule applied and ``recommend.rules.exclude: interacted``: the
truth holds only products new to the customer, so both leave out what the customer
touched (by default viewed products may come back, and EASE alone would offer many);
the table gives NDCG@10 and Recall@10 with a
paired bootstrap interval of the difference, the fit time and the latency of one
customer online (in-process, a random product of the catalogue as the session, for
``--calls`` random customers with history). The ranker's own settings (candidates,
rounds, learning rate) are the defaults, fixed before this benchmark; it chooses its
rounds on a held-out fifth of its training customers, never on the test period.

Each variant runs in its own process; peak RSS is that process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from pathlib import Path

import numpy as np
from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

from nextbest.warehouse import Warehouse

K = 10
DAYS = 28.0


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    work = Path(args.work)
    return work / "w.duckdb", work / "end.txt"


def stage_prepare(args: argparse.Namespace) -> dict:
    from nextbest.ingest import ingest
    from nextbest.synth import generate, write_store

    db, end_file = _paths(args)
    shutil.rmtree(args.work, ignore_errors=True)
    store = generate(customers=args.customers, days=args.days, seed=args.seed)
    write_store(store, Path(args.work) / "store")
    with Warehouse(db, threads=args.threads) as wh:
        ingest(wh, Path(args.work) / "store")
    end = dt.datetime.fromisoformat(store.start) + dt.timedelta(days=args.days)
    end_file.write_text(end.isoformat())
    return {}


def _variant(args: argparse.Namespace, ranker: bool) -> dict:
    from nextbest.config import RankerSettings, RecommendRules, RecommendSettings
    from nextbest.models.recommend.batch import fit_engine
    from nextbest.models.recommend.holdout import warehouse_holdout

    db, end_file = _paths(args)
    end = dt.datetime.fromisoformat(end_file.read_text())
    settings = RecommendSettings(
        ranker=RankerSettings(enabled=ranker), rules=RecommendRules(exclude="interacted")
    )
    with Warehouse(db, read_only=True, threads=args.threads) as wh:
        holdout = warehouse_holdout(wh, as_of=end, holdout_days=DAYS)
        t0 = time.perf_counter()
        engine, _ = fit_engine(wh, holdout.test_cut, settings)
        fit_s = time.perf_counter() - t0
    truth = {str(u): sorted(map(str, v)) for u, v in holdout.test_truth.items()}
    t0 = time.perf_counter()
    recs = engine.recommend_many(list(truth), K)
    serve_s = time.perf_counter() - t0
    lists = {u: g["product_id"].tolist() for u, g in recs.groupby("customer_id", sort=False)}
    rng = np.random.default_rng(0)
    who = rng.choice(engine.users_, size=args.calls)
    what = rng.choice(engine.items_, size=args.calls)
    for c, p in zip(who[:100], what[:100], strict=True):  # warm up
        engine.recommend(c, K, context={"products": [p]})
    ms = np.empty(args.calls)
    for i, (c, p) in enumerate(zip(who, what, strict=True)):
        t = time.perf_counter()
        engine.recommend(c, K, context={"products": [p]})
        ms[i] = (time.perf_counter() - t) * 1000
    return {
        "lists": lists,
        "truth": truth,
        "fit_s": fit_s,
        "serve_s": serve_s,
        "ranker": engine.ranker_info_,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def stage_ranker(args: argparse.Namespace) -> dict:
    return _variant(args, True)


def stage_ease(args: argparse.Namespace) -> dict:
    return _variant(args, False)


STAGES = {"prepare": stage_prepare, "ranker": stage_ranker, "ease": stage_ease}


def main() -> None:
    from nextbest.evaluation.bootstrap import paired_bootstrap
    from nextbest.evaluation.ranking import ranking_metrics

    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-served")
    parser.set_defaults(customers=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--reuse", action="store_true", help="keep an existing prepared store")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    console = Console()
    db, end_file = _paths(args)
    if not (args.reuse and db.exists() and end_file.exists()):
        with console.status("preparing the store ..."):
            run_stage(__file__, "prepare", args)
    results = {}
    for name in ("ease", "ranker"):
        with console.status(f"{name} ..."):
            results[name] = run_stage(__file__, name, args)
    truth = {u: set(v) for u, v in results["ease"]["truth"].items()}
    metrics = {n: ranking_metrics(r["lists"], truth, K) for n, r in results.items()}
    table = Table(title=f"served lists on the last {DAYS:.0f} days ({len(truth):,} customers)")
    for col in ("served", "NDCG@10", "R@10", "vs EASE (NDCG)", "fit s", "online p50 / p99 ms"):
        table.add_column(col)
    summary = {}
    for name, r in results.items():
        m = metrics[name]
        diff = ""
        if name != "ease":
            d = paired_bootstrap(metrics["ease"].per_user("ndcg"), m.per_user("ndcg"), seed=0)
            diff = f"{d.difference:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"
            dr = paired_bootstrap(metrics["ease"].per_user("recall"), m.per_user("recall"), seed=0)
            summary["recall_vs_ease"] = [dr.difference, dr.low, dr.high]
            summary["ndcg_vs_ease"] = [d.difference, d.low, d.high]
        table.add_row(
            "EASE and rules" if name == "ease" else "re-ranker and rules",
            f"{m['ndcg']:.4f}",
            f"{m['recall']:.4f}",
            diff,
            f"{r['fit_s']:.1f} (peak {r['peak_mb']:,.0f} MB)",
            f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}",
        )
        summary[name] = {
            "ndcg": m["ndcg"],
            "recall": m["recall"],
            "fit_s": r["fit_s"],
            "serve_s": r["serve_s"],
            "p50_ms": r["p50_ms"],
            "p99_ms": r["p99_ms"],
            "ranker": r["ranker"],
        }
    console.print(table)
    console.print(json.dumps(summary["ranker"]["ranker"]))
    (Path(args.work) / "served.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
