"""Lifecycle features: tenure, birthday, loyalty tier."""

from __future__ import annotations

import datetime as dt

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


def next_birthday(birth: ibis.Value, day: dt.date) -> ibis.Value:
    """The first birthday on or after ``day`` (29 February counts as 1 March in other
    years)."""
    this_year = ibis.date(day.year, birth.month(), 1) + (birth.day() - 1).as_interval("D")
    return ibis.ifelse(
        this_year >= ibis.date(day.year, day.month, day.day),
        this_year,
        ibis.date(day.year + 1, birth.month(), 1) + (birth.day() - 1).as_interval("D"),
    )


def lifecycle_from(
    ctx: Context, spend: ibis.Table, customers: ibis.Table | None = None
) -> ibis.Table:
    """The lifecycle features from per-customer lifetime ``_spend`` and ``_first`` order,
    for ``customers`` (default: every customer known at ``as_of``)."""
    customers = ctx["customers"] if customers is None else customers
    t = customers.left_join(spend, "customer_id").drop("customer_id_right")
    as_of = ctx.as_of
    birth = t.birth_date
    upcoming = next_birthday(birth, as_of.date())
    today = ibis.date(as_of.year, as_of.month, as_of.day)
    had_birthday = (birth.month() < as_of.month) | (
        (birth.month() == as_of.month) & (birth.day() <= as_of.day)
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
        age_years=(as_of.year - birth.year() - ibis.ifelse(had_birthday, 0, 1)).cast("float64"),
        loyalty_tier=tier,
    )
