"""Benchmark the synthetic store generator: rows, seconds and peak memory.

Run::

    python benchmarks/bench_synth.py --customers 100000 --days 365 --out /tmp/synth --format parquet

Prints one table with the rows per table, the seconds spent generating and writing,
and the peak resident memory of the process (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nextbest.synth import generate, spoil, write_store


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default="2025-01-01")
    parser.add_argument("--out", type=Path, default=Path("/tmp/nextbest-synth"))
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--dirty", type=float, default=0.0, help="also spoil at this rate")
    args = parser.parse_args(argv)
    console = Console()

    steps: dict[str, float] = {}
    last = [time.perf_counter()]

    def progress(step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        steps[step] = now - last[0]
        last[0] = now

    t0 = time.perf_counter()
    store = generate(
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        start=args.start,
        progress=progress,
    )
    t_generate = time.perf_counter() - t0
    rss_generate = _peak_rss_mb()
    spoiled = None
    t_spoil = 0.0
    if args.dirty:
        t1 = time.perf_counter()
        store, spoiled = spoil(store, seed=args.seed, rate=args.dirty)
        t_spoil = time.perf_counter() - t1
    t2 = time.perf_counter()
    write_store(store, args.out, fmt=args.format, spoiled=spoiled)
    t_write = time.perf_counter() - t2

    table = Table(title=f"synth: {args.customers:,} customers, {args.days} days, seed {args.seed}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, rows in store.row_counts().items():
        table.add_row(f"rows: {name}", f"{rows:,}")
    table.add_row("sessions", f"{store.meta.get('sessions', 0):,}")
    if spoiled is not None:
        table.add_row("spoiled rows", f"{spoiled.num_rows:,}")
    for step, seconds in steps.items():
        table.add_row(f"  step {step} (s)", f"{seconds:.2f}")
    table.add_row("generate (s)", f"{t_generate:.2f}")
    if spoiled is not None:
        table.add_row("spoil (s)", f"{t_spoil:.2f}")
    table.add_row(f"write {args.format} (s)", f"{t_write:.2f}")
    table.add_row("total (s)", f"{t_generate + t_spoil + t_write:.2f}")
    table.add_row("peak RSS after generate (MB)", f"{rss_generate:,.0f}")
    table.add_row("peak RSS (MB)", f"{_peak_rss_mb():,.0f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
