"""Small helpers the tests share."""

from __future__ import annotations

from nextbest.warehouse import Warehouse


def rows(wh: Warehouse, table: str, order_by: str | list[str] | None = None) -> list[dict]:
    t = wh.table(table)
    return wh.execute(t.order_by(order_by or t.columns[0])).to_dict("records")
