"""Feature snapshot benchmark: NextBest against an idiomatic pandas reference.

    python benchmarks/bench_features.py [--customers 100000] [--days 365] [--work DIR]

1. A synthetic store is generated and ingested into a fresh warehouse (not timed).
2. NextBest builds the full snapshot (every registered feature) cold, in its own
   process, from the warehouse, with its default settings (each family computed in
   turn within ``features.memory_limit``, 256MB); then the reference's features alone,
   with those settings and with the memory cap ``--small-cap`` (128MB), where the
   engine spills more of what does not fit.
3. The pandas reference computes, in its own process from the store's Parquet files,
   the RFM windows, event counts by type and window, inter-purchase mean and spread,
   cart abandonment (with ``merge_asof``) and the decayed activity score: group-bys,
   joins and vectorised arithmetic, no per-customer Python.
4. Every feature both compute is compared (relative tolerance 1e-9).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

WINDOWS = (30, 90, 365)
HALF_LIFE = 14.0
ABANDON_HOURS = 24.0
SUBSET = "rfm,behaviour"  # the families holding the reference's features
COUNTED = {"product_views": "product_view", "add_to_carts": "add_to_cart", "searches": "search"}


def _as_of(work: Path) -> dt.datetime:
    return dt.datetime.fromisoformat((work / "as_of.txt").read_text().strip())


def stage_prepare(args: argparse.Namespace) -> dict:
    from nextbest.features import default_as_of
    from nextbest.ingest import ingest
    from nextbest.synth import generate, write_store
    from nextbest.warehouse import Warehouse

    work = Path(args.work)
    write_store(generate(customers=args.customers, days=args.days, seed=1), work / "store")
    with Warehouse(work / "warehouse.duckdb") as wh:
        ingest(wh, work / "store")
        as_of = default_as_of(wh)
    (work / "as_of.txt").write_text(as_of.isoformat())
    return {"seconds": 0.0}


def stage_nextbest(args: argparse.Namespace) -> dict:
    from nextbest.config import FeatureSettings
    from nextbest.features import snapshot_frame
    from nextbest.warehouse import Warehouse

    work = Path(args.work)
    families = args.families.split(",") if args.families else None
    settings = FeatureSettings(**({"memory_limit": args.memory_limit} if args.memory_limit else {}))
    t0 = time.perf_counter()
    with Warehouse(work / "warehouse.duckdb", read_only=True, threads=args.threads) as wh:
        snap = snapshot_frame(wh, _as_of(work), settings, families=families)
    seconds = time.perf_counter() - t0
    snap.to_parquet(work / f"nextbest-{args.families or 'all'}.parquet")
    return {"seconds": seconds, "rows": len(snap), "features": snap.shape[1] - 1}


def _days(as_of: pd.Timestamp, ts: pd.Series) -> pd.Series:
    """Days from ts to as_of, both to the whole second (as the engine computes them)."""
    return (as_of - ts.dt.floor("s")).dt.total_seconds() / 86400.0


def pandas_reference(store: Path, as_of: dt.datetime) -> pd.DataFrame:
    """The reference: what a competent analyst would write with pandas."""
    cut = pd.Timestamp(as_of)
    customers = pd.read_parquet(store / "customers.parquet", columns=["customer_id", "signup_at"])
    customers = customers[customers.signup_at.isna() | (customers.signup_at < cut)]
    orders = pd.read_parquet(
        store / "orders.parquet",
        columns=["customer_id", "ordered_at", "total"],
        filters=[("ordered_at", "<", cut)],
    )
    events = pd.read_parquet(
        store / "events.parquet",
        columns=["customer_id", "session_id", "event_type", "occurred_at"],
        filters=[("occurred_at", "<", cut)],
    )
    out = customers[["customer_id"]].set_index("customer_id")

    # RFM
    orders = orders.sort_values(["customer_id", "ordered_at"])
    orders["age"] = _days(cut, orders.ordered_at)
    orders["gap"] = orders.groupby("customer_id").age.shift(1) - orders.age
    g = orders.groupby("customer_id")
    rfm = pd.DataFrame(
        {
            "recency_days": g.age.min(),
            "frequency": g.size(),
            "monetary": g.total.sum(),
            "ipt_mean_days": g.gap.mean(),
            "ipt_std_days": g.gap.std(ddof=0),
        }
    )
    for w in WINDOWS:
        recent = orders[orders.ordered_at >= cut - pd.Timedelta(days=w)].groupby("customer_id")
        rfm[f"frequency_{w}d"] = recent.size()
        rfm[f"monetary_{w}d"] = recent.total.sum()
    out = out.join(rfm)

    # events by type and window, sessions, decayed activity
    events["age"] = _days(cut, events.occurred_at)
    beh = pd.DataFrame(
        {"activity_score": np.exp2(-events.age / HALF_LIFE).groupby(events.customer_id).sum()}
    )
    for w in WINDOWS:
        recent = events[events.occurred_at >= cut - pd.Timedelta(days=w)]
        beh[f"sessions_{w}d"] = recent.groupby("customer_id").session_id.nunique()
        counts = recent.groupby(["customer_id", "event_type"]).size().unstack(fill_value=0)
        for name, kind in COUNTED.items():
            beh[f"{name}_{w}d"] = counts.get(kind, 0)

    # cart abandonment: the next purchase at or after each add-to-cart
    carts = events.loc[events.event_type == "add_to_cart", ["customer_id", "occurred_at"]]
    buys = events.loc[events.event_type == "purchase", ["customer_id", "occurred_at"]]
    carts = carts.sort_values("occurred_at")
    buys = buys.rename(columns={"occurred_at": "next_buy"}).sort_values("next_buy")
    joined = pd.merge_asof(
        carts,
        buys,
        left_on="occurred_at",
        right_on="next_buy",
        by="customer_id",
        direction="forward",
        allow_exact_matches=True,
    )
    deadline = joined.occurred_at + pd.Timedelta(hours=ABANDON_HOURS)
    abandoned = joined[(deadline <= cut) & (joined.next_buy.isna() | (joined.next_buy > deadline))]
    for w in WINDOWS:
        recent = abandoned[abandoned.occurred_at >= cut - pd.Timedelta(days=w)]
        beh[f"cart_abandonments_{w}d"] = recent.groupby("customer_id").size()
    out = out.join(beh)
    counts = [
        c
        for c in out.columns
        if c.split("_")[0] in ("frequency", "sessions", "product", "add", "searches", "cart")
    ] + ["monetary", "activity_score"]
    counts += [f"monetary_{w}d" for w in WINDOWS]
    out[counts] = out[counts].fillna(0)
    return out.reset_index()


def stage_pandas(args: argparse.Namespace) -> dict:
    work = Path(args.work)
    t0 = time.perf_counter()
    ref = pandas_reference(work / "store", _as_of(work))
    seconds = time.perf_counter() - t0
    ref.to_parquet(work / "pandas.parquet")
    return {"seconds": seconds, "rows": len(ref), "features": ref.shape[1] - 1}


def compare(work: Path, name: str) -> dict:
    ours = pd.read_parquet(work / name).set_index("customer_id").sort_index()
    ref = pd.read_parquet(work / "pandas.parquet").set_index("customer_id").sort_index()
    assert ours.index.equals(ref.index), "different customers"
    worst = {}
    for col in ref.columns:
        a, b = ours[col].astype(float).to_numpy(), ref[col].astype(float).to_numpy()
        same_nan = np.isnan(a) == np.isnan(b)
        assert same_nan.all(), f"{col}: missing values differ"
        ok = ~np.isnan(a)
        rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12)
        worst[col] = float(rel.max()) if ok.any() else 0.0
        assert worst[col] <= 1e-9, f"{col}: relative difference {worst[col]:.3g}"
    return worst


STAGES = {"prepare": stage_prepare, "nextbest": stage_nextbest, "pandas": stage_pandas}


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-features")
    parser.add_argument("--reuse", action="store_true", help="keep an existing prepared store")
    parser.add_argument("--families", default="", help="(stage) feature families, comma-separated")
    parser.add_argument("--memory-limit", default="", help="(stage) features.memory_limit")
    parser.add_argument("--small-cap", default="128MB", help="the smaller cap also measured")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    console = Console()
    work = Path(args.work)
    if not (args.reuse and (work / "as_of.txt").exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        with console.status("generating and ingesting the store ..."):
            run_stage(__file__, "prepare", args)
    with console.status("NextBest, every feature ..."):
        full = run_stage(__file__, "nextbest", args)
    with console.status("NextBest, the reference's features ..."):
        ours = run_stage(__file__, "nextbest", args, families=SUBSET)
    with console.status("NextBest, the reference's features, small memory cap ..."):
        capped = run_stage(__file__, "nextbest", args, families=SUBSET, memory_limit=args.small_cap)
    with console.status("pandas reference ..."):
        ref = run_stage(__file__, "pandas", args)
    worst = compare(work, f"nextbest-{SUBSET}.parquet")
    import pyarrow.parquet as pq

    events = pq.ParquetFile(work / "store" / "events.parquet").metadata.num_rows
    title = f"snapshot of {ours['rows']:,} customers from {events:,} events, as of {_as_of(work)}"
    table = Table(title=title)
    for col in ("implementation", "features", "seconds", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "implementation" else "right")
    rows = [
        ("NextBest, full snapshot (DuckDB)", full),
        (f"NextBest, families {SUBSET} (DuckDB)", ours),
        (f"NextBest, families {SUBSET}, engine memory cap {args.small_cap}", capped),
        ("pandas reference", ref),
    ]
    for label, r in rows:
        table.add_row(label, str(r["features"]), f"{r['seconds']:.1f}", f"{r['peak_mb']:,.0f}")
    console.print(table)
    console.print(
        f"same features: NextBest {ref['seconds'] / ours['seconds']:.1f}x faster (target >= 2x), "
        f"peak memory {ours['peak_mb'] / ref['peak_mb']:.2f} of the reference's "
        f"(target <= 0.33); {len(worst)} features equal, worst relative difference "
        f"{max(worst.values()):.1e}"
    )
    console.print(
        f"with the engine's memory capped at {args.small_cap}: "
        f"{ref['seconds'] / capped['seconds']:.1f}x faster, peak memory "
        f"{capped['peak_mb'] / ref['peak_mb']:.2f} of the reference's"
    )


if __name__ == "__main__":
    main()
