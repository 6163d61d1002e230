"""The warehouse connection: tables, transactions, locking, read-only use."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import ibis
import pytest

from nextbest.errors import NotFoundError, WarehouseError
from nextbest.schema import TABLES
from nextbest.warehouse import SYSTEM_TABLES, Warehouse


def test_canonical_and_system_tables_with_their_types(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert set(wh.list_tables()) == set(TABLES) | set(SYSTEM_TABLES)
        schema = wh.table("orders").schema()
        assert schema["total"].is_decimal() and schema["total"].scale == 3
        assert schema["ordered_at"].is_timestamp()
        assert wh.table("events").schema()["properties"].is_json()
    with Warehouse(tmp_path / "w.duckdb") as wh:  # reopening migrates nothing twice
        assert wh.count("orders") == 0


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        rows = ibis.memtable({"product_id": ["P1"]})
        with pytest.raises(RuntimeError), wh.transaction():
            wh.insert("products", rows.mutate(**_nulls(wh, "products", skip={"product_id"})))
            assert wh.count("products") == 1
            raise RuntimeError("boom")
        assert wh.count("products") == 0


def _nulls(wh: Warehouse, table: str, skip: set[str]) -> dict:
    schema = wh.table(table).schema()
    return {c: ibis.null().cast(schema[c]) for c in schema.names if c not in skip}


def test_read_only_needs_an_existing_warehouse(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nextbest init"):
        Warehouse(tmp_path / "none.duckdb", read_only=True)


def test_a_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from nextbest.warehouse import Warehouse; "
            "w = Warehouse(sys.argv[1]); print('open', flush=True); time.sleep(30)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        started = time.perf_counter()
        with pytest.raises(WarehouseError, match="Another process"):
            Warehouse(db)
        assert time.perf_counter() - started < 10
    finally:
        holder.kill()
        holder.wait()


def test_memory_cap_holds_inside_the_block_only(tmp_path: Path) -> None:
    def cap(wh: Warehouse) -> str:
        return wh.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]

    with Warehouse(tmp_path / "w.duckdb", memory_limit="1GB") as wh:
        before = cap(wh)
        with wh.memory_capped("64MB", "test.cap"):
            assert cap(wh) == "61.0 MiB"
        assert cap(wh) == before
        with pytest.raises(RuntimeError), wh.memory_capped("32MB", "test.cap"):
            raise RuntimeError("the cap is restored on errors too")
        assert cap(wh) == before
        with wh.memory_capped("4GB", "test.cap"):  # never above the warehouse's
            assert cap(wh) == before
        bad = wh.memory_capped("1GB'; --", "test.cap")
        with pytest.raises(ValueError, match="not a memory size"), bad:
            pass
        small = wh.memory_capped("8MB", "test.cap")
        with pytest.raises(WarehouseError, match="out of memory within the cap") as err, small:
            wh.raw_sql("SELECT count(DISTINCT i) FROM range(20000000) t(i)").fetchall()
        assert err.value.field == "test.cap"
        assert cap(wh) == before
        # outside a capped block: the warehouse's own cap is named
        with pytest.raises(WarehouseError, match="cap of 1GB") as err, wh.engine_errors():
            wh.raw_sql("SET memory_limit = '8MB'")
            wh.raw_sql("SELECT count(DISTINCT i) FROM range(20000000) t(i)").fetchall()
        assert err.value.field == "warehouse.memory_limit"
