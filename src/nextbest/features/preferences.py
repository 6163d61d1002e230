"""Preference features: category and brand affinity, price sensitivity.

Affinity is a decayed share: each product view counts 1, add-to-cart 2 and purchase
3, weighted 2^(-age / half-life), and divided by the customer's total over all
categories. The ``features.top_categories`` most active categories before ``as_of``
get a column each (``affinity_<category>``).
"""

from __future__ import annotations

import re

import ibis

from nextbest.features.context import Context
from nextbest.features.registry import REGISTRY, Feature

__all__ = [
    "EVENT_WEIGHTS",
    "affinity_column",
    "preferences",
    "preferences_from",
    "weighted_activity",
]

EVENT_WEIGHTS = {"product_view": 1.0, "add_to_cart": 2.0, "purchase": 3.0}


def affinity_column(category: str) -> str:
    """``affinity_`` plus the category as a lower-case identifier."""
    return "affinity_" + (re.sub(r"[^0-9a-z]+", "_", category.lower()).strip("_") or "blank")


def _declared(ctx: Context) -> list[Feature]:
    per_category = [
        Feature(affinity_column(c), f"decayed share of activity in category {c}")
        for c in ctx.categories
    ]
    if not ctx.tables:  # metadata without data: one line stands for the per-category columns
        per_category = [
            Feature("affinity_<category>", "decayed share of activity per top category")
        ]
    return [
        Feature("favourite_category", "category with the highest affinity", dtype="string"),
        Feature("favourite_category_share", "affinity of the favourite category"),
        *per_category,
        Feature("favourite_brand", "brand with the highest decayed activity", dtype="string"),
        Feature("favourite_brand_share", "decayed share of activity on the favourite brand"),
        Feature(
            "price_index",
            "mean price paid relative to the category's average list price (1 = average)",
        ),
        Feature("discount_share", "share of orders paid below the value of their lines"),
    ]


def weighted_activity(ctx: Context, events: ibis.Table | None = None) -> ibis.Table:
    """Per event (default: every event before ``as_of``) its weight, decayed to ``as_of``."""
    e = ctx.events_with_products(events)
    e = e.filter(e.event_type.isin(list(EVENT_WEIGHTS)) & e.product_id.notnull())
    weight = e.event_type.substitute(EVENT_WEIGHTS, else_=0.0) * ctx.decay(e.occurred_at)
    return e.select("customer_id", "category", "brand", _w=weight)


def _favourite(t: ibis.Table, column: str) -> ibis.Table:
    """Per customer the value of ``column`` with the largest weight, and its share."""
    scores = (
        t.filter(t[column].notnull())
        .group_by(["customer_id", column])
        .aggregate(_score=ibis._._w.sum())
    )
    ranked = scores.mutate(
        _rank=ibis.row_number().over(
            group_by="customer_id", order_by=[ibis.desc("_score"), column]
        ),
        _total=scores._score.sum().over(group_by="customer_id"),
    )
    best = ranked.filter(ranked._rank == 0)
    return best.select(
        "customer_id",
        **{
            f"favourite_{column}": best[column],
            f"favourite_{column}_share": best._score / best._total,
        },
    )


@REGISTRY.family("preferences", _declared, order=30)
def preferences(ctx: Context) -> ibis.Table:
    activity = weighted_activity(ctx)
    # one pass over the events; every later step reads the small per-key sums
    sums = activity.group_by(["customer_id", "category", "brand"]).aggregate(_w=activity._w.sum())
    return preferences_from(ctx, sums, sums, _price(ctx))


def preferences_from(
    ctx: Context, by_category: ibis.Table, by_brand: ibis.Table, price: ibis.Table
) -> ibis.Table:
    """The preference features from weighted activity and the price features.

    ``by_category`` holds ``customer_id, category, _w`` rows and ``by_brand``
    ``customer_id, brand, _w`` rows (several rows per key are summed); ``price``
    holds ``customer_id, price_index, discount_share``.
    """
    by_category = by_category.filter(by_category.category.notnull())
    total = by_category.group_by("customer_id").aggregate(_all=by_category._w.sum())
    shares = by_category.group_by("customer_id").aggregate(
        **{
            affinity_column(c): ibis.ifelse(by_category.category == c, by_category._w, 0.0).sum()
            for c in ctx.categories
        }
    )
    shares = shares.left_join(total, "customer_id").drop("customer_id_right")
    shares = shares.select(
        "customer_id",
        **{affinity_column(c): shares[affinity_column(c)] / shares._all for c in ctx.categories},
    )
    out = _favourite(by_category, "category")
    out = out.left_join(shares, "customer_id").drop("customer_id_right")
    out = out.outer_join(_favourite(by_brand, "brand"), "customer_id")
    out = out.mutate(customer_id=out.customer_id.fill_null(out.customer_id_right)).drop(
        "customer_id_right"
    )
    return out.left_join(price, "customer_id").drop("customer_id_right")


def _price(ctx: Context) -> ibis.Table:
    products = ctx["products"]
    avg = products.group_by("category").aggregate(_avg=products.price.cast("float64").mean())
    items = (
        ctx["order_items"]
        .left_join(products.select("product_id", "category"), "product_id")
        .drop("product_id_right")
    )
    items = items.left_join(avg, "category").drop("category_right")
    orders = ctx["orders"].select("order_id", "customer_id", "total")
    items = items.left_join(orders, "order_id").drop("order_id_right")
    index = items.group_by("customer_id").aggregate(
        price_index=(items.unit_price.cast("float64") / items._avg).mean()
    )
    lines = items.group_by(["order_id", "customer_id"]).aggregate(
        _value=(items.quantity * items.unit_price.cast("float64")).sum(),
        _total=items.total.cast("float64").max(),
    )
    discounts = lines.group_by("customer_id").aggregate(
        discount_share=(lines._total < lines._value - 0.005).cast("float64").mean()
    )
    return (
        index.outer_join(discounts, "customer_id")
        .mutate(customer_id=ibis._.customer_id.fill_null(ibis._.customer_id_right))
        .drop("customer_id_right")
    )
