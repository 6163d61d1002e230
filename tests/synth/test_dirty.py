"""Fault injection: every injected fault is listed, lands where it says, and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from nextbest.errors import NextBestError
from nextbest.schema import TABLES
from nextbest.synth import SynthStore, generate, spoil, write_store
from nextbest.synth.dirty import FAULTS, TEXT_COLUMNS, as_text

RATE = 0.05


@pytest.fixture(scope="module")
def store() -> SynthStore:
    return generate(customers=300, days=120, seed=7, start="2025-11-01")


@pytest.fixture(scope="module")
def spoilt(store: SynthStore) -> tuple[SynthStore, pa.Table]:
    return spoil(store, seed=3, rate=RATE)


def _clean_as_dirty(store: SynthStore, name: str) -> pa.Table:
    table = store.tables[name]
    cols = {
        c: as_text(table.column(c)) if c in TEXT_COLUMNS[name] else table.column(c)
        for c in table.column_names
    }
    return pa.table(cols)


def _differs(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    ne = pc.fill_null(pc.not_equal(a, b), True)
    return pc.and_(ne, pc.invert(both_null)).to_numpy(zero_copy_only=False)


def _listed(spoiled: pa.Table, name: str) -> pd.DataFrame:
    frame = spoiled.to_pandas()
    return frame[frame["table"] == name]


def test_clean_store_is_left_untouched(store: SynthStore, spoilt) -> None:
    fresh = generate(customers=300, days=120, seed=7, start="2025-11-01")
    for name in TABLES:
        assert store.tables[name].equals(fresh.tables[name]), name
    dirty, _ = spoilt
    assert dirty.truth.equals(store.truth)
    assert dirty.tables is not store.tables


def test_spoiled_table_shape(spoilt) -> None:
    _, spoiled = spoilt
    assert spoiled.schema.names == ["table", "row", "line", "key", "fault", "field"]
    frame = spoiled.to_pandas()
    assert set(frame["fault"]) == set(FAULTS)
    assert (frame["line"] == frame["row"] + 2).all()
    assert not frame.duplicated(["table", "row"]).any()  # one fault per row
    assert frame["key"].notna().all()
    assert frame.loc[frame["fault"] == "duplicate", "field"].isna().all()
    assert frame.loc[frame["fault"] != "duplicate", "field"].notna().all()


def test_text_columns_become_strings(store: SynthStore, spoilt) -> None:
    dirty, _ = spoilt
    for name in TABLES:
        schema = dirty.tables[name].schema
        assert schema.names == TABLES[name].names
        for col in schema.names:
            if col in TEXT_COLUMNS[name]:
                assert schema.field(col).type == pa.string(), (name, col)
            else:
                assert schema.field(col).type == store.tables[name].schema.field(col).type


def test_every_changed_row_is_listed_with_its_field(store: SynthStore, spoilt) -> None:
    dirty, spoiled = spoilt
    for name in TABLES:
        clean = _clean_as_dirty(store, name)
        n = clean.num_rows
        head = dirty.tables[name].slice(0, n)
        listed = _listed(spoiled, name)
        edits = listed[listed["fault"] != "duplicate"].set_index("row")
        changed: dict[int, list[str]] = {}
        for col in clean.column_names:
            for row in np.flatnonzero(_differs(head.column(col), clean.column(col))):
                changed.setdefault(int(row), []).append(col)
        assert set(changed) == set(edits.index), name
        for row, cols in changed.items():
            assert cols == [edits.loc[row, "field"]], (name, row)


def test_duplicates_are_exact_copies_appended(store: SynthStore, spoilt) -> None:
    dirty, spoiled = spoilt
    for name in TABLES:
        n = store.tables[name].num_rows
        table = dirty.tables[name]
        listed = _listed(spoiled, name)
        dups = listed[listed["fault"] == "duplicate"]
        assert sorted(dups["row"]) == list(range(n, table.num_rows)), name
        clean = _clean_as_dirty(store, name).to_pandas()
        copies = table.slice(n).to_pandas()
        merged = copies.merge(clean, how="left", indicator=True)
        assert (merged["_merge"] == "both").all(), name


def test_rate_is_kept_per_table(store: SynthStore, spoilt) -> None:
    dirty, spoiled = spoilt
    counts = spoiled.to_pandas().groupby("table").size()
    for name in TABLES:
        rows = dirty.tables[name].num_rows
        if store.tables[name].num_rows >= 200:
            assert 0.5 * RATE <= counts.get(name, 0) / rows <= 1.5 * RATE, name


def test_bad_values_are_really_bad(store: SynthStore, spoilt) -> None:
    dirty, spoiled = spoilt
    frame = spoiled.to_pandas()
    known = set(store.tables["customers"].column("customer_id").to_pylist())
    for (name, fault, field), group in frame.groupby(["table", "fault", "field"]):
        values = dirty.tables[name].column(field).take(pa.array(group["row"])).to_pylist()
        if fault == "missing":
            assert all(v is None for v in values)
        elif fault == "bad_timestamp":
            parsed = pd.to_datetime(pd.Series(values), errors="coerce", format="mixed")
            assert parsed.isna().all(), values
        elif fault == "negative":
            assert all(float(v) < 0 for v in values)
        elif fault == "unknown_customer":
            assert all(v.startswith("C") and v not in known for v in values)
        elif fault == "wrong_type":
            assert pd.to_numeric(pd.Series(values), errors="coerce").isna().all()
            assert not set(values) & {"true", "false"}
        elif fault == "messy_email":
            clean = store.tables["customers"].column("email").take(pa.array(group["row"]))
            assert [v.strip().lower() for v in values] == clean.to_pylist()
            assert all(v != v.strip() and v != v.lower() for v in values)


def test_keys_point_at_the_original_rows(store: SynthStore, spoilt) -> None:
    _, spoiled = spoilt
    frame = spoiled.to_pandas()
    events = frame[(frame["table"] == "events") & (frame["fault"] != "duplicate")]
    ids = store.tables["events"].column("event_id").take(pa.array(events["row"])).to_pylist()
    assert ids == list(events["key"])
    items = frame[frame["table"] == "order_items"]
    assert items["key"].str.fullmatch(r"O\d{8}\|\d+").all()


def test_csv_lines_match(store: SynthStore, spoilt, tmp_path) -> None:
    dirty, spoiled = spoilt
    paths = write_store(dirty, tmp_path, fmt="csv", spoiled=spoiled)
    listed = pd.read_csv(paths["spoiled"])
    assert len(listed) == spoiled.num_rows
    lines = paths["events"].read_text().splitlines()
    assert len(lines) == dirty.tables["events"].num_rows + 1
    events = listed[listed["table"] == "events"]
    for line, key in zip(events["line"], events["key"], strict=True):
        assert f'"{key}"' in lines[line - 1]


def test_same_seed_same_faults(store: SynthStore, spoilt) -> None:
    dirty, spoiled = spoilt
    again, spoiled_again = spoil(store, seed=3, rate=RATE)
    assert spoiled_again.equals(spoiled)
    for name in TABLES:
        assert again.tables[name].equals(dirty.tables[name])
    _, other = spoil(store, seed=4, rate=RATE)
    assert not other.equals(spoiled)


def test_zero_rate_only_changes_types(store: SynthStore) -> None:
    dirty, spoiled = spoil(store, seed=1, rate=0.0)
    assert spoiled.num_rows == 0
    for name in TABLES:
        assert dirty.tables[name].equals(_clean_as_dirty(store, name))


def test_bad_rate_is_refused(store: SynthStore) -> None:
    with pytest.raises(NextBestError):
        spoil(store, rate=0.9)
