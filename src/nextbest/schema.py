"""Canonical tables and their column contracts.

Every source is mapped onto these tables. A column contract says the type, whether
the value is required, its allowed range or values, and a table's natural key
(what makes a row the same row when a file is loaded twice).

>>> orders = TABLES["orders"]
>>> orders.key
('order_id',)
>>> orders.column("total").dtype
'decimal(18,3)'
>>> [t.name for t in load_order()][:3]
['customers', 'products', 'orders']
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "EVENT_TYPES",
    "MESSAGE_CHANNELS",
    "TABLES",
    "Column",
    "ForeignKey",
    "Table",
    "load_order",
]

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "search",
)
MESSAGE_CHANNELS: tuple[str, ...] = ("email", "push", "sms", "web", "in_app")
MONEY = "decimal(18,3)"


@dataclass(frozen=True)
class Column:
    """One canonical column: name, Ibis type string and its contract."""

    name: str
    dtype: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None
    description: str = ""

    @property
    def kind(self) -> str:
        """Coarse type family: string, int, decimal, float, bool, timestamp, date, json."""
        base = self.dtype.split("(")[0]
        return {"int32": "int", "int64": "int", "float64": "float"}.get(base, base)


@dataclass(frozen=True)
class ForeignKey:
    """``column`` must name an existing row of ``table`` (checked when enabled)."""

    column: str
    table: str
    reason: str


@dataclass(frozen=True)
class Table:
    """A canonical table: ordered columns, natural key and references."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str | None = None
    references: tuple[ForeignKey, ...] = field(default_factory=tuple)
    description: str = ""

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ibis_schema(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}


def _t(name: str, key: tuple[str, ...], *cols: Column, **kw: object) -> Table:
    return Table(name=name, columns=cols, key=key, **kw)  # type: ignore[arg-type]


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _t(
            "customers",
            ("customer_id",),
            Column("customer_id", "string", required=True, description="customer id"),
            Column("email", "string", description="lower-cased, trimmed e-mail address"),
            Column("first_name", "string"),
            Column("birth_date", "date"),
            Column("country", "string", description="ISO 3166 alpha-2 code"),
            Column("signup_at", "timestamp(6)", description="first seen / signed up (UTC)"),
            Column("attributes", "json", description="any further source fields"),
            time_column="signup_at",
            description="one row per customer (CRM profile)",
        ),
        _t(
            "products",
            ("product_id",),
            Column("product_id", "string", required=True),
            Column("name", "string"),
            Column("category", "string"),
            Column("brand", "string"),
            Column("price", MONEY, min=0),
            Column("in_stock", "boolean"),
            Column("attributes", "json"),
            description="catalogue",
        ),
        _t(
            "orders",
            ("order_id",),
            Column("order_id", "string", required=True),
            Column("customer_id", "string", required=True),
            Column("ordered_at", "timestamp(6)", required=True),
            Column("total", MONEY, required=True, min=0),
            Column("currency", "string", description="ISO 4217 code"),
            Column("channel", "string"),
            time_column="ordered_at",
            references=(ForeignKey("customer_id", "customers", "unknown_customer"),),
            description="one row per order",
        ),
        _t(
            "order_items",
            ("order_id", "line_no"),
            Column("order_id", "string", required=True),
            Column("line_no", "int32", required=True, min=1),
            Column("product_id", "string", required=True),
            Column("quantity", "int32", required=True, min=1),
            Column("unit_price", MONEY, required=True, min=0),
            references=(
                ForeignKey("order_id", "orders", "unknown_order"),
                ForeignKey("product_id", "products", "unknown_product"),
            ),
            description="order lines; the same product may appear on several lines",
        ),
        _t(
            "events",
            ("event_id",),
            Column("event_id", "string", required=True),
            Column("customer_id", "string", required=True),
            Column("session_id", "string"),
            Column("event_type", "string", required=True, enum=EVENT_TYPES),
            Column("product_id", "string"),
            Column("category", "string"),
            Column("occurred_at", "timestamp(6)", required=True),
            Column("properties", "json"),
            time_column="occurred_at",
            references=(ForeignKey("customer_id", "customers", "unknown_customer"),),
            description="behavioural events (web, app)",
        ),
        _t(
            "messages",
            ("message_id",),
            Column("message_id", "string", required=True),
            Column("customer_id", "string", required=True),
            Column("channel", "string", required=True, enum=MESSAGE_CHANNELS),
            Column("campaign", "string"),
            Column("sent_at", "timestamp(6)", required=True),
            Column("opened_at", "timestamp(6)"),
            Column("clicked_at", "timestamp(6)"),
            Column("converted_at", "timestamp(6)"),
            time_column="sent_at",
            references=(ForeignKey("customer_id", "customers", "unknown_customer"),),
            description="messages sent and their engagement",
        ),
        _t(
            "consents",
            ("customer_id", "purpose", "channel", "updated_at"),
            Column("customer_id", "string", required=True),
            Column("purpose", "string", required=True),
            Column("channel", "string", required=True),
            Column("granted", "boolean", required=True),
            Column("updated_at", "timestamp(6)", required=True),
            Column("source", "string"),
            time_column="updated_at",
            references=(ForeignKey("customer_id", "customers", "unknown_customer"),),
            description="consent history; the latest row per purpose and channel holds",
        ),
    )
}


def load_order() -> list[Table]:
    """Tables in an order where every reference is loaded before it is checked."""
    return list(TABLES.values())
