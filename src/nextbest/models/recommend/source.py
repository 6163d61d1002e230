"""Interactions from the warehouse: product views, add-to-carts and order lines, weighted.

:func:`interaction_events` reads one row per event from the canonical tables as
an engine-agnostic expression: every ``events`` row with a product and an event
type in ``weights``, and every order line (as event type ``purchase``, at its
order's time, once per line). Rows at or after ``as_of`` (and before ``since``)
are left out. :func:`warehouse_interactions` turns them into
:class:`~nextbest.models.recommend.interactions.Interactions` with each event
weighted by its type (view < cart < purchase by default) and decayed by age.

>>> DEFAULT_WEIGHTS["product_view"] < DEFAULT_WEIGHTS["add_to_cart"] < DEFAULT_WEIGHTS["purchase"]
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.interactions import Interactions

if TYPE_CHECKING:
    from nextbest.warehouse import Warehouse

__all__ = ["DEFAULT_WEIGHTS", "interaction_events", "warehouse_interactions"]

DEFAULT_WEIGHTS: dict[str, float] = {"product_view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
"""Weight per event type; ``purchase`` is an order line."""

_TS = "timestamp(6)"


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for name, value in weights.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise RecommendInputError(
                f"the weight of {name!r} must be a number >= 0; got {value!r}.",
                field="weights",
            )
        if value > 0:
            out[str(name)] = float(value)
    if not out:
        raise RecommendInputError("every event-type weight is 0.", field="weights")
    return out


def interaction_events(
    wh: Warehouse,
    weights: Mapping[str, float] | None = None,
    *,
    as_of: dt.datetime | None = None,
    since: dt.datetime | None = None,
) -> ibis.Table:
    """``customer_id, product_id, event_type, occurred_at`` per event (see the module docstring)."""
    w = _check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    parts = []
    other = [t for t in w if t != "purchase"]
    if other:
        e = wh.table("events")
        e = e.filter(e.product_id.notnull() & e.event_type.isin(other))
        parts.append(e.select("customer_id", "product_id", "event_type", "occurred_at"))
    if "purchase" in w:
        o, li = wh.table("orders"), wh.table("order_items")
        j = li.join(o, li.order_id == o.order_id)
        parts.append(
            j.select(
                customer_id=j.customer_id,
                product_id=j.product_id,
                event_type=ibis.literal("purchase"),
                occurred_at=j.ordered_at,
            )
        )
    out = parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)
    if as_of is not None:
        out = out.filter(out.occurred_at < ibis.literal(as_of, type=_TS))
    if since is not None:
        out = out.filter(out.occurred_at >= ibis.literal(since, type=_TS))
    return out


def warehouse_interactions(
    wh: Warehouse,
    weights: Mapping[str, float] | None = None,
    *,
    as_of: dt.datetime | None = None,
    since: dt.datetime | None = None,
    half_life_days: float | None = None,
    users: Iterable[Any] | None = None,
    items: Iterable[Any] | None = None,
    pairs: bool = False,
) -> Interactions:
    """Weighted, decayed interactions before ``as_of``; see the module docstring.

    ``items`` defaults to every product in the catalogue, so new products get a
    column; ``users`` to the customers with at least one interaction. Ages decay
    from ``as_of`` (default: the latest event). With ``pairs`` the warehouse sums
    the weights per (customer, product) and the result's ``log`` holds one row
    per pair at its latest time: the same matrix, far less to move, but no event
    sequence (enough for EASE, co-occurrence and popularity, not for transitions).
    """
    w = _check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    if half_life_days is not None and not half_life_days > 0:
        raise RecommendInputError(
            f"must be positive; got {half_life_days!r}.", field="half_life_days"
        )
    events = interaction_events(wh, w, as_of=as_of, since=since)
    if pairs:
        weight = events.event_type.substitute(w, else_=0.0).cast("float64")
        if half_life_days is not None:
            now = (
                ibis.literal(as_of, type=_TS)
                if as_of is not None
                else events.occurred_at.max().as_scalar()
            )
            age = now.epoch_seconds() - events.occurred_at.epoch_seconds()
            weight = weight * (ibis.literal(2.0) ** (-age / (half_life_days * 86_400.0)))
        events = (
            events.mutate(weight=weight)
            .group_by("customer_id", "product_id")
            .aggregate(weight=lambda t: t.weight.sum(), occurred_at=lambda t: t.occurred_at.max())
        )
    frame = wh.to_pandas(events)
    if frame.empty:
        raise RecommendInputError(
            "the warehouse holds no product interactions"
            + (f" before {as_of:%Y-%m-%d %H:%M}" if as_of is not None else "")
            + ".",
            field="events",
            hint="Load orders with order lines or product events first.",
        )
    if not pairs:
        frame["weight"] = frame["event_type"].map(w).astype(np.float64)
    if items is None:
        catalogue = wh.to_pandas(wh.table("products").select("product_id"))["product_id"]
        items = pd.concat([catalogue, frame["product_id"]]).astype(str).unique()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["product_id"] = frame["product_id"].astype(str)
    return Interactions.from_frame(
        frame,
        "customer_id",
        "product_id",
        "occurred_at",
        "weight",
        users=users,
        items=items,
        half_life_days=None if pairs else half_life_days,
        as_of=as_of,
    )
