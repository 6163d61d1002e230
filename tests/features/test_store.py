"""Stored snapshots as full parts and patches: what is read back, what is kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pytest

from nextbest.features.registry import Feature
from nextbest.features.store import (
    NewPart,
    current_parts,
    list_snapshots,
    load_snapshot,
    rows_table,
    write_snapshot,
)
from nextbest.warehouse import Warehouse

D0 = dt.datetime(2025, 3, 1)
FEATURES = [
    Feature("age", "days since", per_day=1),
    Feature("score", "decayed sum", decays=True),
    Feature("n", "a count", dtype="int64"),
]
HALF_LIFE = 4.0


def staged(wh: Warehouse, rows: dict[str, list]) -> str:
    return wh.stage(ibis.memtable(rows)).get_name().rsplit(".", 1)[-1]


def write(wh: Warehouse, as_of: dt.datetime, rows: dict[str, list], parent=None):
    part = NewPart("fam", staged(wh, rows), FEATURES, parent)
    return write_snapshot(wh, as_of, [part], HALF_LIFE)["fam"]


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    with Warehouse(tmp_path / "w.duckdb", threads=1) as wh:
        yield wh


def test_a_patch_reads_with_the_other_rows_moved_in_time(wh) -> None:
    full = write(
        wh, D0, {"customer_id": ["A", "B"], "age": [1.0, 5.0], "score": [8.0, 2.0], "n": [3, 4]}
    )
    later = D0 + dt.timedelta(days=2)
    patch = write(
        wh,
        later,
        {"customer_id": ["B", "C"], "age": [0.0, 1.0], "score": [1.0, 0.5], "n": [9, 1]},
        full,
    )
    assert (patch.parent, patch.depth, patch.rows, patch.since_full) == (full.part, 1, 2, 2)
    got = load_snapshot(wh, later).set_index("customer_id")
    assert got.loc["A", "age"] == pytest.approx(3.0)  # 1 day old two days ago
    assert got.loc["A", "score"] == pytest.approx(8.0 * 2 ** (-2 / HALF_LIFE))
    assert got.loc["A", "n"] == 3
    assert got.loc["B"].tolist()[1:] == [0.0, 1.0, 9]
    assert got.loc["C", "n"] == 1
    assert str(got["n"].dtype) == "int64"
    # the earlier snapshot still reads as it was written
    first = load_snapshot(wh, D0).set_index("customer_id")
    assert first["age"].tolist() == [1.0, 5.0]
    one = load_snapshot(wh, later, customer_id="A")
    assert one["customer_id"].tolist() == ["A"] and one["age"].tolist() == [3.0]


def test_replacing_a_snapshot_keeps_what_a_later_chain_reads(wh) -> None:
    full = write(wh, D0, {"customer_id": ["A"], "age": [1.0], "score": [1.0], "n": [1]})
    later = D0 + dt.timedelta(days=1)
    write(wh, later, {"customer_id": ["B"], "age": [0.0], "score": [1.0], "n": [2]}, full)
    before = load_snapshot(wh, later)
    # a new snapshot as of D0 replaces the old one for readers of D0 ...
    write(wh, D0, {"customer_id": ["A"], "age": [7.0], "score": [1.0], "n": [5]})
    assert load_snapshot(wh, D0)["n"].tolist() == [5]
    # ... while the patch on the old one still reads through it
    assert load_snapshot(wh, later).equals(before)
    assert wh.count(rows_table("fam")) == 3
    assert list_snapshots(wh) == [D0, later]
    # once nothing reads the old part, its rows go
    write(
        wh, later, {"customer_id": ["A", "B"], "age": [0.0, 0.0], "score": [1.0, 1.0], "n": [1, 2]}
    )
    assert wh.count(rows_table("fam")) == 3  # the new D0 (1 row) and the new full later (2)
    assert set(current_parts(wh, later)) == {"fam"}


def test_a_patch_must_keep_its_parents_columns(wh) -> None:
    full = write(wh, D0, {"customer_id": ["A"], "age": [1.0], "score": [1.0], "n": [1]})
    other = NewPart("fam", staged(wh, {"customer_id": ["A"], "age": [1.0]}), FEATURES[:1], full)
    with pytest.raises(ValueError, match="keep its parent's columns"):
        write_snapshot(wh, D0 + dt.timedelta(days=1), [other], HALF_LIFE)
    assert list_snapshots(wh) == [D0]  # nothing of the failed write is left
