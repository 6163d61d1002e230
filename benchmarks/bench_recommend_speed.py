"""Recommender speed: training, the batch run for every customer, one customer online.

    .venv/bin/python benchmarks/bench_recommend_speed.py [--customers 100000] [--days 365]
        [--train-customers 16000] [--calls 20000] [--work DIR] [--reuse]

1. Two synthetic stores are generated and ingested (not timed): ``--train-customers``
   (about a million interactions: product views, add-to-carts and order lines) and
   ``--customers`` (the batch size).
2. ``train``: the serving recommender fitted from the warehouse of the small store
   (reading the interactions, order lines and catalogue; the re-ranker learnt on the
   last ``recommend.ranker.holdout_days`` and its candidates refitted, EASE,
   co-occurrence, popularity, rules), as ``nextbest recommend build`` does before it
   serves.
   ``ranker``: on the same store, the LightGBM re-ranker learnt the way
   ``nextbest recommend evaluate`` learns it, with fixed generator settings (no
   search): EASE with a decayed profile, co-occurrence, item-kNN, ALS, transitions
   and popularity propose ``shortlist_size`` candidates each (a tenth of the
   catalogue, between 20 and 50, as the evaluation does), customer features are read at the
   cutoff, the ranker learns on the last 28 days' new products and its candidates
   are refitted on all data.
3. ``batch``: the same on the large store, then top-10 for every customer
   (``recommend_many``), then the whole ``build_recommendations`` (fit, serve, write
   the table, save the engine).
4. ``online``: the saved engine of the large store answers ``--calls`` single
   requests in-process, each for a random customer (warm and cold as they come)
   with a random product of the catalogue as the session context; p50/p99/max.

Each stage runs in its own process; peak RSS is that process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

from nextbest.warehouse import Warehouse

K = 10


def _store(work: Path, name: str) -> Path:
    return work / name / "warehouse.duckdb"


def _as_of(work: Path, name: str) -> dt.datetime:
    return dt.datetime.fromisoformat((work / name / "as_of.txt").read_text().strip())


def stage_prepare(args: argparse.Namespace) -> dict:
    from nextbest.features import default_as_of
    from nextbest.ingest import ingest
    from nextbest.synth import generate, write_store

    work = Path(args.work)
    for name, n in (("train", args.train_customers), ("batch", args.customers)):
        folder = work / name
        write_store(generate(customers=n, days=args.days, seed=2), folder / "store")
        with Warehouse(folder / "warehouse.duckdb") as wh:
            ingest(wh, folder / "store")
            (folder / "as_of.txt").write_text(default_as_of(wh).isoformat())
        shutil.rmtree(folder / "store")
    return {}


def _settings(args: argparse.Namespace) -> Any:
    """The default recommend settings, or EASE alone with ``--ranker 0``."""
    from nextbest.config import RankerSettings, RecommendSettings

    return RecommendSettings(ranker=RankerSettings(enabled=bool(args.ranker)))


def _fit(args: argparse.Namespace, name: str) -> tuple[dict, object, list]:
    work, threads = Path(args.work), args.threads
    from nextbest.models.recommend.batch import fit_engine
    from nextbest.models.recommend.source import interaction_events

    with Warehouse(_store(work, name), read_only=True, threads=threads) as wh:
        events = int(wh.execute(interaction_events(wh, None, as_of=_as_of(work, name)).count()))
        t0 = time.perf_counter()
        engine, customers = fit_engine(wh, _as_of(work, name), _settings(args))
        seconds = time.perf_counter() - t0
    info = {
        "interactions": events,
        "pairs": int(engine.profile_.nnz),  # type: ignore[attr-defined]
        "items": len(engine.items_),  # type: ignore[attr-defined]
        "fit_s": seconds,
    }
    return info, engine, customers


def stage_train(args: argparse.Namespace) -> dict:
    info, _, customers = _fit(args, "train")
    return {**info, "customers": len(customers)}


def stage_ranker(args: argparse.Namespace) -> dict:
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from nextbest.models.recommend import (
        ALS,
        EASE,
        CandidateRanker,
        CoOccurrence,
        ItemKNN,
        Popularity,
        Transitions,
        customer_features,
        product_context,
        shortlist_size,
        warehouse_holdout,
    )

    work = Path(args.work)
    with Warehouse(_store(work, "train"), read_only=True, threads=args.threads) as wh:
        t0 = time.perf_counter()
        holdout = warehouse_holdout(wh, _as_of(work, "train"), 28.0)
        groups, prices = product_context(wh)
        users_fit = customer_features(wh, holdout.validation_cut)
        users_test = customer_features(wh, holdout.test_cut)
        read = time.perf_counter() - t0
    generators = {
        "ease": EASE(l2=200.0, half_life=0.05, decay_by="share"),
        "cooccurrence": CoOccurrence("jaccard"),
        "itemknn": ItemKNN(neighbors=100, shrinkage=20.0),
        "als": ALS(factors=32, regularization=20.0, alpha=2.0),
        "transitions": Transitions(),
        "popularity": Popularity(),
    }
    t0 = time.perf_counter()
    ranker = CandidateRanker(
        generators,
        n_candidates=shortlist_size(holdout.fit.n_items),
        item_features=prices,
        price_column="price",
        item_groups=groups,
        user_features=users_fit,
        threads=args.threads,
    ).fit(holdout.fit, holdout.validation_truth)
    learn = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranker.refit_candidates(holdout.train, user_features=users_test)
    refit = time.perf_counter() - t0
    return {
        "interactions": len(holdout.train.log),
        "read_s": read,
        "learn_s": learn,
        "refit_s": refit,
        "rounds": ranker.n_estimators_,
        "queries": ranker.training_queries_,
        "candidates": ranker.n_candidates,
    }


def stage_batch(args: argparse.Namespace) -> dict:
    from nextbest.models.recommend.batch import build_recommendations

    work = Path(args.work)
    info, engine, customers = _fit(args, "batch")
    t0 = time.perf_counter()
    recs = engine.recommend_many(customers, K)  # type: ignore[attr-defined]
    serve = time.perf_counter() - t0
    paths = recs.drop_duplicates("customer_id")["path"].value_counts().to_dict()
    with Warehouse(_store(work, "batch"), threads=args.threads) as wh:
        t0 = time.perf_counter()
        build_recommendations(
            wh, _as_of(work, "batch"), _settings(args), k=K, models_dir=work / "models"
        )
        build = time.perf_counter() - t0
    return {
        **info,
        "customers": len(customers),
        "rows": len(recs),
        "serve_s": serve,
        "build_s": build,
        "paths": {str(p): int(n) for p, n in paths.items()},
    }


def stage_online(args: argparse.Namespace) -> dict:
    from nextbest.models.recommend.batch import engine_path
    from nextbest.models.recommend.engine import RecommendEngine

    work = Path(args.work)
    engine = RecommendEngine.load(engine_path(work / "models"))
    with Warehouse(_store(work, "batch"), read_only=True) as wh:
        ids = wh.to_pandas(wh.table("customers").select("customer_id"))["customer_id"]
    rng = np.random.default_rng(0)
    who = rng.choice(ids.astype(str).to_numpy(), size=args.calls)
    what = rng.choice(engine.items_, size=args.calls)
    for c, p in zip(who[:200], what[:200], strict=True):  # warm up
        engine.recommend(c, K, context={"products": [p]})
    out = {}
    for label, with_context in (("context", True), ("plain", False)):
        times = np.empty(args.calls)
        for i, (c, p) in enumerate(zip(who, what, strict=True)):
            ctx = {"products": [p]} if with_context else None
            t0 = time.perf_counter()
            engine.recommend(c, K, context=ctx)
            times[i] = time.perf_counter() - t0
        ms = times * 1000
        out[label] = {
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()),
        }
    return {"calls": args.calls, "items": len(engine.items_), **out}


STAGES = {
    "prepare": stage_prepare,
    "train": stage_train,
    "ranker": stage_ranker,
    "batch": stage_batch,
    "online": stage_online,
}


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-recommend-speed")
    parser.add_argument("--train-customers", type=int, default=16_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--ranker", type=int, choices=(0, 1), default=1, help="0: serve EASE alone")
    parser.add_argument("--reuse", action="store_true", help="keep existing prepared stores")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    console = Console()
    work = Path(args.work)
    if not (args.reuse and (work / "batch" / "as_of.txt").exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        with console.status("generating and ingesting the stores ..."):
            run_stage(__file__, "prepare", args)
    with console.status("training ..."):
        train = run_stage(__file__, "train", args)
    with console.status("ranker ..."):
        ranker = run_stage(__file__, "ranker", args)
    with console.status("batch ..."):
        batch = run_stage(__file__, "batch", args)
    with console.status("online ..."):
        online = run_stage(__file__, "online", args)

    table = Table(title="Recommender speed (this machine)")
    for col in ("stage", "size", "seconds", "peak RSS MB", "target"):
        table.add_column(col, justify="left" if col in ("stage", "size", "target") else "right")
    table.add_row(
        "train (read + fit)",
        f"{train['interactions']:,} interactions, {train['items']:,} products",
        f"{train['fit_s']:.1f}",
        f"{train['peak_mb']:,.0f}",
        "<= 60 s",
    )
    total = ranker["read_s"] + ranker["learn_s"] + ranker["refit_s"]
    table.add_row(
        "train the re-ranker (read + learn + refit)",
        f"{ranker['interactions']:,} interactions, {ranker['queries']:,} queries, "
        f"{ranker['candidates']} candidates per generator",
        f"{total:.1f} ({ranker['read_s']:.1f} + {ranker['learn_s']:.1f} + {ranker['refit_s']:.1f})",
        f"{ranker['peak_mb']:,.0f}",
        "<= 60 s",
    )
    table.add_row(
        "fit, large store",
        f"{batch['interactions']:,} interactions, {batch['items']:,} products",
        f"{batch['fit_s']:.1f}",
        "",
        "",
    )
    table.add_row(
        "batch top-10 (serve)",
        f"{batch['customers']:,} customers",
        f"{batch['serve_s']:.1f}",
        f"{batch['peak_mb']:,.0f}",
        "<= 60 s",
    )
    table.add_row(
        "build (fit + serve + write)", f"{batch['rows']:,} rows", f"{batch['build_s']:.1f}", "", ""
    )
    for label in ("context", "plain"):
        o = online[label]
        table.add_row(
            f"online, {'with a session product' if label == 'context' else 'no context'}",
            f"{online['calls']:,} calls",
            f"p50 {o['p50_ms']:.2f} ms, p99 {o['p99_ms']:.2f} ms, max {o['max_ms']:.1f} ms",
            f"{online['peak_mb']:,.0f}",
            "p99 <= 2 ms" if label == "context" else "",
        )
    console.print(table)
    console.print(f"paths served in the batch: {batch['paths']}")


if __name__ == "__main__":
    main()
