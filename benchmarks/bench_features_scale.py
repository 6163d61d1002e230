"""How feature snapshots scale with the number of events: full and incremental.

    python benchmarks/bench_features_scale.py [--events 1000000,10000000,30000000] [--steps 3]
        [--memory-limit 2GB] [--feature-memory-limit 256MB|null]
        [--reuse]

For each size a synthetic store with about that many events (about 107 events per
customer over a year) is generated and ingested (not timed); with ``--reuse`` the
ingested warehouse is kept under ``--work`` and later runs start from a copy of it.
Then, each step in its own process, timed after its imports, with its peak memory:

1. the stored snapshot ``--days`` days before the end, built in full together with
   the feature state an incremental update starts from;
2. one incremental update per following day (``nextbest features build`` as a daily
   job would run it): the first compiles the step's SQL and keeps it in the
   warehouse, the later ones run the kept SQL (the median of them is reported);
   and each day's writes alone (the state rows it upserted and the patch rows it
   added, replayed on a copy of the warehouse before that day);
3. the full snapshot of the last of those days, cold from the warehouse (the
   recompute the incremental update replaces), and a check that both are equal;
   then the same snapshot computed and stored in full (``save_snapshot``).
"""

from __future__ import annotations

import argparse
import json
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


def _engine_imported() -> None:
    """Import the engine's Ibis backend (which opening the warehouse would do) before
    the clock starts, like every other import of a stage."""
    import ibis.backends.duckdb  # noqa: F401


def _db(args: argparse.Namespace) -> Path:
    return Path(args.work) / "warehouse.duckdb"


def stage_snapshot(args: argparse.Namespace) -> dict:
    import datetime as dt

    from nextbest.config import FeatureSettings
    from nextbest.features.snapshot import staged_snapshot
    from nextbest.warehouse import Warehouse

    cap = args.feature_memory_limit
    settings = FeatureSettings(**({"memory_limit": None if cap == "null" else cap} if cap else {}))
    _engine_imported()
    t0 = time.perf_counter()
    with (
        Warehouse(_db(args), read_only=True, memory_limit=args.memory_limit) as wh,
        staged_snapshot(wh, dt.datetime.fromisoformat(args.as_of), settings) as (snapshot, _),
    ):
        rows = wh.to_arrow(snapshot).num_rows
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def stage_update(args: argparse.Namespace) -> dict:
    """One ``update_snapshot`` (full with ``--full``), as the daily job runs it."""
    import datetime as dt

    from nextbest.features.incremental import update_snapshot
    from nextbest.warehouse import Warehouse

    _engine_imported()
    t0 = time.perf_counter()
    path = _db(args)
    wh = Warehouse(path, memory_limit=args.memory_limit)
    opened = time.perf_counter()
    try:
        result = update_snapshot(wh, dt.datetime.fromisoformat(args.as_of), full=args.full)
    finally:
        closing = time.perf_counter()
        wh.close()  # the engine checkpoints a log the commit left
    seconds = time.perf_counter() - t0
    timings = dict(result.timings)
    commit = timings.pop("commit", 0.0)
    largest = sorted(timings.items(), key=lambda kv: -kv[1])[:5]
    return {
        "seconds": seconds,
        **result.as_dict(),
        "file_mb": path.stat().st_size / 1e6,
        "statements": len(timings),
        "statements_s": sum(timings.values()),
        "commit_s": commit,
        "open_s": opened - t0,
        "close_s": t0 + seconds - closing,
        "largest": [[label, round(s * 1000)] for label, s in largest],
    }


