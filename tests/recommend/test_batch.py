"""Batch recommendations on a small synthetic store: every customer served, with reasons."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from nextbest.config import RecommendSettings
from nextbest.errors import NotFoundError
from nextbest.ingest import ingest
from nextbest.models.recommend.batch import (
    RECOMMENDATIONS_TABLE,
    build_recommendations,
    engine_path,
    load_recommendations,
)
from nextbest.models.recommend.engine import RecommendEngine
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse

K = 6
AS_OF = dt.datetime(2025, 2, 20)


BROWSER_CATEGORY = "home"


def _add_category_browsing(store) -> str:
    """Give one customer without any history two page views of BROWSER_CATEGORY."""
    active = set(_history(store).customer_id)
    customers = store.tables["customers"].to_pandas()
    signed = customers[_naive(customers.signup_at) < AS_OF]
    browser = sorted(set(signed.customer_id) - active)[0]
    events = store.tables["events"]
    extra = pa.Table.from_pylist(
        [
            {
                "event_id": f"EXTRA{i}",
                "customer_id": browser,
                "session_id": "SEXTRA",
                "event_type": "page_view",
                "product_id": None,
                "category": BROWSER_CATEGORY,
                "occurred_at": AS_OF - dt.timedelta(days=2, minutes=i),
                "properties": "{}",
            }
            for i in range(2)
        ],
        schema=events.schema,
    )
    store.tables["events"] = pa.concat_tables([events, extra])
    return browser


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("recommend_batch")
    store = generate(customers=160, days=60, seed=4)
    browser = _add_category_browsing(store)
    write_store(store, root / "store")
    wh = Warehouse(root / "w.duckdb", threads=1)
    ingest(wh, root / "store")
    result = build_recommendations(wh, AS_OF, RecommendSettings(k=K), models_dir=root / "models")
    recs = wh.to_pandas(wh.table(RECOMMENDATIONS_TABLE))
    yield wh, store, result, recs, browser, root
    wh.close()


def _naive(values: pd.Series) -> pd.Series:
    t = pd.to_datetime(values)
    return t.dt.tz_convert("UTC").dt.tz_localize(None) if t.dt.tz is not None else t


def _history(store) -> pd.DataFrame:
    """(customer_id, product_id) of every product event and order line before AS_OF."""
    ev = store.tables["events"].to_pandas()
    ev = ev[ev.product_id.notna() & ev.customer_id.notna()]
    ev = ev[ev.event_type.isin(["product_view", "add_to_cart"])]
    ev = ev[_naive(ev.occurred_at) < AS_OF]
    orders = store.tables["orders"].to_pandas()
    orders = orders[_naive(orders.ordered_at) < AS_OF]
    lines = store.tables["order_items"].to_pandas().merge(orders, on="order_id")
    both = pd.concat([ev[["customer_id", "product_id"]], lines[["customer_id", "product_id"]]])
    return both.assign(purchase=[False] * len(ev) + [True] * len(lines))


def test_every_customer_gets_k_distinct_ranked_rows(shop) -> None:
    _, store, result, recs, *_ = shop
    customers = store.tables["customers"].to_pandas()
    signed = customers[customers.signup_at.isna() | (_naive(customers.signup_at) < AS_OF)]
    expected = set(signed.customer_id) | set(_history(store).customer_id)
    assert set(recs.customer_id) == expected
    assert result.customers == len(expected) and result.rows == len(recs) == K * len(expected)
    assert (recs.as_of == pd.Timestamp(AS_OF)).all()
    for _, group in recs.groupby("customer_id"):
        assert sorted(group["rank"]) == list(range(1, K + 1))
        assert group.product_id.is_unique
        assert group.sort_values("rank").score.is_monotonic_decreasing


def test_nothing_the_customer_purchased_is_recommended(shop) -> None:
    _, store, _, recs, *_ = shop
    history = _history(store)
    bought = history[history.purchase]
    assert len(bought) > 0
    clash = recs.merge(bought, on=["customer_id", "product_id"])
    assert clash.empty, clash.head()


def test_paths_generators_and_reasons(shop) -> None:
    _, store, result, recs, *_ = shop
    history = _history(store)
    warm = set(history.customer_id)
    per = recs.drop_duplicates("customer_id").set_index("customer_id")
    assert set(per.loc[per.index.isin(warm), "path"]) == {"personal", "session"}
    e = store.tables["events"].to_pandas()
    e = e[e.customer_id.notna() & (_naive(e.occurred_at) < AS_OF)]
    one = e.groupby("customer_id").session_id.nunique().eq(1)
    single = set(one[one].index) & warm
    assert single and (per.loc[sorted(single), "path"] == "session").all()
    cold = per[~per.index.isin(warm)]
    assert len(cold) > 0 and set(cold.path) == {"segment", "category"}
    assert sum(result.paths.values()) == len(per)
    assert result.paths["segment"] == int((cold.path == "segment").sum())
    assert result.ranker["served"] and result.ranker["rounds"] >= 1
    assert set(recs[recs.path.isin(["personal", "session"])].generator) == {"ranker"}
    assert set(recs[recs.path.isin(["segment", "category"])].generator) == {"popularity"}
    assert recs.reason.str.len().min() > 0
    assert recs.reason.str.startswith("bought together with ").any()
    # a "... together with X" reason names a product the customer touched
    names = store.tables["products"].to_pandas().set_index("product_id")["name"]
    touched = history.assign(name=history.product_id.map(names))
    together = recs[recs.reason.str.contains(" together with ")]
    assert len(together) > 0
    partner = together.reason.str.split(" together with ", n=1).str[1]
    pairs = set(zip(touched.customer_id, touched.name, strict=True))
    assert all(p in pairs for p in zip(together.customer_id, partner, strict=True))


def test_cold_customers_get_their_countrys_popular_products(shop) -> None:
    _, store, _, recs, *_ = shop
    customers = store.tables["customers"].to_pandas().set_index("customer_id")
    seg = recs[recs.path == "segment"]
    assert len(seg) > 0
    country = seg.customer_id.map(customers.country)
    expected = "popular with customers in " + country
    assert (seg.reason == expected).all()
    # everyone of a country gets the same list
    lists = seg.sort_values("rank").groupby("customer_id").product_id.apply(tuple)
    by_country = lists.groupby(lists.index.map(customers.country)).nunique()
    assert (by_country == 1).all()


def test_cold_customers_without_a_segment_get_the_most_popular_products(shop) -> None:
    wh, store, *_ = shop
    result = build_recommendations(wh, AS_OF, RecommendSettings(k=K, segment_by=None))
    recs = wh.to_pandas(wh.table(RECOMMENDATIONS_TABLE))
    try:
        history = _history(store).drop_duplicates(["customer_id", "product_id"])
        counts = history.groupby("product_id").size().rename("n").reset_index()
        products = store.tables["products"].to_pandas().set_index("product_id")
        assert not products.in_stock.all()
        stocked = counts[counts.product_id.map(products.in_stock)]  # rules.in_stock_only
        top = stocked.sort_values(["n", "product_id"], ascending=[False, True]).product_id[:K]
        plain = recs[recs.path == "popular"]
        assert result.paths["popular"] == plain.customer_id.nunique() > 0
        assert set(plain.reason) == {"popular with all customers"}
        active = history.customer_id.nunique()
        for _, group in plain.groupby("customer_id"):
            assert group.sort_values("rank").product_id.tolist() == top.tolist()
            expected = sorted(counts.set_index("product_id").n[top] / active, reverse=True)
            assert group.sort_values("rank").score.tolist() == pytest.approx(expected)
    finally:
        build_recommendations(wh, AS_OF, RecommendSettings(k=K))


def test_a_cold_customer_who_browsed_a_category_gets_its_most_popular_products(shop) -> None:
    _, store, _, recs, browser, _ = shop
    mine = recs[recs.customer_id == browser].sort_values("rank")
    assert set(mine.path) == {"category"}
    assert set(mine.reason) == {f"popular in your favourite category {BROWSER_CATEGORY}"}
    category = store.tables["products"].to_pandas().set_index("product_id")["category"]
    assert set(mine.product_id.map(category)) == {BROWSER_CATEGORY}
    history = _history(store).drop_duplicates(["customer_id", "product_id"])
    in_cat = history[history.product_id.map(category).eq(BROWSER_CATEGORY)]
    assert mine.product_id.iloc[0] == in_cat.groupby("product_id").size().idxmax()


def test_the_saved_engine_answers_as_the_table_does(shop) -> None:
    _, _, result, recs, _, root = shop
    assert result.state == engine_path(root / "models", AS_OF) and result.state.exists()
    assert engine_path(root / "models") == result.state
    engine = RecommendEngine.load(result.state)
    for customer in recs.drop_duplicates("path").customer_id:
        live = pd.DataFrame(engine.recommend(customer, K))
        stored = recs[recs.customer_id == customer].sort_values("rank")
        assert live.product_id.tolist() == stored.product_id.tolist()
        assert live.reason.tolist() == stored.reason.tolist()
        assert live.score.to_numpy() == pytest.approx(stored.score.to_numpy(), rel=1e-6)


def test_rebuild_replaces_its_slice_and_load_reads_one_customer(shop) -> None:
    wh, _, _, recs, *_ = shop
    customer = recs[recs.path == "personal"].customer_id.iloc[0]
    build_recommendations(wh, AS_OF, RecommendSettings(k=K))
    assert wh.count(RECOMMENDATIONS_TABLE) == len(recs)
    one = load_recommendations(wh, customer, k=3)
    assert one["rank"].tolist() == [1, 2, 3] and set(one.customer_id) == {customer}
    with pytest.raises(NotFoundError, match="'nobody'"):
        load_recommendations(wh, "nobody")
    with pytest.raises(NotFoundError, match="as of 2025-01-02"):
        load_recommendations(wh, customer, dt.datetime(2025, 1, 2))
