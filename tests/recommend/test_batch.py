"""Batch recommendations on a small synthetic store: every customer served, with reasons."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from nextbest.config import RecommendSettings
from nextbest.errors import NotFoundError
from nextbest.ingest import ingest
from nextbest.models.recommend import Interactions, RecommendInputError
from nextbest.models.recommend.batch import (
    RECOMMENDATIONS_TABLE,
    build_recommendations,
    load_recommendations,
    recommend_all,
)
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
    result = build_recommendations(wh, AS_OF, RecommendSettings(k=K))
    recs = wh.to_pandas(wh.table(RECOMMENDATIONS_TABLE))
    yield wh, store, result, recs, browser
    wh.close()


def _naive(values: pd.Series) -> pd.Series:
    t = pd.to_datetime(values)
    return t.dt.tz_convert("UTC").dt.tz_localize(None) if t.dt.tz is not None else t


def _history(store) -> pd.DataFrame:
    """(customer_id, product_id) of every product event and order line before AS_OF."""
    ev = store.tables["events"].to_pandas()
    ev = ev[ev.product_id.notna() & ev.event_type.isin(["product_view", "add_to_cart"])]
    ev = ev[_naive(ev.occurred_at) < AS_OF]
    orders = store.tables["orders"].to_pandas()
    orders = orders[_naive(orders.ordered_at) < AS_OF]
    lines = store.tables["order_items"].to_pandas().merge(orders, on="order_id")
    both = pd.concat([ev[["customer_id", "product_id"]], lines[["customer_id", "product_id"]]])
    return both.assign(purchase=[False] * len(ev) + [True] * len(lines))


def test_every_customer_gets_k_distinct_ranked_rows(shop) -> None:
    _, store, result, recs, _ = shop
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


def test_nothing_the_customer_already_has_is_recommended(shop) -> None:
    _, store, _, recs, _ = shop
    history = _history(store)
    assert history.purchase.any()
    clash = recs.merge(history, on=["customer_id", "product_id"])
    assert clash.empty, clash.head()


def test_paths_generators_and_reasons(shop) -> None:
    _, store, result, recs, _ = shop
    history = _history(store)
    warm = set(history.customer_id)
    per = recs.drop_duplicates("customer_id").set_index("customer_id")
    assert (per.loc[per.index.isin(warm), "path"] == "personal").all()
    cold = per[~per.index.isin(warm)]
    assert len(cold) > 0 and (cold.path == "popular").all()
    assert result.paths == {"personal": len(per) - len(cold), "popular": len(cold)}
    assert set(recs[recs.path == "personal"].generator) == {"ease"}
    assert set(recs[recs.path == "popular"].generator) == {"popularity"}
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


def test_cold_customers_without_a_favourite_get_the_most_popular_products(shop) -> None:
    _, store, _, recs, _ = shop
    history = _history(store).drop_duplicates(["customer_id", "product_id"])
    counts = history.groupby("product_id").size().rename("n").reset_index()
    top = counts.sort_values(["n", "product_id"], ascending=[False, True]).product_id[:K]
    popular = recs[recs.path == "popular"]
    plain = popular.groupby("customer_id").filter(
        lambda g: (g.reason == "popular with all customers").all()
    )
    assert plain.customer_id.nunique() > 0
    for _, group in plain.groupby("customer_id"):
        assert group.sort_values("rank").product_id.tolist() == top.tolist()
        assert group.sort_values("rank").score.tolist() == sorted(
            counts.set_index("product_id").n[top].astype(float), reverse=True
        )


def test_a_cold_customer_who_browsed_a_category_gets_its_most_popular_products(shop) -> None:
    _, store, _, recs, browser = shop
    mine = recs[recs.customer_id == browser].sort_values("rank")
    assert set(mine.path) == {"popular"}
    assert set(mine.reason) == {f"popular in your favourite category {BROWSER_CATEGORY}"}
    category = store.tables["products"].to_pandas().set_index("product_id")["category"]
    assert set(mine.product_id.map(category)) == {BROWSER_CATEGORY}
    history = _history(store).drop_duplicates(["customer_id", "product_id"])
    counts = history.product_id.map(category).eq(BROWSER_CATEGORY)
    users = history[counts].groupby("product_id").size()
    assert mine.score.iloc[0] == users.max()


def test_rebuild_replaces_its_slice_and_load_reads_one_customer(shop) -> None:
    wh, _, _, recs, _ = shop
    customer = recs[recs.path == "personal"].customer_id.iloc[0]
    build_recommendations(wh, AS_OF, RecommendSettings(k=K))
    assert wh.count(RECOMMENDATIONS_TABLE) == len(recs)
    one = load_recommendations(wh, customer, k=3)
    assert one["rank"].tolist() == [1, 2, 3] and set(one.customer_id) == {customer}
    with pytest.raises(NotFoundError, match="'nobody'"):
        load_recommendations(wh, "nobody")
    with pytest.raises(NotFoundError, match="as of 2025-01-02"):
        load_recommendations(wh, customer, dt.datetime(2025, 1, 2))


def test_cold_favourite_category_first_then_global_fill() -> None:
    frame = pd.DataFrame(
        {
            "user": ["u1", "u1", "u2", "u3", "u3", "u4", "u5", "u5"],
            "item": ["a", "b", "a", "a", "b", "d", "c", "e"],
            "time": range(8),
        }
    )
    x = Interactions.from_frame(frame, "user", "item", "time", items=list("abcde"))
    products = pd.DataFrame(
        {
            "product_id": list("abcde"),
            "name": ["Tea", "Mug", "Pot", None, "Cup"],
            "category": ["food", "home", "home", "toys", "home"],
        }
    )
    recs = recommend_all(
        x,
        products,
        ["u2", "new", "other"],
        k=3,
        settings=RecommendSettings(l2=1.0),
        favourite={"new": "toys"},
    )
    new = recs[recs.customer_id == "new"]
    assert new.product_id.tolist() == ["d", "a", "b"]
    assert new.reason.tolist() == [
        "popular in your favourite category toys",
        "popular with all customers",
        "popular with all customers",
    ]
    other = recs[recs.customer_id == "other"]
    assert other.product_id.tolist() == ["a", "b", "c"] and set(other.path) == {"popular"}
    mine = recs[recs.customer_id == "u2"]
    assert set(mine.path) == {"personal"} and "a" not in set(mine.product_id)
    assert mine.product_id.iloc[0] == "b"
    assert mine.reason.iloc[0] == "viewed together with Tea"
    with pytest.raises(RecommendInputError, match="k must be"):
        recommend_all(x, products, ["u1"], k=0)
