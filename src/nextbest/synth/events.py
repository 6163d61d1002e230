"""The clickstream inside each visit: page views, searches, product views, carts, purchases.

Each session is laid out as page views, an optional search, product views (each
maybe followed by one or two adds to cart), removals, checkout and purchase. Product
choice follows the session focus, the customer's taste and price sensitivity; the
adds kept until a purchase become the order lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.schema import EVENT_TYPES
from nextbest.synth.arrays import _draw_member, _excl_cumsum, _rank_within
from nextbest.synth.catalog import _Catalog
from nextbest.synth.clock import SEC
from nextbest.synth.messages import _Campaign, _Messages
from nextbest.synth.people import _People
from nextbest.synth.sessions import _Sessions
from nextbest.synth.vocab import _CATEGORY_SPECS, _CHANNELS, _PAGES, CATEGORIES

_PV, _VIEW, _ADD, _REMOVE, _CHECKOUT, _PURCHASE, _SEARCH = (
    EVENT_TYPES.index(t)
    for t in (
        "page_view",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout",
        "purchase",
        "search",
    )
)
# median seconds since the previous event of the same session, by event type code
_GAP_MEDIAN_S = np.zeros(len(EVENT_TYPES))
_GAP_MEDIAN_S[[_PV, _VIEW, _ADD, _REMOVE, _CHECKOUT, _PURCHASE, _SEARCH]] = (
    20.0, 35.0, 9.0, 22.0, 50.0, 70.0, 12.0,
)  # fmt: skip


@dataclass
class _Events:
    """Events in time order (session index, type, product, ...) and the order lines."""

    session: np.ndarray  # session index per event
    etype: np.ndarray
    product: np.ndarray  # -1 if none
    category: np.ndarray  # -1 if none
    occurred: np.ndarray
    prop: np.ndarray  # index into vocab, -1 for null
    order: np.ndarray  # order index for purchase events, else -1
    vocab: list[str]
    keep: np.ndarray  # sessions that fit their activity window
    t0: np.ndarray  # session start, after fitting it into its window
    # order lines (adds kept until purchase), grouped by session
    line_session: np.ndarray
    line_product: np.ndarray
    line_qty: np.ndarray
    purchase_session: np.ndarray
    purchase_time: np.ndarray


def _prop_vocab(campaigns: list[_Campaign]) -> tuple[list[str], dict[str, int]]:
    """Every event property text, and the position of each by key (``page:/``, ``qty:2``, ...)."""
    words: list[str] = []
    at: dict[str, int] = {}

    def add(key: str, text: str) -> None:
        at[key] = len(words)
        words.append(text)

    for p in _PAGES:
        add(f"page:{p}", f'{{"page": "{p}"}}')
    for c in CATEGORIES:
        add(f"page:/c/{c}", f'{{"page": "/c/{c}"}}')
    for k, camp in enumerate(campaigns):
        medium = _CHANNELS[camp.channel]
        add(
            f"utm:{k}",
            f'{{"page": "/", "utm_medium": "{medium}", "utm_campaign": "{camp.name}"}}',
        )
    for spec in _CATEGORY_SPECS:
        for q in spec.queries:
            add(f"query:{spec.name}:{q}", f'{{"query": "{q}"}}')
    for qty in (1, 2, 3):
        add(f"qty:{qty}", f'{{"quantity": {qty}}}')
    return words, at


def _make_events(
    rng: np.random.Generator,
    people: _People,
    catalog: _Catalog,
    sess: _Sessions,
    msgs: _Messages,
) -> _Events:
    s_n = len(sess.cust)
    eng = people.engagement[sess.cust]
    clicked = sess.message >= 0
    npv = 1 + np.minimum(rng.poisson(0.6, s_n), 5)
    search = rng.random(s_n) < 0.22
    bounce = (rng.random(s_n) < 0.22) & ~clicked
    nv = np.where(bounce, 0, 1 + np.minimum(rng.poisson(0.6 + 2.6 * eng), 24))

    # product views
    v_n = int(nv.sum())
    v_sess = np.repeat(np.arange(s_n), nv)
    v_cust = sess.cust[v_sess]
    drift = rng.random(v_n) >= 0.7
    v_cat = sess.focus[v_sess].copy()
    v_cat[drift] = people.draw_category(v_cust[drift], rng.random(int(drift.sum())))
    v_prod = catalog.choose(v_cat, people.price_bin[v_cust], rng.random(v_n))

    # add to cart (maybe twice), quantities, removals
    signed = 2 * people.price_sensitivity[v_cust] - 1
    fit = np.clip(1 - 0.3 * signed * catalog.zprice[v_prod], 0.3, 1.6)
    p_add = (0.07 + 0.16 * eng[v_sess]) * fit * np.where(clicked[v_sess], 1.3, 1.0)
    added = (rng.random(v_n) < p_add) & catalog.in_stock[v_prod]
    n_add = added.astype(np.int64) + (added & (rng.random(v_n) < 0.04))
    a_view = np.repeat(np.arange(v_n), n_add)
    a_n = len(a_view)
    a_sess = v_sess[a_view]
    uq = rng.random(a_n)
    a_qty = 1 + (uq > 0.86) + (uq > 0.96)
    a_removed = rng.random(a_n) < 0.12
    adds_s = np.bincount(a_sess, minlength=s_n)
    rem_s = np.bincount(a_sess, weights=a_removed, minlength=s_n).astype(np.int64)
    kept_s = adds_s - rem_s
    p_checkout = 0.36 + 0.25 * eng + 0.1 * clicked
    checkout = (kept_s > 0) & (rng.random(s_n) < p_checkout)
    purchase = checkout & (rng.random(s_n) < 0.72 + 0.15 * eng)

    # layout: page views, search, [view, add, add?]..., removes, checkout, purchase
    per_s = npv + search + nv + adds_s + rem_s + checkout + purchase
    off = _excl_cumsum(per_s)
    e_n = int(per_s.sum())
    etype = np.empty(e_n, dtype=np.int8)
    product = np.full(e_n, -1, dtype=np.int32)
    category = np.full(e_n, -1, dtype=np.int8)
    prop = np.full(e_n, -1, dtype=np.int32)

    vocab, at = _prop_vocab(msgs.campaigns)

    pv_sess = np.repeat(np.arange(s_n), npv)
    pv_pos = off[pv_sess] + _rank_within(pv_sess)
    etype[pv_pos] = _PV
    n_pages = len(_PAGES)
    page = rng.integers(0, n_pages + 1, len(pv_pos))
    cat_page = at[f"page:/c/{CATEGORIES[0]}"] + sess.focus[pv_sess].astype(np.int64)
    prop[pv_pos] = np.where(page < n_pages, at[f"page:{_PAGES[0]}"] + page, cat_page)
    c_sess = np.flatnonzero(clicked)
    if len(c_sess):
        prop[off[c_sess]] = at["utm:0"] + msgs.campaign[sess.message[c_sess]]

    s_idx = np.flatnonzero(search)
    pos = off[s_idx] + npv[s_idx]
    etype[pos] = _SEARCH
    q_off = np.array([at[f"query:{c.name}:{c.queries[0]}"] for c in _CATEGORY_SPECS])
    q_n = np.array([len(c.queries) for c in _CATEGORY_SPECS])
    f = sess.focus[s_idx].astype(np.int64)
    prop[pos] = _draw_member(rng, f, q_off, q_n)

    block = 1 + n_add
    g = _excl_cumsum(block)
    v_start = _excl_cumsum(nv)
    v_pos = off[v_sess] + npv[v_sess] + search[v_sess] + g - g[v_start[v_sess]]
    etype[v_pos] = _VIEW
    product[v_pos] = v_prod
    category[v_pos] = catalog.category[v_prod]

    a_pos = v_pos[a_view] + 1 + _rank_within(a_view)
    a_prod = v_prod[a_view]
    etype[a_pos] = _ADD
    product[a_pos] = a_prod
    category[a_pos] = catalog.category[a_prod]
    prop[a_pos] = at["qty:1"] + a_qty - 1

    tail = off + npv + search + nv + adds_s
    r_idx = np.flatnonzero(a_removed)
    r_sess = a_sess[r_idx]
    r_pos = tail[r_sess] + _rank_within(r_sess)
    etype[r_pos] = _REMOVE
    product[r_pos] = a_prod[r_idx]
    category[r_pos] = catalog.category[a_prod[r_idx]]
    checkout_pos = tail + rem_s  # the purchase event follows its checkout
    etype[checkout_pos[checkout]] = _CHECKOUT
    etype[checkout_pos[purchase] + 1] = _PURCHASE

    # timestamps: seconds to minutes apart, increasing within a session
    # (float32 and in-place steps keep the peak memory of this 10M-row step low)
    gap = rng.standard_normal(e_n, dtype=np.float32)
    gap *= 0.8
    np.exp(gap, out=gap)
    gap *= _GAP_MEDIAN_S.astype(np.float32)[etype]
    np.clip(gap, 1.0, 900.0, out=gap)
    gap *= SEC
    cum = gap.astype(np.int64)
    del gap
    cum[off] = 0
    np.cumsum(cum, out=cum)
    ev_sess = np.repeat(np.arange(s_n, dtype=np.int32), per_s)
    last = off + per_s - 1
    duration = cum[last] - cum[off]
    t0 = np.maximum(np.minimum(sess.t0, sess.hi - duration - SEC), sess.lo)
    keep = t0 + duration < sess.hi
    occurred = cum
    occurred += (t0 - cum[off])[ev_sess]
    del cum
    order = np.full(e_n, -1, dtype=np.int32)

    purchase &= keep
    p_idx = np.flatnonzero(purchase)
    order[checkout_pos[p_idx] + 1] = np.arange(len(p_idx))
    line = purchase[a_sess] & ~a_removed

    # drop sessions that do not fit their window, then put events in time order
    cols: dict[str, np.ndarray] = {
        "session": ev_sess,
        "etype": etype,
        "product": product,
        "category": category,
        "prop": prop,
        "order": order,
    }
    del ev_sess, etype, product, category, prop, order
    ev_keep = keep[cols["session"]]
    if not ev_keep.all():
        occurred = occurred[ev_keep]
        cols = {k: v[ev_keep] for k, v in cols.items()}
    perm = np.argsort(occurred, kind="stable")
    occurred = occurred[perm]
    for key in cols:
        cols[key] = cols[key][perm]
    del perm
    return _Events(
        session=cols["session"],
        etype=cols["etype"],
        product=cols["product"],
        category=cols["category"],
        occurred=occurred,
        prop=cols["prop"],
        order=cols["order"],
        vocab=vocab,
        keep=keep,
        t0=t0,
        line_session=a_sess[line],
        line_product=a_prod[line],
        line_qty=a_qty[line],
        purchase_session=p_idx,
        purchase_time=t0[p_idx] + duration[p_idx],
    )
