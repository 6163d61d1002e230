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
   once on test.
2. Synthetic store (``--customers``, ``--days``, ``--seed``): generated, ingested into
   a temporary warehouse; interactions are product views (1), add-to-carts (3) and
   order lines (5). Test: what customers touch in the last 28 days that they had not
   touched before; validation: the same for the 28 days before that, with the
   models fitted on the data before it. Customers without history before a cutoff
   are left out (cold start is served by popularity). Besides accuracy, the
   recommendations are compared with the hidden category tastes: ``taste@k`` is the
   mean taste share of the recommended items' categories over every customer with
   history (1.0 would mean every item from a category the customer only likes), and
   ``fav@1`` the share of customers whose first item is from their favourite category.

Intervals are paired bootstrap 95% over users of the NDCG@k difference against
popularity. Each part runs in its own process; peak RSS is that process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

from nextbest.evaluation.bootstrap import paired_bootstrap
from nextbest.ingest import ingest
from nextbest.models.recommend import (
    ALS,
    BPR,
    EASE,
    CandidateRanker,
    ContentSimilarity,
    CoOccurrence,
    Interactions,
    ItemKNN,
    Popularity,
    Recommender,
    Transitions,
    compare,
    evaluate,
    holdout_protocol,
    warehouse_interactions,
)
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
MOVIELENS = ROOT.parent / "shared" / "data" / "movielens-latest-small"
WINDOW_DAYS = 28
METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage", "novelty", "diversity")

Grid = dict[str, list[Any]]


