"""Tables that combine several generation steps: events, messages and the hidden truth."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.schema import EVENT_TYPES
from nextbest.synth.arrays import _rank
from nextbest.synth.catalog import _Catalog
from nextbest.synth.columns import _pick, _ts, arrow_schema
from nextbest.synth.events import _Events
from nextbest.synth.ids import (
    _customer_ids,
    _id_width,
    _order_ids,
    _product_ids,
    _serial_ids,
    make_ids,
)
from nextbest.synth.messages import _Messages
from nextbest.synth.orders import _Orders
from nextbest.synth.people import _Life, _People
from nextbest.synth.sessions import _Sessions
from nextbest.synth.vocab import _CHANNELS, _DISCOUNTS, CATEGORIES


def _events_table(
    people: _People, catalog: _Catalog, sess: _Sessions, ev: _Events, orders: _Orders
) -> pa.Table:
    kept = np.flatnonzero(ev.keep)
    s_num = np.zeros(len(sess.cust), dtype=np.int64)
    s_num[kept] = _rank(ev.t0[kept]) + 1
    props = _pick(ev.vocab, ev.prop)
    is_purchase = ev.order >= 0
    if is_purchase.any():
        o = ev.order[is_purchase]
        suffix = ['"}'] + [f'", "discount": {d}}}' for d in _DISCOUNTS]
        text = pc.binary_join_element_wise(
            '{"order_id": "',
            _order_ids(orders.rank[o], len(orders.cust)),
            _pick(suffix, orders.discount[o] + 1),
            "",
        )
        props = pc.replace_with_mask(props, pa.array(is_purchase), text)
    del is_purchase
    has_product = ev.product >= 0
    return pa.Table.from_arrays(
        [
            _serial_ids("E", len(ev.occurred), 9),
            _customer_ids(sess.cust[ev.session], len(people.signup)),
            make_ids("S", s_num[ev.session], _id_width(8, len(kept))),
            _pick(EVENT_TYPES, ev.etype),
            _product_ids(catalog.number[np.maximum(ev.product, 0)], valid=has_product),
            _pick(CATEGORIES, ev.category),
            _ts(ev.occurred),
            props,
        ],
        schema=arrow_schema("events"),
    )


def _messages_table(people: _People, msgs: _Messages, converted: np.ndarray) -> pa.Table:
    perm = np.argsort(msgs.sent, kind="stable")
    camp = msgs.campaign[perm]
    opened, clicked, conv = msgs.opened[perm], msgs.clicked[perm], converted[perm]
    return pa.Table.from_arrays(
        [
            _serial_ids("M", len(perm), 8),
            _customer_ids(msgs.cust[perm], len(people.signup)),
            _pick(_CHANNELS, msgs.channels[camp]),
            _pick([c.name for c in msgs.campaigns], camp),
            _ts(msgs.sent[perm]),
            _ts(opened, valid=opened >= 0),
            _ts(clicked, valid=clicked >= 0),
            _ts(conv, valid=conv >= 0),
        ],
        schema=arrow_schema("messages"),
    )


def _truth_table(people: _People, life: _Life) -> pa.Table:
    cols: dict[str, pa.Array] = {"customer_id": people.table.column("customer_id").combine_chunks()}
    for k, name in enumerate(CATEGORIES):
        cols[f"taste_{name}"] = pa.array(people.taste[:, k])
    cols["price_sensitivity"] = pa.array(people.price_sensitivity)
    cols["engagement"] = pa.array(people.engagement)
    cols["activity_rate"] = pa.array(people.rate)
    cols["churn_at"] = _ts(life.churn_at, valid=life.churned)
    cols["reactivated_at"] = _ts(np.where(life.reactivated, life.a2, 0), valid=life.reactivated)
    return pa.table(cols)
