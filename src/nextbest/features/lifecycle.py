"""Lifecycle features: tenure, birthday, loyalty tier."""

from __future__ import annotations

import ibis

from nextbest.features.context import SECONDS_PER_DAY, Context
from nextbest.features.registry import REGISTRY, Feature

__all__ = ["lifecycle", "lifecycle_from", "next_birthday"]


def _declared(ctx: Context) -> list[Feature]:
    tiers = ", ".join(f"{k} from {v:g}" for k, v in _tiers(ctx))
    return [
        Feature(
            "tenure_days",
            "days since signup (or the first order when signup is unknown)",
            per_day=1,
        ),
        Feature("days_to_birthday", "days until the next birthday (0 on the day)", per_day=-1),
        Feature("age_years", "age in whole years at as_of"),
        Feature("loyalty_tier", f"tier by lifetime spend ({tiers})", dtype="string"),
    ]


def _tiers(ctx: Context) -> list[tuple[str, float]]:
    return sorted(ctx.settings.loyalty_tiers.items(), key=lambda kv: kv[1])


@REGISTRY.family("lifecycle", _declared, order=50)
def lifecycle(ctx: Context) -> ibis.Table:
    orders = ctx["orders"]
    spend = orders.group_by("customer_id").aggregate(
        _spend=orders.total.cast("float64").sum(), _first=orders.ordered_at.min()
    )
    return lifecycle_from(ctx, spend)


def next_birthday(birth: ibis.Value, day: ibis.Value) -> ibis.Value:
    """The first birthday on or after the date ``day`` (29 February counts as 1 March
    in other years)."""
    year = day.year()
    this_year = ibis.date(year, birth.month(), 1) + (birth.day() - 1).as_interval("D")
    return ibis.ifelse(
        this_year >= day,
        this_year,
        ibis.date(year + 1, birth.month(), 1) + (birth.day() - 1).as_interval("D"),
    )


def lifecycle_from(
    ctx: Context, spend: ibis.Table, customers: ibis.Table | None = None
) -> ibis.Table:
    """The lifecycle features from per-customer lifetime ``_spend`` and ``_first`` order,
    for ``customers`` (default: every customer known at ``as_of``)."""
    customers = ctx["customers"] if customers is None else customers
    t = customers.left_join(spend, "customer_id").drop("customer_id_right")
    birth = t.birth_date
    today = ctx.cut.date()  # as_of's calendar date, read from the cut like every age
    upcoming = next_birthday(birth, today)
    had_birthday = (birth.month() < today.month()) | (
        (birth.month() == today.month()) & (birth.day() <= today.day())
    )
    spend_total = t._spend.fill_null(0.0)
    tiers = _tiers(ctx)
    tier = ibis.cases(
        *[(spend_total >= low, ibis.literal(name)) for name, low in reversed(tiers)],
        else_=ibis.literal(tiers[0][0]),
    )
    return t.select(
        "customer_id",
        tenure_days=ctx.age_days(t.signup_at.fill_null(t._first)),
        days_to_birthday=(
            (upcoming.cast("timestamp").epoch_seconds() - today.cast("timestamp").epoch_seconds())
            / SECONDS_PER_DAY
        ).round(),
        age_years=(today.year() - birth.year() - ibis.ifelse(had_birthday, 0, 1)).cast("float64"),
        loyalty_tier=tier,
    )