def stage_save(args: argparse.Namespace) -> dict:
    """The full snapshot computed and stored (what a daily job without the state runs)."""
    import datetime as dt

    from nextbest.features.store import save_snapshot
    from nextbest.warehouse import Warehouse

    _engine_imported()
    t0 = time.perf_counter()
    with Warehouse(_db(args), memory_limit=args.memory_limit) as wh:
        rows = save_snapshot(wh, dt.datetime.fromisoformat(args.as_of))
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def stage_writes(args: argparse.Namespace) -> dict:
    """An incremental day's writes alone, on a copy of the warehouse before it:
    the state rows it upserted and the rows of the snapshot parts it added, found by
    comparing the warehouse before and after the day (not timed), then deleted by key
    and inserted in one transaction, committed and checkpointed at close (timed).

    What any step that keeps this state in the warehouse pays before computing
    anything (the small tables, the top categories and the state's description, are
    left out)."""
    from nextbest.features.incremental import STATE_KEYS
    from nextbest.features.store import PARTS_TABLE
    from nextbest.warehouse import Warehouse
    from nextbest.warehouse.writes import delete_matching

    work = Path(args.work)
    path = work / "writes.duckdb"
    shutil.copyfile(work / "before.duckdb", path)
    wh = Warehouse(path, memory_limit=args.memory_limit)
    wh.raw_sql(f"ATTACH '{_db(args)}' AS after (READ_ONLY)")
    newest = wh.raw_sql(f'SELECT max(part) FROM "{PARTS_TABLE}"').fetchone()[0]
    patched = [
        name
        for (name,) in wh.raw_sql(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'after' "
            "AND table_name LIKE 'feature_rows_%' ORDER BY 1"
        ).fetchall()
    ]
    rows = {}
    for name in [*STATE_KEYS, *patched]:
        new = (
            f'SELECT * FROM after."{name}" EXCEPT SELECT * FROM main."{name}"'
            if name in STATE_KEYS
            else f'SELECT * FROM after."{name}" WHERE part > {newest}'
        )
        wh.raw_sql(f'CREATE TEMP TABLE "w_{name}" AS {new}')
        rows[name] = wh.raw_sql(f'SELECT count(*) FROM "w_{name}"').fetchone()[0]
    wh.raw_sql("DETACH after")
    t0 = time.perf_counter()
    wh.raw_sql("BEGIN TRANSACTION")
    for name, (_, keys) in STATE_KEYS.items():
        wh.raw_sql(delete_matching(name, f"w_{name}", keys))
    for name in rows:
        wh.raw_sql(f'INSERT INTO "{name}" SELECT * FROM "w_{name}"')
    committing = time.perf_counter()
    wh.raw_sql("COMMIT")
    closing = time.perf_counter()
    wh.close()
    seconds = time.perf_counter() - t0
    path.unlink()
    return {
        "seconds": seconds,
        "statements_s": committing - t0,
        "commit_s": closing - committing,
        "close_s": t0 + seconds - closing,
        "state_rows": sum(rows[n] for n in STATE_KEYS),
        "patch_rows": sum(rows[n] for n in patched),
    }


def stage_check(args: argparse.Namespace) -> dict:
    """Compare the stored snapshot of ``--as-of`` with a full recompute."""
    import datetime as dt

    import numpy as np

    from nextbest.features import snapshot_frame
    from nextbest.features.store import load_snapshot
    from nextbest.warehouse import Warehouse

    as_of = dt.datetime.fromisoformat(args.as_of)
    with Warehouse(_db(args), read_only=True, memory_limit=args.memory_limit) as wh:
        full = snapshot_frame(wh, as_of).reset_index(drop=True)
        got = load_snapshot(wh, as_of).reset_index(drop=True)[full.columns]
    differ = []
    for c in full.columns:
        x, y = full[c], got[c]
        if x.dtype.kind in "fiu":
            same = np.isclose(
                x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, equal_nan=True
            )
        else:
            same = (x.fillna("\0").astype(str) == y.fillna("\0").astype(str)).to_numpy()
        if not same.all():
            differ.append(c)
    return {"features": len(full.columns) - 1, "differ": differ}


def _prepared(work: Path, size: int, args: argparse.Namespace, console: Console) -> dict:
    """A fresh ``work/warehouse.duckdb`` with about ``size`` events, and what it holds.

    With ``--reuse`` the ingested warehouse is kept as ``prepared.duckdb`` (and its
    description as ``prepared.json``) and copied for each run.
    """
    kept, about = work / "prepared.duckdb", work / "prepared.json"
    if args.reuse and kept.exists() and about.exists():
        shutil.copyfile(kept, work / "warehouse.duckdb")
        return json.loads(about.read_text())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with console.status(f"preparing about {size:,} events ..."):
        prep = run_stage(__file__, "prepare", args, work=work, size=size, events="")
    if args.reuse:
        shutil.copyfile(work / "warehouse.duckdb", kept)
        about.write_text(json.dumps(prep))
    return prep


