"""Engagement features: how a customer responds to messages."""

from __future__ import annotations

import ibis

from nextbest.features.context import Context
from nextbest.features.registry import REGISTRY, Feature, count

__all__ = ["engagement", "finish_engagement"]

FEATURES = [
    count("messages_sent", "messages sent before as_of"),
    Feature("open_rate", "share of sent messages opened"),
    Feature("click_rate", "share of sent messages clicked"),
    Feature("days_since_last_open", "days since the last opened message", per_day=1),
    Feature(
        "engagement_score",
        "0-1: decayed opens and clicks (a click counts double) per decayed send",
    ),
]


@REGISTRY.family("engagement", FEATURES, order=40)
def engagement(ctx: Context) -> ibis.Table:
    m = ctx["messages"]
    sent_weight = ctx.decay(m.sent_at)
    opened = m.opened_at.notnull()
    clicked = m.clicked_at.notnull()
    t = m.group_by("customer_id").aggregate(
        messages_sent=m.count(),
        _opened=opened.cast("int64").sum(),
        _clicked=clicked.cast("int64").sum(),
        _last_open=m.opened_at.max(),
        _w_sent=sent_weight.sum(),
        _w_hit=(
            ibis.ifelse(opened, sent_weight, 0.0) + ibis.ifelse(clicked, 2 * sent_weight, 0.0)
        ).sum(),
    )
    return finish_engagement(ctx, t)


def finish_engagement(ctx: Context, t: ibis.Table) -> ibis.Table:
    """The engagement features from per-customer counts, last open and decayed sums."""
    return t.select(
        "customer_id",
        messages_sent=t.messages_sent,
        open_rate=t._opened / t.messages_sent,
        click_rate=t._clicked / t.messages_sent,
        days_since_last_open=ctx.age_days(t._last_open),
        engagement_score=(t._w_hit / (3 * t._w_sent)).clip(upper=1.0),
    )
