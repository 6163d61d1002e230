"""A load killed with SIGKILL half way leaves the warehouse exactly as it was."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from nextbest.ingest import ingest
from nextbest.warehouse import Warehouse

TABLES = ("customers", "orders", "_quarantine", "_loads")

KILL_AT_STEP = textwrap.dedent(
    """
    import os, signal, sys
    from nextbest.ingest import ingest
    from nextbest.warehouse import Warehouse

    def progress(step, done, total):
        if step == sys.argv[3]:  # written, not yet committed
            os.kill(os.getpid(), signal.SIGKILL)

    wh = Warehouse(sys.argv[1], threads=1)
    ingest(wh, sys.argv[2], progress=progress)
    """
)


def _counts(path: Path) -> dict[str, int]:
    with Warehouse(path, threads=1) as wh:
        return {t: wh.count(t) for t in TABLES}


def _store(folder: Path, n: int, offset: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = range(offset, offset + n)
    (folder / "customers.csv").write_text(
        "customer_id,email\n" + "".join(f"C{i},c{i}@x.org\n" for i in ids)
    )
    (folder / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,total\n"
        + "".join(f"O{i},C{i},2025-01-01 10:00:00,{i % 50}.5\n" for i in ids)
        + "Obad,C1,not a time,1\n"
    )
    return folder


def test_sigkill_after_first_table_keeps_previous_state(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse(db, threads=1) as wh:
        ingest(wh, _store(tmp_path / "first", 50))
    before = _counts(db)
    second = _store(tmp_path / "second", 500, offset=1000)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_STEP, str(db), str(second), "customers"],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL
    assert _counts(db) == before
    with Warehouse(db, threads=1) as wh:  # the file is healthy and loads again
        ingest(wh, second)
        assert wh.count("customers") == 550


def _cli_ingest(db: Path, source: Path, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "ingest", str(source), "--json"],
        env={"NEXTBEST_WAREHOUSE__PATH": str(db), "NEXTBEST_WAREHOUSE__THREADS": "1", "PATH": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
    )


def _fresh(tmp_path: Path, name: str) -> Path:
    db = tmp_path / name / "w.duckdb"
    with Warehouse(db, threads=1) as wh:
        ingest(wh, _store(tmp_path / "first", 10))
    return db


def test_sigkill_at_any_moment_is_all_or_nothing(tmp_path: Path) -> None:
    big = _store(tmp_path / "big", 60_000, offset=10)
    full_db = _fresh(tmp_path, "full")
    before = _counts(full_db)
    started = time.perf_counter()
    assert _cli_ingest(full_db, big, tmp_path).wait(timeout=300) == 0
    full_run = time.perf_counter() - started
    complete = _counts(full_db)
    assert complete["customers"] == 60_010
    for i, fraction in enumerate((0.5, 0.7, 0.85, 0.95)):
        db = _fresh(tmp_path, f"killed{i}")
        proc = _cli_ingest(db, big, tmp_path)
        time.sleep(full_run * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert _counts(db) in (before, complete)
