"""Stored snapshots: the ``feature_snapshots`` table, one slice per ``as_of``.

>>> import datetime as dt, tempfile, pathlib
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     save_snapshot(wh, dt.datetime(2025, 1, 1))
...     list_snapshots(wh)
0
[]
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from nextbest.config import FeatureSettings
from nextbest.errors import NotFoundError
from nextbest.features.snapshot import build_snapshot
from nextbest.warehouse import Warehouse

__all__ = ["SNAPSHOT_TABLE", "list_snapshots", "load_snapshot", "save_snapshot"]

SNAPSHOT_TABLE = "feature_snapshots"


def save_snapshot(
    wh: Warehouse, as_of: dt.datetime, settings: FeatureSettings | None = None
) -> int:
    """Compute and store the snapshot as of ``as_of``, replacing any stored for it."""
    snap = build_snapshot(wh, as_of, settings)
    stamped = snap.select(
        as_of=ibis.literal(as_of, type="timestamp(6)"), **{c: snap[c] for c in snap.columns}
    )
    wh.replace_slice(SNAPSHOT_TABLE, stamped, "as_of", as_of)
    t = wh.table(SNAPSHOT_TABLE)
    return int(wh.execute(t.filter(t.as_of == ibis.literal(as_of, type="timestamp(6)")).count()))


def list_snapshots(wh: Warehouse) -> list[dt.datetime]:
    """The stored ``as_of`` values, oldest first."""
    if SNAPSHOT_TABLE not in wh.list_tables():
        return []
    t = wh.table(SNAPSHOT_TABLE)
    values = wh.execute(t.select("as_of").distinct().order_by("as_of"))["as_of"]
    return [v.to_pydatetime() for v in values]


def load_snapshot(
    wh: Warehouse, as_of: dt.datetime | None = None, customer_id: str | None = None
) -> pd.DataFrame:
    """A stored snapshot (the latest when ``as_of`` is None), optionally one customer."""
    stored = list_snapshots(wh)
    if not stored:
        raise NotFoundError(
            "no feature snapshot stored yet", hint="Run `nextbest features build` first."
        )
    chosen = as_of or stored[-1]
    if chosen not in stored:
        raise NotFoundError(
            f"no snapshot as of {chosen}",
            hint=f"Stored: {', '.join(str(s) for s in stored[-5:])}; build it with "
            f"`nextbest features build --as-of {chosen:%Y-%m-%d}`.",
        )
    t = wh.table(SNAPSHOT_TABLE)
    t = t.filter(t.as_of == ibis.literal(chosen, type="timestamp(6)"))
    if customer_id is not None:
        t = t.filter(t.customer_id == customer_id)
    return wh.to_pandas(t.order_by("customer_id"))
