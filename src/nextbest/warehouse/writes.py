"""Keyed writes for derived tables: replace a table, or upsert rows by key.

>>> import tempfile, pathlib, ibis
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     overwrite(wh, "t", ibis.memtable({"k": [1, 2], "v": [10, 20]}))
...     upsert(wh, "t", ibis.memtable({"k": [2, 3], "v": [21, 30]}), ["k"])
...     wh.to_pandas(wh.table("t").order_by("k"))["v"].tolist()
[10, 21, 30]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis

if TYPE_CHECKING:
    from nextbest.warehouse.connection import Warehouse

__all__ = ["delete_in", "delete_matching", "overwrite", "upsert"]


def overwrite(wh: Warehouse, name: str, expr: ibis.Table) -> None:
    """Make table ``name`` hold exactly ``expr``'s rows (created when missing)."""
    wh.con.create_table(name, expr, overwrite=True)


def delete_matching(name: str, source: str, keys: list[str]) -> str:
    """The statement deleting the rows of table ``name`` whose ``keys`` appear in table
    ``source``."""
    match = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
    return f'DELETE FROM "{name}" AS t USING "{source}" AS s WHERE {match}'


def upsert(wh: Warehouse, name: str, expr: ibis.Table, keys: list[str]) -> None:
    """Replace the rows of ``name`` whose ``keys`` appear in ``expr`` by ``expr``'s rows.

    Rows of ``expr`` with new keys are added; ``expr`` must hold each key once, and
    keys are never null.
    The table is created from ``expr`` when missing.
    """
    if name not in wh.list_tables():
        overwrite(wh, name, expr)
        return
    with wh.transaction():
        rows = wh.stage(expr, "upsert")
        wh.raw_sql(delete_matching(name, wh.table_name(rows), keys))
        wh.insert(name, rows)


def delete_in(wh: Warehouse, name: str, column: str, values: list[Any]) -> None:
    """Delete the rows of table ``name`` whose ``column`` is one of ``values``."""
    if not values:
        return
    marks = ", ".join("?" for _ in values)
    wh.raw_sql(f'DELETE FROM "{name}" WHERE "{column}" IN ({marks})', params=list(values))
