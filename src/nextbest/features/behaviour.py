"""Behaviour features from events: sessions, funnel counts, cart abandonment, activity.

A cart is abandoned when an ``add_to_cart`` is followed by no purchase of the same
customer within ``features.abandonment_hours``; carts younger than that at ``as_of``
are not counted yet (their outcome is unknown).
"""

from __future__ import annotations

import ibis

from nextbest.features.context import Context
from nextbest.features.registry import REGISTRY, Feature, count

__all__ = ["abandoned_carts", "behaviour", "finish_behaviour"]

COUNTED = {
    "product_views": ("product_view", "product views"),
    "add_to_carts": ("add_to_cart", "add-to-cart events"),
    "searches": ("search", "searches"),
}


def _declared(ctx: Context) -> list[Feature]:
    out = []
    for w in ctx.settings.windows:
        win = f"{w}d"
        out.append(count(f"sessions_{win}", f"sessions in the last {w} days", window=win))
        for name, (_, text) in COUNTED.items():
            out.append(count(f"{name}_{win}", f"{text} in the last {w} days", window=win))
        out.append(count(f"cart_abandonments_{win}", f"abandoned carts in the last {w} days", win))
    half = f"{ctx.settings.half_life_days:g}"
    return [
        *out,
        Feature("days_since_last_event", "days since the last event", per_day=1),
        Feature("days_since_last_abandonment", "days since the last abandoned cart", per_day=1),
        Feature("avg_session_minutes", "mean session length (first to last event)"),
        Feature("bounce_rate", "share of sessions with a single event"),
        Feature("activity_score", f"events weighted 2^(-age/{half} days)", fill=0, decays=True),
    ]


def abandoned_carts(ctx: Context, e: ibis.Table) -> ibis.Table:
    """The abandoned carts among events ``e`` whose outcome is known at ``as_of``.

    A cart's outcome is known once its whole window has passed before ``as_of``, so
    every purchase that could rescue it is in the data.
    """
    carts_and_buys = e.filter(e.event_type.isin(["add_to_cart", "purchase"]))
    buy_time = ibis.ifelse(
        carts_and_buys.event_type == "purchase",
        carts_and_buys.occurred_at,
        ibis.null().cast("timestamp(6)"),
    )
    # the earliest purchase at or after each event: a running minimum, latest first
    from_here_on = ibis.cumulative_window(
        group_by="customer_id", order_by=[ibis.desc("occurred_at"), ibis.desc("event_type")]
    )
    t = carts_and_buys.mutate(_next_buy=buy_time.min().over(from_here_on))
    horizon = ibis.interval(seconds=int(ctx.settings.abandonment_hours * 3600))
    carts = t.filter(t.event_type == "add_to_cart")
    settled = carts.occurred_at + horizon < ctx.cut  # the window has passed by as_of
    abandoned = settled & (t._next_buy.isnull() | (t._next_buy > carts.occurred_at + horizon))
    return carts.filter(abandoned).select("customer_id", "occurred_at")


@REGISTRY.family("behaviour", _declared, order=20)
def behaviour(ctx: Context) -> ibis.Table:
    e = ctx["events"]
    counts = {}  # filtered counts skip the rows they do not count
    for w in ctx.settings.windows:
        inside = ctx.within(e.occurred_at, w)
        for name, (event_type, _) in COUNTED.items():
            counts[f"{name}_{w}d"] = e.count(where=inside & (e.event_type == event_type))
    per_customer = e.group_by("customer_id").aggregate(
        **counts,
        _last=e.occurred_at.max(),
        activity_score=ctx.decay(e.occurred_at).sum(),
    )
    in_session = e.filter(e.session_id.notnull())
    sessions = in_session.group_by(["customer_id", "session_id"]).aggregate(
        _first=in_session.occurred_at.min(),
        _last=in_session.occurred_at.max(),
        _events=in_session.count(),
    )
    # a session has an event in a window that ends at as_of exactly when its last one does
    session_stats = sessions.group_by("customer_id").aggregate(
        avg_session_minutes=(
            (ctx.age_days(sessions._first) - ctx.age_days(sessions._last)) * 1440.0
        ).mean(),
        bounce_rate=(sessions._events == 1).cast("float64").mean(),
        **{
            f"sessions_{w}d": sessions.count(where=ctx.within(sessions._last, w))
            for w in ctx.settings.windows
        },
    )
    carts = abandoned_carts(ctx, e)
    cart_counts = carts.group_by("customer_id").aggregate(
        _last_abandoned=carts.occurred_at.max(),
        **{
            f"cart_abandonments_{w}d": carts.count(where=ctx.within(carts.occurred_at, w))
            for w in ctx.settings.windows
        },
    )
    t = per_customer.left_join(session_stats, "customer_id").drop("customer_id_right")
    t = t.left_join(cart_counts, "customer_id").drop("customer_id_right")
    return finish_behaviour(ctx, t)


def finish_behaviour(ctx: Context, t: ibis.Table) -> ibis.Table:
    """Turn the last event and last abandonment times into ages."""
    return t.mutate(
        days_since_last_event=ctx.age_days(t._last),
        days_since_last_abandonment=ctx.age_days(t._last_abandoned),
    ).drop("_last", "_last_abandoned")
