"""Only CTEs that filter a stored table are read again instead of buffered."""

from __future__ import annotations

import sqlglot
import sqlglot.expressions as sge

from nextbest.warehouse.plans import inline_filtered_scans


def _inlined(sql: str) -> dict[str, bool]:
    query = inline_filtered_scans(sqlglot.parse_one(sql, read="duckdb"))
    return {cte.alias: cte.args.get("materialized") is False for cte in query.find_all(sge.CTE)}


def test_filtered_scans_inline_and_the_rest_stay() -> None:
    found = _inlined(
        "WITH e AS (SELECT * FROM events WHERE t < 1), "
        "g AS (SELECT c, COUNT(*) AS n FROM events GROUP BY c), "
        "j AS (SELECT * FROM events JOIN orders USING (c)), "
        "f AS (SELECT * FROM g WHERE n > 1), "
        "p AS (SELECT a, b FROM events WHERE t < 1) "
        "SELECT * FROM e, g, j, f, p"
    )
    # e filters a stored table; g aggregates, j joins, f reads another CTE, p picks columns
    assert found == {"e": True, "g": False, "j": False, "f": False, "p": False}


def test_an_explicit_choice_is_kept() -> None:
    assert _inlined(
        "WITH e AS MATERIALIZED (SELECT * FROM events WHERE t < 1) SELECT * FROM e"
    ) == {"e": False}
