"""What a feature family sees: the warehouse tables cut strictly before ``as_of``.

Every table a family can read is filtered to rows whose time is before ``as_of``,
so no feature can leak the future; engagement timestamps that come after a send
(opened, clicked) are cut too.

>>> import datetime as dt
>>> ctx = Context.empty(dt.datetime(2025, 3, 1))
>>> ctx.settings.windows
[30, 90, 365]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis

from nextbest.config import FeatureSettings
from nextbest.schema import TABLES
from nextbest.warehouse import Warehouse

__all__ = ["Context", "default_as_of"]

SECONDS_PER_DAY = 86_400.0


@dataclass
class Context:
    """The point in time, the settings and the tables cut at that point."""

    as_of: dt.datetime
    settings: FeatureSettings = field(default_factory=FeatureSettings)
    tables: dict[str, ibis.Table] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)

    @classmethod
    def empty(
        cls, as_of: dt.datetime | None = None, settings: FeatureSettings | None = None
    ) -> Context:
        """A context without data (for feature metadata)."""
        return cls(as_of or dt.datetime(2000, 1, 1), settings or FeatureSettings())

    @classmethod
    def from_warehouse(
        cls,
        wh: Warehouse,
        as_of: dt.datetime,
        settings: FeatureSettings | None = None,
        categories: list[str] | None = None,
    ) -> Context:
        """The warehouse's canonical tables cut at ``as_of``."""
        tables = {name: wh.table(name) for name in TABLES}
        return cls.from_tables(tables, as_of, settings, categories)

    @classmethod
    def from_tables(
        cls,
        tables: dict[str, ibis.Table],
        as_of: dt.datetime,
        settings: FeatureSettings | None = None,
        categories: list[str] | None = None,
    ) -> Context:
        """Canonical tables on any Ibis backend, cut at ``as_of``.

        ``categories`` are the top categories when already known (else counted).
        """
        ctx = cls(as_of, settings or FeatureSettings())
        cut = ibis.literal(as_of, type="timestamp(6)")
        for name, spec in TABLES.items():
            t = tables[name]
            if spec.time_column:
                when = t[spec.time_column]
                required = spec.column(spec.time_column).required
                t = t.filter(when < cut if required else when.isnull() | (when < cut))
            ctx.tables[name] = t
        items = tables["order_items"]
        ctx.tables["order_items"] = items.semi_join(ctx.tables["orders"], "order_id")
        if categories is None:
            categories = _top_categories(ctx, ctx.settings.top_categories)
        ctx.categories = categories
        msgs = ctx.tables["messages"]
        ctx.tables["messages"] = msgs.mutate(
            **{
                c: ibis.ifelse(msgs[c] < cut, msgs[c], ibis.null().cast("timestamp(6)"))
                for c in ("opened_at", "clicked_at", "converted_at")
            }
        )
        return ctx

    def __getitem__(self, name: str) -> ibis.Table:
        return self.tables[name]

    def events_with_products(self, events: ibis.Table | None = None) -> ibis.Table:
        """Events (default: all before ``as_of``) with their product's brand, and the
        category filled from the product."""
        e = self["events"] if events is None else events
        products = self["products"].select("product_id", "brand", _pcat="category")
        e = e.left_join(products, "product_id").drop("product_id_right")
        return e.mutate(category=e.category.fill_null(e._pcat)).drop("_pcat")

    @property
    def cut(self) -> ibis.Value:
        return ibis.literal(self.as_of, type="timestamp(6)")

    def age_days(self, ts: ibis.Value) -> ibis.Value:
        """Days from ``ts`` to ``as_of`` (fractional, to the whole second on every engine)."""
        seconds = self.cut.epoch_seconds().cast("float64") - _epoch(ts)
        return seconds / SECONDS_PER_DAY

    def within(self, ts: ibis.Value, days: int) -> ibis.Value:
        """``ts`` falls in the ``days`` days before ``as_of``."""
        return ts >= self.cut - ibis.interval(days=days)

    def decay(self, ts: ibis.Value) -> ibis.Value:
        """Weight 2^(-age / half-life): 1 now, 1/2 one half-life ago."""
        return (-self.age_days(ts) * (0.6931471805599453 / self.settings.half_life_days)).exp()


def _epoch(ts: ibis.Value) -> ibis.Value:
    """Whole seconds since 1970 (engines disagree on fractions, so drop them)."""
    return ts.truncate("s").epoch_seconds().cast("float64")


def _top_categories(ctx: Context, n: int) -> list[str]:
    """The ``n`` categories with the most product events before ``as_of`` (ties by name)."""
    e = ctx.events_with_products()
    counts = (
        e.filter(e.category.notnull())
        .group_by("category")
        .aggregate(n=ibis._.count())
        .order_by([ibis.desc("n"), "category"])
        .limit(n)
    )
    return [str(c) for c in counts.execute()["category"]]


def default_as_of(wh: Warehouse) -> dt.datetime:
    """Midnight after the latest timestamp in the warehouse (so every row is before it)."""
    latest: dt.datetime | None = None
    for name, spec in TABLES.items():
        if spec.time_column and name in ("orders", "events", "messages"):
            value = wh.execute(wh.table(name)[spec.time_column].max())
            if value is not None and value == value and (latest is None or value > latest):
                latest = value
    if latest is None:
        latest = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    day = dt.datetime(latest.year, latest.month, latest.day)
    return day + dt.timedelta(days=1)
