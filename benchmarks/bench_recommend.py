"""Recommender quality: every candidate generator beside popularity, on MovieLens and a store.

    .venv/bin/python benchmarks/bench_recommend.py [--only movielens|synth] [--k 10]
        [--customers 10000] [--days 365] [--seed 0] [--n-boot 1000]
        [--data ../shared/data/movielens-latest-small]

1. MovieLens (skipped when the folder is absent): every user with at least 5 ratings
   has the last 20% of their ratings by time held out as test (ties by movie id);
   validation is cut the same way from each user's training part. All ratings count
   as implicit interactions; items a user rated in training are never recommended;
   held-out movies nobody rated in training stay in the truth as misses. Every
   generator's grid is fitted on the training part minus validation and scored on
   validation; the best by NDCG@k is refitted on the whole training part and scored
   once on test (grids and ranker: ``nextbest.models.recommend.offline``).
2. Synthetic store (``--customers``, ``--days``, ``--seed``): generated, ingested into
   a temporary warehouse; interactions are product views (1), add-to-carts (3) and
   order lines (5). Test: what customers touch in the last 28 days that they had not
   touched before; validation: the same for the 28 days before that, with the
   models fitted on the data before it. Customers without history before a cutoff
   are left out (cold start is served by popularity); see
   ``nextbest.models.recommend.holdout``. Besides accuracy, the
   recommendations are compared with the hidden category tastes: ``taste@k`` is the
   mean taste share of the recommended items' categories over every customer with
   history (1.0 would mean every item from a category the customer only likes), and
   ``fav@1`` the share of customers whose first item is from their favourite category.

Intervals are paired bootstrap 95% over users of the NDCG@k difference against
popularity. Each part also writes its HTML report (``recommend-movielens.html``,
``recommend-synthetic.html``, with JSON beside) into ``--work``. Each part runs in
its own process; peak RSS is that process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

from nextbest.ingest import ingest
from nextbest.models.recommend import (
    ContentSimilarity,
    Interactions,
    OfflineEvaluation,
    Recommender,
    compare_with_ranker,
    generator_grids,
    holdout_protocol,
    warehouse_holdout,
)
from nextbest.models.recommend.offline import METRICS, RANKER
from nextbest.models.recommend.report import evaluation_report, write_evaluation_report
from nextbest.models.recommend.source import DEFAULT_WEIGHTS
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
MOVIELENS = ROOT.parent / "shared" / "data" / "movielens-latest-small"
WINDOW_DAYS = 28


def _run(
    gens: dict,
    fit: Interactions,
    validation_truth: dict,
    train: Interactions,
    test_truth: dict,
    args: argparse.Namespace,
    **kwargs: Any,
) -> OfflineEvaluation:
    """Every generator tuned on validation and scored once on test, then the ranker over them.

    The ranker learns from the validation truth with the generators fitted on
    ``fit``; the generators are then refitted on ``train`` and the ranker scores
    test once. Compared with popularity and with the single generator best on
    validation.
    """
    return compare_with_ranker(
        gens,
        fit,
        validation_truth,
        train,
        test_truth,
        k=args.k,
        candidates=args.candidates,
        n_boot=args.n_boot,
        seed=args.seed,
        progress=_progress,
        **kwargs,
    )


def _write_report(result: OfflineEvaluation, args: argparse.Namespace, name: str) -> Path:
    """The evaluation's HTML report (and JSON) in the work folder."""
    html, _ = write_evaluation_report(evaluation_report(result), Path(args.work), name)
    return html


