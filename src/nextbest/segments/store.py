"""Stored segments: the ``segments`` table, one slice per snapshot ``as_of``."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pyarrow as pa

from nextbest.warehouse import Warehouse

__all__ = ["SEGMENT_TABLE", "load_segments", "previous_as_of", "save_segments"]

SEGMENT_TABLE = "segments"


def save_segments(wh: Warehouse, as_of: dt.datetime, table: pd.DataFrame) -> None:
    """Store one customer-per-row segment table for ``as_of`` (replacing an earlier one)."""
    frame = table.copy()
    frame.insert(0, "as_of", pd.Timestamp(as_of))
    for col in ("r", "f", "m", "fm"):
        frame[col] = frame[col].astype("Int64")
    data = wh.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    data = data.mutate(as_of=data.as_of.cast("timestamp(6)"))
    wh.replace_slice(SEGMENT_TABLE, data, "as_of", as_of)


def previous_as_of(wh: Warehouse, as_of: dt.datetime) -> dt.datetime | None:
    """The latest stored segmentation before ``as_of``, if any."""
    if SEGMENT_TABLE not in wh.list_tables():
        return None
    t = wh.table(SEGMENT_TABLE)
    value = wh.execute(t.filter(t.as_of < ibis.literal(as_of, type="timestamp(6)")).as_of.max())
    return None if value is None or value != value else value.to_pydatetime()


def load_segments(wh: Warehouse, as_of: dt.datetime) -> pd.DataFrame:
    t = wh.table(SEGMENT_TABLE)
    return wh.to_pandas(t.filter(t.as_of == ibis.literal(as_of, type="timestamp(6)")))
