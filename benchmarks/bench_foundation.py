"""Foundation benchmark: synthetic store generation and ingestion at scale.

    python benchmarks/bench_foundation.py [--customers 100000] [--days 365] [--work DIR]

Each stage runs in its own process so its peak memory (max RSS) is its own:
1. synth: generate the store and write it as Parquet;
2. the same tables are exported as CSV (not timed);
3. ingest events from Parquet, and from CSV, into a warehouse that already holds the
   customers (so the known-customer check runs), plus the whole canonical folder.
Rows/s counts every source row read, validated and written (or quarantined/skipped).
The "engine floor" rows append the same events file with one plain INSERT and no
mapping, validation, quarantine or dedupe: the most any loader on this engine and
machine can do.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

TARGETS = {
    "synth": "<= 90 s",
    "ingest events (parquet)": ">= 1,000,000 rows/s",
    "ingest events (csv)": ">= 300,000 rows/s",
}


def stage_synth(args: argparse.Namespace) -> dict:
    from nextbest.synth import generate, write_store

    t0 = time.perf_counter()
    store = generate(customers=args.customers, days=args.days, seed=1)
    t1 = time.perf_counter()
    write_store(store, Path(args.work) / "parquet", fmt="parquet")
    t2 = time.perf_counter()
    rows = {name: t.num_rows for name, t in store.tables.items()}
    return {"generate_s": t1 - t0, "write_s": t2 - t1, "seconds": t2 - t0, "rows": rows}


def stage_csv(args: argparse.Namespace) -> dict:
    import duckdb

    src, dst = Path(args.work) / "parquet", Path(args.work) / "csv"
    dst.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for path in sorted(src.glob("*.parquet")):
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{path}')) TO '{dst / (path.stem + '.csv')}' "
            "(HEADER, DELIMITER ',')"
        )
    return {"seconds": 0.0}


def stage_ingest(args: argparse.Namespace) -> dict:
    from nextbest.ingest import ingest
    from nextbest.warehouse import Warehouse

    work = Path(args.work)
    db = work / f"wh-{args.fmt}-{args.what}.duckdb"
    for leftover in (db, db.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    folder = work / args.fmt
    with Warehouse(db, threads=args.threads, memory_limit=args.memory_limit) as wh:
        if args.what == "floor":
            # the engine alone: append the file as it is, no mapping, checks or dedupe
            path = folder / f"events.{args.fmt}"
            reader = "read_parquet" if args.fmt == "parquet" else "read_csv"
            t0 = time.perf_counter()
            with wh.transaction():
                wh.raw_sql("SET preserve_insertion_order = false")
                wh.raw_sql(f"INSERT INTO events SELECT * FROM {reader}('{path}')")
            seconds = time.perf_counter() - t0
            return {"seconds": seconds, "rows": wh.count("events")}
        if args.what == "events":
            ingest(wh, folder / f"customers.{args.fmt}")
            t0 = time.perf_counter()
            report = ingest(wh, folder / f"events.{args.fmt}")
        else:
            t0 = time.perf_counter()
            report = ingest(wh, folder)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": report.totals["read"], "totals": report.totals}


STAGES = {"synth": stage_synth, "csv": stage_csv, "ingest": stage_ingest}


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench")
    parser.add_argument("--memory-limit", default="2GB", help="the engine's memory cap")
    parser.add_argument("--fmt", default="parquet")
    parser.add_argument("--what", default="events")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return

    console = Console()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results = []
    with console.status("synth ..."):
        synth = run_stage(__file__, "synth", args)
    events = synth["rows"]["events"]
    results.append(("synth", synth["seconds"], None, synth["peak_mb"]))
    with console.status("exporting CSV ..."):
        run_stage(__file__, "csv", args)
    labels = {
        "floor": "engine floor: plain INSERT of events ({fmt})",
        "events": "ingest events ({fmt})",
        "folder": "ingest all tables ({fmt})",
    }
    for fmt in ("parquet", "csv"):
        for what, label in labels.items():
            with console.status(f"{what} from {fmt} ..."):
                r = run_stage(__file__, "ingest", args, fmt=fmt, what=what)
            results.append(
                (label.format(fmt=fmt), r["seconds"], r["rows"] / r["seconds"], r["peak_mb"])
            )

    table = Table(
        title=f"{args.customers:,} customers, {args.days} days: "
        f"{events:,} events, {sum(synth['rows'].values()):,} rows in all "
        f"(threads={args.threads})"
    )
    for col in ("stage", "seconds", "rows/s", "peak RSS MB", "target"):
        table.add_column(col, justify="left" if col in ("stage", "target") else "right")
    for label, seconds, rate, peak in results:
        table.add_row(
            label,
            f"{seconds:.1f}",
            f"{rate:,.0f}" if rate else "",
            f"{peak:,.0f}",
            TARGETS.get(label, ""),
        )
    console.print(table)
    console.print("rows per table: " + ", ".join(f"{k} {v:,}" for k, v in synth["rows"].items()))


if __name__ == "__main__":
    main()
