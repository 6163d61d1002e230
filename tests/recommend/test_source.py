"""Interactions read from a real warehouse agree with the store's own tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from nextbest.ingest import ingest
from nextbest.models.recommend import (
    RecommendInputError,
    interaction_events,
    warehouse_interactions,
)
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("recommend_source")
    store = generate(customers=150, days=45, seed=3)
    write_store(store, root / "store")
    wh = Warehouse(root / "w.duckdb", threads=1)
    ingest(wh, root / "store")
    yield wh, store
    wh.close()


def expected_weights(store, weights, as_of=None):
    ev = store.tables["events"].to_pandas()
    ev = ev[ev.product_id.notna() & ev.event_type.isin(list(weights))]
    ev = ev[["customer_id", "product_id", "event_type", "occurred_at"]]
    items = store.tables["order_items"].to_pandas()
    orders = store.tables["orders"].to_pandas()
    lines = items.merge(orders, on="order_id")[["customer_id", "product_id", "ordered_at"]]
    lines = lines.rename(columns={"ordered_at": "occurred_at"}).assign(event_type="purchase")
    rows = pd.concat([ev, lines], ignore_index=True)
    if as_of is not None:
        t = pd.to_datetime(rows.occurred_at)
        if t.dt.tz is not None:
            t = t.dt.tz_convert("UTC").dt.tz_localize(None)
        rows = rows[t < pd.Timestamp(as_of)]
    rows = rows.assign(w=rows.event_type.map(weights))
    return rows.groupby(["customer_id", "product_id"])["w"].sum()


def test_weights_per_event_type_match_the_tables(shop):
    wh, store = shop
    weights = {"product_view": 1.0, "add_to_cart": 2.0, "purchase": 7.0}
    x = warehouse_interactions(wh, weights)
    coo = x.matrix.tocoo()
    got = pd.Series(coo.data, index=pd.MultiIndex.from_arrays([x.users[coo.row], x.items[coo.col]]))
    want = expected_weights(store, weights)
    got.index.names = want.index.names
    assert np.allclose(got.sort_index().to_numpy(), want.sort_index().to_numpy())
    assert got.sort_index().index.equals(want.sort_index().index)
    # every catalogue product has a column, touched or not
    assert x.n_items == store.tables["products"].num_rows


def test_as_of_leaves_out_later_events(shop):
    wh, store = shop
    as_of = dt.datetime(2025, 1, 20)
    events = wh.to_pandas(interaction_events(wh, as_of=as_of))
    assert (events.occurred_at < as_of).all()
    assert set(events.event_type) == {"product_view", "add_to_cart", "purchase"}
    x = warehouse_interactions(wh, as_of=as_of, half_life_days=1e9)
    want = expected_weights(
        store, {"product_view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}, as_of
    )
    assert np.isclose(x.matrix.sum(), want.sum())


def test_purchases_only(shop):
    wh, store = shop
    x = warehouse_interactions(wh, {"purchase": 1.0, "product_view": 0})
    assert x.matrix.sum() == store.tables["order_items"].num_rows


@pytest.mark.parametrize("weights", [{"purchase": -1.0}, {"purchase": 0.0}, {"x": "a"}])
def test_bad_weights(shop, weights):
    wh, _ = shop
    with pytest.raises(RecommendInputError) as err:
        warehouse_interactions(wh, weights)
    assert err.value.field == "weights"


def test_nothing_before_as_of(shop):
    wh, _ = shop
    with pytest.raises(RecommendInputError, match="no product interactions before"):
        warehouse_interactions(wh, as_of=dt.datetime(2000, 1, 1))


@pytest.mark.parametrize("half_life", [None, 20.0])
def test_pairs_summed_in_the_warehouse_give_the_same_matrix(shop, half_life):
    wh, _ = shop
    as_of = dt.datetime(2025, 2, 1)
    kw = {"as_of": as_of, "half_life_days": half_life}
    events = warehouse_interactions(wh, **kw)
    pairs = warehouse_interactions(wh, pairs=True, **kw)
    assert np.array_equal(events.users, pairs.users) and np.array_equal(events.items, pairs.items)
    assert np.allclose(events.matrix.toarray(), pairs.matrix.toarray(), rtol=1e-9)
    assert (events.last_time != pairs.last_time).nnz == 0
    assert len(pairs.log) == pairs.nnz < len(events.log)
