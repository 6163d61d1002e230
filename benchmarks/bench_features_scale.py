"""How the full feature snapshot scales with the number of events.

    python benchmarks/bench_features_scale.py [--events 1000000,10000000,30000000]

For each size a synthetic store with about that many events (about 107 events per
customer over a year) is generated and ingested (not timed); then the full snapshot
is built cold from the warehouse in its own process, timed, with its peak memory.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

EVENTS_PER_CUSTOMER = 107  # what the synthetic store makes over 365 days


def stage_prepare(args: argparse.Namespace) -> dict:
    from nextbest.features import default_as_of
    from nextbest.ingest import ingest
    from nextbest.synth import generate, write_store
    from nextbest.warehouse import Warehouse

    work = Path(args.work)
    customers = max(1000, args.size // EVENTS_PER_CUSTOMER)
    write_store(generate(customers=customers, days=365, seed=2), work / "store")
    with Warehouse(work / "warehouse.duckdb") as wh:
        report = ingest(wh, work / "store")
        as_of = default_as_of(wh)
    shutil.rmtree(work / "store")
    return {
        "customers": customers,
        "events": report.tables["events"].loaded,
        "as_of": as_of.isoformat(),
    }


def stage_snapshot(args: argparse.Namespace) -> dict:
    import datetime as dt

    from nextbest.features import build_snapshot
    from nextbest.warehouse import Warehouse

    t0 = time.perf_counter()
    with Warehouse(Path(args.work) / "warehouse.duckdb", read_only=True) as wh:
        rows = wh.to_arrow(build_snapshot(wh, dt.datetime.fromisoformat(args.as_of))).num_rows
    return {"seconds": time.perf_counter() - t0, "rows": rows}


STAGES = {"prepare": stage_prepare, "snapshot": stage_snapshot}


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-scale")
    parser.add_argument("--events", default="1000000,10000000,30000000")
    parser.add_argument("--size", type=int, default=0, help="(stage) events to generate")
    parser.add_argument("--as-of", default="", help="(stage) snapshot moment")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    console = Console()
    table = Table(title="full feature snapshot by store size")
    for col in ("events", "customers", "seconds", "events/s", "peak RSS MB"):
        table.add_column(col, justify="right")
    for size in (int(s) for s in args.events.split(",")):
        work = Path(args.work) / str(size)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        with console.status(f"preparing about {size:,} events ..."):
            prep = run_stage(__file__, "prepare", args, work=work, size=size, events="")
        with console.status("snapshot ..."):
            snap = run_stage(__file__, "snapshot", args, work=work, as_of=prep["as_of"], events="")
        table.add_row(
            f"{prep['events']:,}",
            f"{prep['customers']:,}",
            f"{snap['seconds']:.1f}",
            f"{prep['events'] / snap['seconds']:,.0f}",
            f"{snap['peak_mb']:,.0f}",
        )
        shutil.rmtree(work, ignore_errors=True)
    console.print(table)


if __name__ == "__main__":
    main()