STAGES = {
    "prepare": stage_prepare,
    "snapshot": stage_snapshot,
    "update": stage_update,
    "check": stage_check,
    "writes": stage_writes,
    "save": stage_save,
}


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-scale")
    parser.add_argument("--events", default="1000000,10000000,30000000")
    parser.add_argument("--size", type=int, default=0, help="(stage) events to generate")
    parser.add_argument("--as-of", default="", help="(stage) snapshot moment")
    parser.add_argument("--full", action="store_true", help="(stage) a full update")
    parser.add_argument("--steps", type=int, default=3, help="incremental days to time")
    parser.add_argument("--memory-limit", default="2GB", help="the warehouse's memory cap")
    parser.add_argument(
        "--feature-memory-limit", default="", help="features.memory_limit of the full snapshot"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the ingested stores under --work and reuse them"
    )
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    import datetime as dt
    import statistics

    console = Console()
    table = Table(title="feature snapshots by store size: full and incremental (one day)")
    columns = (
        "events",
        "customers",
        "full s",
        "full MB",
        "full, stored s",
        "full + state s",
        "first incremental s",
        "incremental s",
        "its writes alone s",
        "incremental MB",
        "file MB/day",
        "speed-up",
        "equal",
    )
    for col in columns:
        table.add_column(col, justify="right")
    profiles = []
    for size in (int(s) for s in args.events.split(",")):
        work = Path(args.work) / str(size)
        prep = _prepared(work, size, args, console)
        end = dt.datetime.fromisoformat(prep["as_of"])
        days = [end - dt.timedelta(days=args.steps - i) for i in range(args.steps + 1)]
        opts = {"work": work, "events": ""}
        with console.status("full snapshot and feature state ..."):
            first = run_stage(__file__, "update", args, as_of=days[0].isoformat(), **opts)
        steps, writes = [], []
        for day in days[1:]:
            shutil.copyfile(work / "warehouse.duckdb", work / "before.duckdb")
            with console.status(f"incremental update to {day:%Y-%m-%d} ..."):
                steps.append(run_stage(__file__, "update", args, as_of=day.isoformat(), **opts))
                writes.append(run_stage(__file__, "writes", args, **opts))
        (work / "before.duckdb").unlink()
        assert all(s["mode"] == "incremental" for s in steps), steps
        with console.status("full snapshot of the last day ..."):
            snap = run_stage(__file__, "snapshot", args, as_of=days[-1].isoformat(), **opts)
            check = run_stage(__file__, "check", args, as_of=days[-1].isoformat(), **opts)
            # last: it replaces the incrementally made snapshot just checked
            saved = run_stage(__file__, "save", args, as_of=days[-1].isoformat(), **opts)
        inc = statistics.median(s["seconds"] for s in steps[1:] or steps)
        alone = statistics.median(w["seconds"] for w in writes[1:] or writes)
        table.add_row(
            f"{prep['events']:,}",
            f"{prep['customers']:,}",
            f"{snap['seconds']:.1f}",
            f"{snap['peak_mb']:,.0f}",
            f"{saved['seconds']:.1f}",
            f"{first['seconds']:.1f}",
            f"{steps[0]['seconds']:.2f}",
            f"{inc:.2f}",
            f"{alone:.2f}",
            f"{max(s['peak_mb'] for s in steps):,.0f}",
            f"{(steps[-1]['file_mb'] - first['file_mb']) / len(steps):.1f}",
            f"{snap['seconds'] / inc:.1f}x",
            "yes" if not check["differ"] else "NO: " + ", ".join(check["differ"]),
        )
        last = steps[-1]
        largest = ", ".join(f"{label} {ms} ms" for label, ms in last["largest"])
        profiles.append(
            f"{prep['events']:,} events, last day: {last['statements_s']:.2f} s in "
            f"{last['statements']} statements (largest: {largest}), "
            f"commit {last['commit_s']:.2f} s, open {last['open_s']:.2f} s, "
            f"close {last['close_s']:.2f} s, "
            f"all {last['seconds']:.2f} s; its writes alone: {writes[-1]['seconds']:.2f} s "
            f"({writes[-1]['state_rows']:,} state rows upserted and "
            f"{writes[-1]['patch_rows']:,} patch rows added in "
            f"{writes[-1]['statements_s']:.2f} s, commit {writes[-1]['commit_s']:.2f} s, "
            f"close {writes[-1]['close_s']:.2f} s); 10x would be {snap['seconds'] / 10:.2f} s"
        )
        profiles.append(
            "  by day, incremental s / writes alone s: "
            + ", ".join(
                f"{s['seconds']:.2f} / {w['seconds']:.2f}"
                for s, w in zip(steps, writes, strict=True)
            )
        )
        if args.reuse:
            (work / "warehouse.duckdb").unlink(missing_ok=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    console.print(table)
    for line in profiles:
        console.print(line)
    console.print(
        "first incremental s: the first daily update (compiles the SQL); incremental s: the\n"
        "median of the later ones; its writes alone s: the same days' upserts of state rows\n"
        "and their patch rows, replayed alone on the warehouse before each (what a step pays\n"
        "before computing anything; median); speed-up: full s / incremental s; full, stored\n"
        "s: the full snapshot computed and stored, as a daily job without the state would;\n"
        "file MB/day: how much the warehouse file grew per incremental day"
    )


if __name__ == "__main__":
    main()
