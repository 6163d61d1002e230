"""Orders and order lines from the purchases in the clickstream, and message conversions.

Each purchase event becomes an order (numbered by time) whose lines are the adds kept
in that session; discounts are likelier for price-sensitive customers and for visits
from a sale campaign. A message converts when the customer orders within the
attribution window after clicking it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from nextbest.synth.arrays import _first_after, _inverse_permutation, _rank_within
from nextbest.synth.catalog import _Catalog
from nextbest.synth.columns import _pick, _ts, arrow_schema
from nextbest.synth.events import _Events
from nextbest.synth.ids import _customer_ids, _order_ids, _product_ids
from nextbest.synth.messages import _Messages
from nextbest.synth.params import _ATTRIBUTION_US
from nextbest.synth.people import _People
from nextbest.synth.sessions import _Sessions
from nextbest.synth.vocab import _CURRENCIES, _DISCOUNTS, _LOCAL_CURRENCY


@dataclass
class _Orders:
    """Per order, in session order (``rank`` gives the order number), and the order tables."""

    cust: np.ndarray
    time: np.ndarray
    rank: np.ndarray  # order number - 1 (orders are numbered by time)
    discount: np.ndarray  # index into _DISCOUNTS, -1 for none
    orders: pa.Table
    items: pa.Table


def _make_orders(
    rng: np.random.Generator,
    people: _People,
    catalog: _Catalog,
    sess: _Sessions,
    ev: _Events,
) -> _Orders:
    o_sess = ev.purchase_session
    o_n = len(o_sess)
    o_cust = sess.cust[o_sess]
    o_time = ev.purchase_time
    order_of = np.full(len(sess.cust), -1, dtype=np.int64)
    order_of[o_sess] = np.arange(o_n)
    l_order = order_of[ev.line_session]
    line_no = _rank_within(l_order) + 1
    unit = catalog.price_cents[ev.line_product]
    subtotal = np.bincount(l_order, weights=unit * ev.line_qty, minlength=o_n)
    p_disc = 0.05 + 0.12 * people.price_sensitivity[o_cust] + 0.45 * sess.sale[o_sess]
    has = rng.random(o_n) < p_disc
    d_idx = np.where(has, rng.integers(0, len(_DISCOUNTS), o_n), -1)
    rate = np.where(has, np.asarray(_DISCOUNTS)[np.maximum(d_idx, 0)], 0.0)
    total = np.rint(subtotal * (1.0 - rate)) / 100.0
    local = np.array([_CURRENCIES.index(c) for c in _LOCAL_CURRENCY])[people.country[o_cust]]
    currency = np.where(rng.random(o_n) < 0.35, local, 0)

    by_time = np.argsort(o_time, kind="stable")
    rank = _inverse_permutation(by_time)
    orders = pa.Table.from_arrays(
        [
            _order_ids(np.arange(o_n), o_n),
            _customer_ids(o_cust[by_time], len(people.signup)),
            _ts(o_time[by_time]),
            pa.array(total[by_time]),
            _pick(_CURRENCIES, currency[by_time]),
            _pick(("web", "app"), sess.app[o_sess][by_time].astype(np.int64)),
        ],
        schema=arrow_schema("orders"),
    )
    l_rank = rank[l_order]
    li = np.argsort(l_rank, kind="stable")
    items = pa.Table.from_arrays(
        [
            _order_ids(l_rank[li], o_n),
            pa.array(line_no[li].astype(np.int32)),
            _product_ids(catalog.number[ev.line_product[li]]),
            pa.array(ev.line_qty[li].astype(np.int32)),
            pa.array(unit[li] / 100.0),
        ],
        schema=arrow_schema("order_items"),
    )
    return _Orders(o_cust, o_time, rank, d_idx, orders, items)


def _conversions(msgs: _Messages, orders: _Orders) -> np.ndarray:
    """Time of the first order within the attribution window after a click, else -1."""
    out = np.full(len(msgs.cust), -1, dtype=np.int64)
    clicked = np.flatnonzero(msgs.clicked >= 0)
    if not len(clicked) or not len(orders.cust):
        return out
    by = np.lexsort((orders.time, orders.cust))
    keys, times = orders.cust[by], orders.time[by]
    at = msgs.clicked[clicked]
    idx, found = _first_after(keys, times, msgs.cust[clicked], at)
    hit = np.where(found, times[np.minimum(idx, len(times) - 1)], -1)
    ok = found & (hit <= at + _ATTRIBUTION_US)
    out[clicked[ok]] = hit[ok]
    return out
