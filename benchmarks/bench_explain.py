"""Explaining a LightGBM propensity model: contributions and reason codes for 1M customers.

    python benchmarks/bench_explain.py [--customers 1000000] [--features 60] [--trees 100]
        [--leaves 15] [--max-depth 5]

1. A synthetic customer table (``--features`` columns: numbers with missing values and
   four text features, one-hot encoded by ``build_preprocessor``) and a binary label
   driven by a few of them.
2. A LightGBM classifier (``--trees`` trees of ``--leaves`` leaves, at most ``--max-depth``
   deep: TreeSHAP's cost grows with the square of the depth) is trained on the
   first 100,000 rows, once per thread count (1 and 2) in its own process.
3. Timed over all rows: ``contributions`` (preprocessing plus the booster's TreeSHAP,
   folded back to the original features) and ``reason_codes`` (top 3, text and machine
   columns). The contributions of 10,000 rows are checked against the raw score.
"""

from __future__ import annotations

import argparse
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table
from sklearn.pipeline import Pipeline

from nextbest.features import Feature
from nextbest.features.preprocess import build_preprocessor
from nextbest.models.explain import contributions, raw_score, reason_codes

TEXT = {
    "loyalty_tier": ["bronze", "silver", "gold", "platinum"],
    "country": ["US", "GB", "DE", "FR", "NL"],
    "channel": ["web", "app", "store"],
    "favourite_category": ["shoes", "outerwear", "bags", "beauty", "home", "kids"],
}
TRAIN_ROWS = 100_000


def synthetic(n: int, n_features: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` customers with ``n_features`` features and a label driven by a few of them."""
    rng = np.random.default_rng(seed)
    numeric = n_features - len(TEXT)
    data: dict[str, object] = {}
    for j in range(numeric):
        column = rng.gamma(1.0 + j % 4, 10.0, n)
        column[rng.random(n) < 0.05] = np.nan
        data[f"num_{j:02d}"] = column
    for name, values in TEXT.items():
        data[name] = rng.choice(values, n)
    X = pd.DataFrame(data)
    logit = (
        0.08 * (X["num_00"].fillna(10) - 10)
        - 0.05 * (X["num_01"].fillna(20) - 20)
        + 0.7 * (X["loyalty_tier"] == "gold")
    )
    y = (logit + rng.logistic(size=n) > 0).astype(int).to_numpy()
    return X, y


def features_of(X: pd.DataFrame) -> list[Feature]:
    return [Feature(c, c.replace("_", " "), "string" if c in TEXT else "float64") for c in X]


def stage_explain(args: argparse.Namespace) -> dict:
    X, y = synthetic(args.customers, args.features)
    model = Pipeline(
        [
            ("pre", build_preprocessor(features_of(X), scale=False)),
            (
                "model",
                lgb.LGBMClassifier(
                    n_estimators=args.trees,
                    num_leaves=args.leaves,
                    max_depth=args.max_depth,
                    num_threads=args.threads,
                    deterministic=True,
                    force_col_wise=True,
                    random_state=0,
                    verbose=-1,
                ),
            ),
        ]
    )
    t0 = time.perf_counter()
    model.fit(X.iloc[:TRAIN_ROWS], y[:TRAIN_ROWS])
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    contribs = contributions(model, X, num_threads=args.threads)
    t_contrib = time.perf_counter() - t0
    t0 = time.perf_counter()
    reasons = reason_codes(contribs, X, top=3)
    t_reasons = time.perf_counter() - t0
    check = X.iloc[:10_000]
    error = float(np.abs(contribs.iloc[:10_000].sum(axis=1) - raw_score(model, check)).max())
    return {
        "threads": args.threads,
        "fit_s": t_fit,
        "contributions_s": t_contrib,
        "reasons_s": t_reasons,
        "max_error": error,
        "columns": int(model[:-1].transform(check.iloc[:1]).shape[1]),
        "example": str(reasons["reason_1"].iloc[0]),
    }


STAGES = {"explain": stage_explain}


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-explain")
    parser.set_defaults(customers=1_000_000)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--leaves", type=int, default=15)
    parser.add_argument("--max-depth", type=int, default=5)
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    results = [run_stage(__file__, "explain", args, threads=t) for t in (1, 2)]
    table = Table(
        title=(
            f"Explaining LightGBM ({args.trees} trees x {args.leaves} leaves, depth <= "
            f"{args.max_depth}, trained on "
            f"{TRAIN_ROWS:,} rows): {args.customers:,} customers x {args.features} features "
            f"({results[0]['columns']} model columns after one-hot)"
        )
    )
    for col in ("threads", "fit (s)", "contributions (s)", "rows/s", "reason codes (s)"):
        table.add_column(col, justify="right")
    table.add_column("max |sum - raw score|", justify="right")
    table.add_column("peak RSS (MB)", justify="right")
    for r in results:
        table.add_row(
            str(r["threads"]),
            f"{r['fit_s']:.1f}",
            f"{r['contributions_s']:.1f}",
            f"{args.customers / r['contributions_s']:,.0f}",
            f"{r['reasons_s']:.2f}",
            f"{r['max_error']:.1e}",
            f"{r['peak_mb']:,.0f}",
        )
    console = Console(width=120)
    console.print(table)
    console.print(f"first customer's top reason: {results[0]['example']}")


if __name__ == "__main__":
    main()
