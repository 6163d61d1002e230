"""RFM features: recency, frequency and monetary value, order rhythm, tenure.

Frequency and monetary value are given per rolling window (``features.windows``)
and over the lifetime; inter-purchase time is the gap between consecutive orders.
"""

from __future__ import annotations

import ibis

from nextbest.features.context import Context
from nextbest.features.registry import REGISTRY, Feature, count

__all__ = ["finish_rfm", "rfm"]


def _declared(ctx: Context) -> list[Feature]:
    out = [
        Feature("recency_days", "days since the last order before as_of", per_day=1),
        count("frequency", "orders before as_of"),
        Feature("monetary", "spend before as_of", window="lifetime", fill=0),
        Feature("aov", "average order value"),
        Feature("ipt_mean_days", "mean days between consecutive orders"),
        Feature("ipt_std_days", "standard deviation of the days between consecutive orders"),
        Feature(
            "expected_days_to_next",
            "mean inter-purchase time minus days since the last order (negative: overdue)",
            per_day=-1,
        ),
    ]
    for w in ctx.settings.windows:
        out.append(count(f"frequency_{w}d", f"orders in the last {w} days", window=f"{w}d"))
        out.append(Feature(f"monetary_{w}d", f"spend in the last {w} days", window=f"{w}d", fill=0))
    return out


@REGISTRY.family("rfm", _declared, order=10)
def rfm(ctx: Context) -> ibis.Table:
    orders = ctx["orders"]
    total = orders.total.cast("float64")
    windows = {}
    for w in ctx.settings.windows:
        inside = ctx.within(orders.ordered_at, w)
        windows[f"frequency_{w}d"] = inside.cast("int64").sum()
        windows[f"monetary_{w}d"] = ibis.ifelse(inside, total, 0.0).sum()
    previous = orders.ordered_at.lag().over(group_by="customer_id", order_by="ordered_at")
    gaps = orders.mutate(_gap=ctx.age_days(previous) - ctx.age_days(orders.ordered_at))
    per_customer = gaps.group_by("customer_id").aggregate(
        last_order=gaps.ordered_at.max(),
        frequency=gaps.count(),
        monetary=gaps.total.cast("float64").sum(),
        ipt_mean_days=gaps._gap.mean(),
        ipt_std_days=gaps._gap.std(how="pop"),
    )
    in_windows = orders.group_by("customer_id").aggregate(**windows)
    joined = per_customer.left_join(in_windows, "customer_id").drop("customer_id_right")
    return finish_rfm(ctx, joined)


def finish_rfm(ctx: Context, t: ibis.Table) -> ibis.Table:
    """The RFM features from per-customer ``last_order``, ``frequency``, ``monetary``,
    ``ipt_mean_days``, ``ipt_std_days`` and the window columns."""
    recency = ctx.age_days(t.last_order)
    windows = [n for w in ctx.settings.windows for n in (f"frequency_{w}d", f"monetary_{w}d")]
    return t.select(
        "customer_id",
        recency_days=recency,
        frequency=t.frequency,
        monetary=t.monetary,
        aov=t.monetary / t.frequency,
        ipt_mean_days=t.ipt_mean_days,
        ipt_std_days=t.ipt_std_days,
        expected_days_to_next=t.ipt_mean_days - recency,
        **{name: t[name] for name in windows},
    )
