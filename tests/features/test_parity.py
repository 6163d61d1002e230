"""The same feature definitions give the same snapshot on a second engine (DataFusion)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pandas as pd

from nextbest.features import build_snapshot
from nextbest.ingest import ingest
from nextbest.schema import TABLES
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse


def test_duckdb_and_datafusion_agree(tmp_path: Path) -> None:
    write_store(generate(customers=250, days=120, seed=8), tmp_path / "data", fmt="parquet")
    as_of = dt.datetime(2025, 4, 1, 6, 30)
    with Warehouse(tmp_path / "w.duckdb", threads=1) as wh:
        ingest(wh, tmp_path / "data")
        on_duckdb = wh.to_pandas(build_snapshot(wh, as_of))
        arrow = {name: wh.to_arrow(wh.table(name)) for name in TABLES}
    con = ibis.datafusion.connect()
    tables = {name: con.create_table(name, data) for name, data in arrow.items()}
    on_datafusion = build_snapshot(tables, as_of).execute()
    assert len(on_duckdb) > 150
    assert list(on_duckdb.columns) == list(on_datafusion.columns)
    pd.testing.assert_frame_equal(
        on_duckdb.reset_index(drop=True),
        on_datafusion.reset_index(drop=True),
        check_dtype=False,
        rtol=1e-9,
    )
