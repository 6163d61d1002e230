"""Features written in the settings: one SQL aggregate each, no code needed.

.. code-block:: yaml

    features:
      custom:
        - name: big_orders_90d
          table: orders
          aggregate: "count(*) FILTER (WHERE total > 100)"
          window_days: 90
          fill: 0
          description: orders over 100 in the last 90 days

The aggregate is SQL over the table's canonical columns, grouped by customer; it is
parsed and translated for the engine, so it runs wherever the warehouse does.
"""

from __future__ import annotations

import ibis

from nextbest.errors import ConfigError
from nextbest.features.context import Context
from nextbest.features.registry import REGISTRY, Feature
from nextbest.schema import TABLES

__all__ = ["custom"]


def _declared(ctx: Context) -> list[Feature]:
    return [
        Feature(
            c.name,
            c.description or f"{c.aggregate} over {c.table}",
            window=f"{c.window_days}d" if c.window_days else "lifetime",
            fill=c.fill,
        )
        for c in ctx.settings.custom
    ]


@REGISTRY.family("custom", _declared, order=90)
def custom(ctx: Context) -> ibis.Table:
    out = ctx["customers"].select("customer_id")
    for i, c in enumerate(ctx.settings.custom):
        spec = TABLES.get(c.table)
        if spec is None or "customer_id" not in spec.names:
            raise ConfigError(
                f"custom feature {c.name!r}: table {c.table!r} has no customer_id",
                field="features.custom",
                hint="Use customers, orders, events, messages or consents.",
            )
        t = ctx[c.table]
        if c.window_days and spec.time_column:
            t = t.filter(ctx.within(t[spec.time_column], c.window_days))
        try:
            alias = f"custom_rows_{i}"  # each aggregate gets its own name in the query
            part = t.alias(alias).sql(
                f'SELECT customer_id, ({c.aggregate}) AS "{c.name}" '
                f"FROM {alias} GROUP BY customer_id",
                dialect="duckdb",
            )
        except Exception as err:  # the SQL parser raises several types
            raise ConfigError(
                f"custom feature {c.name!r}: {str(err).splitlines()[0]}",
                field="features.custom",
                hint="The aggregate must be SQL over the table's columns, e.g. avg(total).",
            ) from None
        out = out.left_join(part, "customer_id").drop("customer_id_right")
    return out.mutate(**{c.name: out[c.name].cast("float64") for c in ctx.settings.custom})