def _progress(step: str, done: int, total: int) -> None:
    print(f"  {step} ({done + 1}/{total})", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- MovieLens


def stage_movielens(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    folder = Path(args.data)
    ratings = pd.read_csv(folder / "ratings.csv")
    movies = pd.read_csv(folder / "movies.csv")
    protocol = holdout_protocol(ratings, "userId", "movieId", "timestamp")
    cols = ("userId", "movieId", "timestamp")
    fit = Interactions.from_frame(protocol.fit, *cols)
    train = Interactions.from_frame(protocol.train, *cols)
    gens = generator_grids(
        weighted=False,
        content=lambda **kw: ContentSimilarity(
            categorical=("genres",), price=None, text=("title",), id_column="movieId", **kw
        ),
    )
    genres = movies.set_index("movieId")["genres"].str.get_dummies("|")
    result = _run(
        gens,
        fit,
        protocol.validation_truth,
        train,
        protocol.test_truth,
        args,
        diversity_features=genres,
        fit_kwargs={"content": {"item_attributes": movies}},
    )
    latest = dt.datetime.fromtimestamp(int(ratings["timestamp"].max()), dt.UTC)
    result.protocol = {
        "description": (
            f"MovieLens latest-small: every user with at least 5 ratings has the last 20% "
            f"of their ratings by time held out as test (ties by movie id); validation is "
            f"cut the same way from each user's training part. All ratings are implicit "
            f"interactions; movies a user rated in training are never recommended; held-out "
            f"movies nobody rated in training stay in the truth as misses. Training: "
            f"{train.n_users:,} users, {train.n_items:,} movies, {len(train.log):,} ratings. "
            f"Each generator's full grid is fitted on the training part minus validation "
            f"and scored on validation; the best by NDCG@{args.k} is refitted on the whole "
            f"training part and scored once on test. The ranker re-scores the union of the "
            f"top {args.candidates} of every chosen generator, learns from the validation "
            f"truth and scores test once. Intervals: paired bootstrap 95% over users "
            f"({args.n_boot:,} resamples, seed {args.seed})."
        ),
        "as_of": latest.replace(tzinfo=None).isoformat(),
    }
    report = _write_report(result, args, "recommend-movielens")
    rows = result.rows
    return {
        "report": str(report),
        "summary": protocol.summary(),
        "users": int(train.n_users),
        "items": int(train.n_items),
        "rows": rows,
        "total_s": time.perf_counter() - t0,
    }


# ------------------------------------------------------------------------- synthetic store


def _taste_agreement(
    model: Recommender, x: Interactions, taste: pd.DataFrame, category: pd.Series, k: int
) -> dict[str, float]:
    items, _ = model.recommend(k=k)
    t = taste.reindex(x.users).to_numpy()
    cat_pos = {c: i for i, c in enumerate(taste.columns)}
    item_cat = np.array([cat_pos[c] for c in category.reindex(x.items).to_numpy()])
    chosen = item_cat[np.maximum(items, 0)]
    share = np.take_along_axis(t, chosen, axis=1)
    share = np.where(items >= 0, share, 0.0)
    return {
        "taste": float(share.mean()),
        "fav1": float(np.mean(chosen[:, 0] == t.argmax(axis=1))),
        "taste_max": float(t.max(axis=1).mean()),
    }


def stage_synth(args: argparse.Namespace) -> dict:
    work = Path(args.work) / "synth"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.perf_counter()
    store = generate(customers=args.customers, days=args.days, seed=args.seed)
    write_store(store, work / "store")
    out: dict[str, Any] = {}
    with Warehouse(work / "w.duckdb", threads=args.threads) as wh:
        ingest(wh, work / "store")
        out["setup_s"] = time.perf_counter() - t0
        end = dt.datetime.fromisoformat(store.start) + dt.timedelta(days=args.days)
        holdout = warehouse_holdout(wh, as_of=end, holdout_days=WINDOW_DAYS)
        products = wh.to_pandas(wh.table("products"))
    fit, train = holdout.fit, holdout.train
    validation_truth, test_truth = holdout.validation_truth, holdout.test_truth
    products["price"] = products["price"].astype(float)
    category = products.set_index("product_id")["category"]
    features = pd.get_dummies(category).astype(float)
    gens = generator_grids(weighted=True)
    result = _run(
        gens,
        fit,
        validation_truth,
        train,
        test_truth,
        args,
        diversity_features=features,
        fit_kwargs={"content": {"item_attributes": products}},
        ranker_features=products.set_index("product_id")[["price"]],
    )
    result.protocol = {
        **holdout.summary(),
        "weights": dict(DEFAULT_WEIGHTS),
        "grids": "full",
        "candidates": args.candidates,
        "n_boot": args.n_boot,
        "seed": args.seed,
    }
    out["report"] = str(_write_report(result, args, "recommend-synthetic"))
    rows = result.rows[:-1]
    ranker_row, ranker = result.rows[-1], result.ranker
    assert ranker is not None and ranker_row["generator"] == RANKER, result.ranker_skipped
    truth = store.truth.to_pandas().set_index("customer_id")
    taste = truth[[f"taste_{c}" for c in store.categories]]
    taste.columns = list(store.categories)
    for row in rows:
        make, _ = gens[row["generator"]]
        model = make(**row["params"]).fit(
            train, **({"item_attributes": products} if row["generator"] == "content" else {})
        )
        row.update(_taste_agreement(model, train, taste, category, args.k))
    ranker_row.update(_taste_agreement(ranker, train, taste, category, args.k))
    rows.append(ranker_row)
    out.update(
        {
            "customers": args.customers,
            "days": args.days,
            "users": int(train.n_users),
            "items": int(train.n_items),
            "interactions": int(train.nnz),
            "events": len(train.log),
            "validation_users": len(validation_truth),
            "test_users": len(test_truth),
            "test_items": sum(len(v) for v in test_truth.values()),
            "rows": rows,
            "total_s": time.perf_counter() - t0,
        }
    )
    return out


STAGES = {"movielens": stage_movielens, "synth": stage_synth}


# ------------------------------------------------------------------------- tables


def _ci(d: list[float]) -> str:
    return f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]"


def _params(p: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.items()) or "-"


def quality_table(title: str, rows: list[dict], k: int, taste: bool = False) -> Table:
    table = Table(title=title)
    cols = [
        "generator",
        f"P@{k}",
        f"R@{k}",
        f"NDCG@{k}",
        f"MAP@{k}",
        f"HR@{k}",
        "coverage",
        "novelty",
        "diversity",
    ]
    if taste:
        cols += [f"taste@{k}", "fav@1"]
    cols += [f"NDCG@{k} vs popularity [95% CI]", f"val NDCG@{k}", "chosen (validation)", "fit s"]
    for col in cols:
        table.add_column(
            col, justify="left" if col in ("generator", "chosen (validation)") else "right"
        )
    for r in rows:
        cells = [r["generator"]] + [f"{r[m]:.4f}" for m in METRICS[:6]]
        cells += [f"{r['novelty']:.2f}", f"{r['diversity']:.3f}"]
        if taste:
            cells += [f"{r['taste']:.3f}", f"{r['fav1']:.3f}"]
        cells += [
            "" if r["generator"] == "popularity" else _ci(r["ndcg_vs_popularity"]),
            "-" if np.isnan(r["validation_ndcg"]) else f"{r['validation_ndcg']:.4f}",
            _params(r["params"]),
            f"{r['fit_s']:.2f}",
        ]
        table.add_row(*cells)
    return table


def ranker_note(rows: list[dict], k: int) -> str:
    r = next(r for r in rows if r["generator"] == RANKER)
    return (
        f"LightGBM ranker minus {r['best_single']} (best single generator on validation): "
        f"NDCG@{k} {_ci(r['ndcg_vs_best'])}, Recall@{k} {_ci(r['recall_vs_best'])}; "
        f"learnt from {r['queries']:,} validation users ("
        f"{r['params']['rounds']} rounds by early stopping on held-out users, whose "
        f"NDCG@{k} among candidates was {r['cv_ndcg']:.4f}) in {r['learn_s']:.1f} s"
    )


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-recommend")
    parser.set_defaults(customers=10_000, threads=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=50, help="per generator, for the ranker")
    parser.add_argument("--data", default=str(MOVIELENS))
    parser.add_argument("--only", choices=list(STAGES), help="run one part")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    console = Console(width=220)
    stage_args = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "only"})
    if args.only in (None, "movielens"):
        if not (Path(args.data) / "ratings.csv").exists():
            console.print(f"MovieLens skipped: no ratings.csv in {args.data}")
        else:
            ml = run_stage(__file__, "movielens", stage_args)
            s = ml["summary"]
            console.print(
                quality_table(
                    f"MovieLens latest-small: {ml['users']} users, {ml['items']:,} movies in "
                    f"training ({s['train_rows']:,} ratings); test {s['test_items']:,} ratings "
                    f"of {s['test_users']} users; validation {s['validation_items']:,}",
                    ml["rows"],
                    args.k,
                )
            )
            console.print(ranker_note(ml["rows"], args.k))
            console.print(f"total {ml['total_s']:.1f} s, peak RSS {ml['peak_mb']:,.0f} MB")
            console.print(f"report: {ml['report']}")
    if args.only in (None, "synth"):
        sy = run_stage(__file__, "synth", stage_args)
        console.print(
            quality_table(
                f"Synthetic store: {sy['customers']:,} customers, {sy['days']} days, seed "
                f"{args.seed}; {sy['users']:,} customers with history x {sy['items']} "
                f"products, {sy['events']:,} events; test: {sy['test_items']:,} new products "
                f"of {sy['test_users']:,} customers in the last {WINDOW_DAYS} days",
                sy["rows"],
                args.k,
                taste=True,
            )
        )
        console.print(ranker_note(sy["rows"], args.k))
        best = max(r["taste_max"] for r in sy["rows"])
        console.print(
            f"taste@{args.k} of a perfect list (all from the favourite category): {best:.3f}; "
            f"setup {sy['setup_s']:.1f} s, total {sy['total_s']:.1f} s, "
            f"peak RSS {sy['peak_mb']:,.0f} MB"
        )
        console.print(f"report: {sy['report']}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