def generators(weighted: bool) -> dict[str, tuple[Callable[..., Recommender], Any]]:
    """Every generator with the grid searched on validation (the same for every dataset).

    A list of grids is searched one after the other (half-lives in different units).

    ``weighted``: the interactions carry weights (event types), so 0/1 or weighted
    input is searched too.
    """
    binary: Grid = {"binary": [True, False]} if weighted else {}
    l2s = [50.0, 200.0, 500.0, 1000.0]
    by_rank: Grid = {"half_life": [None, 2.0, 5.0, 10.0, 20.0]}
    by_share: Grid = {"half_life": [0.05, 0.1, 0.2], "decay_by": ["share"]}
    return {
        "popularity": (Popularity, {}),
        "trending": (Popularity, {"window_days": [7.0, 28.0, 90.0]}),
        "ease": (EASE, {"l2": [10.0, 50.0, 200.0, 500.0, 1000.0, 2000.0], **binary}),
        "ease, decayed profile": (
            EASE,
            [
                {
                    "l2": l2s,
                    "half_life": [2.0, 5.0, 10.0, 20.0, 40.0],
                    "decay_by": ["interactions"],
                },
                {"l2": l2s, "half_life": [1.0, 7.0, 30.0, 90.0], "decay_by": ["days"]},
                {"l2": l2s, "half_life": [0.02, 0.05, 0.1, 0.2, 0.4], "decay_by": ["share"]},
            ],
        ),
        "transitions": (
            Transitions,
            {
                "window": [1, 3, 10],
                "alpha": [0.5, 1.0],
                "recent": [5, 20, 100],
                "half_life": [2.0, 10.0],
            },
        ),
        "co-occurrence": (
            CoOccurrence,
            [{"normalize": ["count", "jaccard"], **g} for g in (by_rank, by_share)],
        ),
        "item-kNN": (
            ItemKNN,
            [{"neighbors": [50, 200], "shrinkage": [0.0, 20.0], **g} for g in (by_rank, by_share)],
        ),
        "ALS": (
            ALS,
            {
                "factors": [32, 64],
                "regularization": [1.0, 5.0, 20.0],
                "alpha": [1.0, 2.0, 5.0],
                **binary,
            },
        ),
        "BPR": (
            BPR,
            {"factors": [64], "learning_rate": [0.01, 0.05], "regularization": [0.01, 0.03]},
        ),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rows(result: Any, k: int, n_boot: int, seed: int) -> list[dict]:
    base = result.test["popularity"]
    rows = []
    for name, m in result.test.items():
        diff = paired_bootstrap(base.per_user("ndcg"), m.per_user("ndcg"), n_boot=n_boot, seed=seed)
        rows.append(
            {
                "generator": name,
                **{key: m.to_dict().get(key, float("nan")) for key in METRICS},
                "validation_ndcg": result.validation[name],
                "ndcg_vs_popularity": [diff.difference, diff.low, diff.high],
                "params": _plain(result.params[name]),
                "fit_s": result.fit_seconds[name],
                "grid_size": len(result.grids[name]),
                "search_s": float(result.grids[name]["seconds"].sum()),
            }
        )
    return rows


def _ranker(
    result: Any,
    gens: dict,
    fit: Interactions,
    validation_truth: dict,
    train: Interactions,
    test_truth: dict,
    args: argparse.Namespace,
    *,
    fit_kwargs: dict,
    item_features: pd.DataFrame | None,
    diversity_features: pd.DataFrame,
) -> tuple[dict, CandidateRanker]:
    """The ranker over every chosen generator (trending aside), as one more table row.

    Learnt from the validation truth with the generators fitted on ``fit``; the
    generators are then refitted on ``train`` and the ranker scores test once.
    Compared with popularity and with the single generator best on validation.
    """
    chosen = {
        name: make(**result.params[name]) for name, (make, _) in gens.items() if name != "trending"
    }
    t0 = time.perf_counter()
    ranker = CandidateRanker(
        chosen,
        n_candidates=args.candidates,
        k=args.k,
        fit_kwargs=fit_kwargs,
        item_features=item_features,
        seed=args.seed,
    ).fit(fit, validation_truth)
    learn_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranker.refit_candidates(train)
    refit_s = time.perf_counter() - t0
    m = evaluate(ranker, test_truth, args.k, item_features=diversity_features)
    best = max(result.validation, key=result.validation.get)
    base, top = result.test["popularity"], result.test[best]

    def diff(a: Any, metric: str) -> list[float]:
        d = paired_bootstrap(
            a.per_user(metric), m.per_user(metric), n_boot=args.n_boot, seed=args.seed
        )
        return [d.difference, d.low, d.high]

    row = {
        "generator": "LightGBM ranker",
        **{key: m.to_dict().get(key, float("nan")) for key in METRICS},
        "validation_ndcg": float("nan"),
        "ndcg_vs_popularity": diff(base, "ndcg"),
        "params": {"candidates": args.candidates, "rounds": ranker.n_estimators_},
        "fit_s": learn_s + refit_s,
        "learn_s": learn_s,
        "cv_ndcg": ranker.cv_ndcg_,
        "queries": ranker.training_queries_,
        "best_single": best,
        "ndcg_vs_best": diff(top, "ndcg"),
        "recall_vs_best": diff(top, "recall"),
    }
    return row, ranker


def _progress(name: str) -> None:
    print(f"  {name} done", file=__import__("sys").stderr, flush=True)


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
    gens = generators(weighted=False)
    gens["content"] = (
        lambda **kw: ContentSimilarity(
            categorical=("genres",), price=None, text=("title",), id_column="movieId", **kw
        ),
        {"half_life": [None, 5.0, 20.0]},
    )
    genres = movies.set_index("movieId")["genres"].str.get_dummies("|")
    result = compare(
        gens,
        fit,
        protocol.validation_truth,
        train,
        protocol.test_truth,
        k=args.k,
        item_features=genres,
        fit_kwargs={"content": {"item_attributes": movies}},
        progress=_progress,
    )
    rows = _rows(result, args.k, args.n_boot, args.seed)
    ranker_row, _ = _ranker(
        result,
        gens,
        fit,
        protocol.validation_truth,
        train,
        protocol.test_truth,
        args,
        fit_kwargs={"content": {"item_attributes": movies}},
        item_features=None,
        diversity_features=genres,
    )
    rows.append(ranker_row)
    return {
        "summary": protocol.summary(),
        "users": int(train.n_users),
        "items": int(train.n_items),
        "rows": rows,
        "total_s": time.perf_counter() - t0,
    }


# ------------------------------------------------------------------------- synthetic store


def _truth(wh: Warehouse, start: dt.datetime, end: dt.datetime, known: Interactions) -> dict:
    """New-to-customer products touched in [start, end) by customers with history."""
    after = warehouse_interactions(wh, as_of=end, since=start)
    coo = after.matrix.tocoo()
    frame = pd.DataFrame({"u": after.users[coo.row], "i": after.items[coo.col]})
    seen = known.matrix.tocoo()
    have = pd.DataFrame({"u": known.users[seen.row], "i": known.items[seen.col], "_s": True})
    frame = frame.merge(have, on=["u", "i"], how="left")
    frame = frame[frame["_s"].isna() & frame["u"].isin(set(known.users))]
    return frame.groupby("u")["i"].apply(set).to_dict()


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
        test_cut = end - dt.timedelta(days=WINDOW_DAYS)
        val_cut = test_cut - dt.timedelta(days=WINDOW_DAYS)
        fit = warehouse_interactions(wh, as_of=val_cut)
        train = warehouse_interactions(wh, as_of=test_cut)
        validation_truth = _truth(wh, val_cut, test_cut, fit)
        test_truth = _truth(wh, test_cut, end, train)
        products = wh.to_pandas(wh.table("products"))
    products["price"] = products["price"].astype(float)
    category = products.set_index("product_id")["category"]
    features = pd.get_dummies(category).astype(float)
    gens = generators(weighted=True)
    gens["content"] = (ContentSimilarity, {"half_life": [None, 5.0, 20.0]})
    result = compare(
        gens,
        fit,
        validation_truth,
        train,
        test_truth,
        k=args.k,
        item_features=features,
        fit_kwargs={"content": {"item_attributes": products}},
        progress=_progress,
    )
    rows = _rows(result, args.k, args.n_boot, args.seed)
    ranker_row, ranker = _ranker(
        result,
        gens,
        fit,
        validation_truth,
        train,
        test_truth,
        args,
        fit_kwargs={"content": {"item_attributes": products}},
        item_features=products.set_index("product_id")[["price"]],
        diversity_features=features,
    )
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
    r = next(r for r in rows if r["generator"] == "LightGBM ranker")
    return (
        f"LightGBM ranker minus {r['best_single']} (best single generator on validation): "
        f"NDCG@{k} {_ci(r['ndcg_vs_best'])}, Recall@{k} {_ci(r['recall_vs_best'])}; "
        f"learnt from {r['queries']:,} validation users ("
        f"{r['params']['rounds']} rounds by 5-fold CV, CV NDCG@{k} among candidates "
        f"{r['cv_ndcg']:.4f}) in {r['learn_s']:.1f} s"
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


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
