"""Every fault synth --dirty injects is caught by ingestion, at the right line and field."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from nextbest.ingest import ingest
from nextbest.synth import generate, spoil, write_store
from nextbest.warehouse import Warehouse

REASON = {
    "missing": "missing",
    "bad_timestamp": "invalid_timestamp",
    "negative": "out_of_range",
    "unknown_customer": "unknown_customer",
    "wrong_type": "invalid_type",
}
CASCADE = {"unknown_customer", "unknown_order", "unknown_product"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_spoiled_rows_are_quarantined_or_skipped(tmp_path: Path, fmt: str) -> None:
    store, spoiled = spoil(generate(customers=400, days=60, seed=5), seed=5, rate=0.02)
    write_store(store, tmp_path / "data", fmt=fmt, spoiled=spoiled)
    faults = pacsv.read_csv(tmp_path / "data" / "_truth" / "spoiled.csv").to_pylist()
    assert {f["fault"] for f in faults} >= {"duplicate", "missing", "bad_timestamp", "wrong_type"}
    with Warehouse(tmp_path / "w.duckdb", threads=1) as wh:
        report = ingest(wh, tmp_path / "data")
        quarantined = wh.execute(wh.table("_quarantine")).to_dict("records")
        emails = wh.execute(wh.table("customers").email)
    offset = 1 if fmt == "csv" else 0  # csv lines count the header; parquet rows do not
    duplicate_lines = {
        (f["table"], f["row"] + 1 + offset) for f in faults if f["fault"] == "duplicate"
    }
    got = {(q["target"], q["line"]): q for q in quarantined}
    expected_lines = set()
    for f in faults:
        if f["fault"] not in REASON:
            continue
        line = f["row"] + 1 + offset
        expected_lines.add((f["table"], line))
        q = got.get((f["table"], line))
        assert q is not None, f"not quarantined: {f}"
        # a row can fail earlier checks than the injected one only by cascade
        assert q["reason"] == REASON[f["fault"]] or q["reason"] in CASCADE, (f, q)
        if q["reason"] == REASON[f["fault"]]:
            assert q["field"] == f["field"], (f, q)
    for key, q in got.items():
        if key not in expected_lines and key not in duplicate_lines:
            assert q["reason"] in CASCADE, q  # rows that name a spoiled parent
    copies = [f for f in faults if f["fault"] == "duplicate"]
    # a copy of a bad row is quarantined like its original; the other copies are skipped
    bad_copies = sum(1 for f in copies if (f["table"], f["row"] + 1 + offset) in got)
    assert report.totals["duplicates"] == len(copies) - bad_copies
    assert all(e == e.strip().lower() for e in emails.dropna())
    assert report.totals["read"] == sum(t.num_rows for t in store.tables.values())
