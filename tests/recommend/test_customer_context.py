"""Customer features for the re-ranker from the warehouse: values, no data from as_of on, scores."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import synth_project

from nextbest.features import build_snapshot
from nextbest.models import BGNBD
from nextbest.models.recommend import (
    CUSTOMER_FEATURES,
    customer_features,
    product_context,
    warehouse_interactions,
)
from nextbest.models.registry import ModelRegistry
from nextbest.warehouse import Warehouse

AS_OF = dt.datetime(2025, 2, 10)  # the store starts on 2025-01-01 and runs 60 days
LATER = dt.datetime(2025, 2, 20)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = synth_project(tmp_path_factory.mktemp("context"), 60, 60)
    return root / ".nextbest" / "warehouse.duckdb"


def copy_of(store: Path, tmp_path: Path) -> Path:
    path = tmp_path / "copy.duckdb"
    shutil.copy(store, path)
    return path


def test_features_are_the_snapshot_columns_plus_the_viewed_price_index(store):
    with Warehouse(store, threads=1, read_only=True) as wh:
        got = customer_features(wh, AS_OF)
        snap = wh.to_pandas(build_snapshot(wh, AS_OF)).set_index("customer_id")
        x = warehouse_interactions(wh, as_of=AS_OF)
    assert list(got.columns) == [*CUSTOMER_FEATURES, "view_price_index"]
    assert (got.dtypes == np.float64).all()
    assert got.index.name == "customer_id" and got.index.tolist() == snap.index.tolist()
    pd.testing.assert_frame_equal(
        got[list(CUSTOMER_FEATURES)],
        snap[list(CUSTOMER_FEATURES)].astype(np.float64),
        check_names=False,
    )
    assert (got["recency_days"].dropna() > 0).all()
    assert (got["view_price_index"].dropna() > 0).all()
    # the index matches the interactions' user ids, so the ranker can join it
    assert set(x.users) <= set(got.index)
    assert got["view_price_index"].notna().sum() >= 0.5 * len(x.users)


def test_the_viewed_price_index_on_one_customer(store):
    with Warehouse(store, threads=1, read_only=True) as wh:
        got = customer_features(wh, AS_OF)["view_price_index"]
        products = wh.to_pandas(wh.table("products"))
        e = wh.table("events")
        views = wh.to_pandas(e.filter((e.event_type == "product_view") & (e.occurred_at < AS_OF)))
    products["price"] = products["price"].astype(float)
    products["avg"] = products.groupby("category")["price"].transform("mean")
    views = views.dropna(subset=["product_id"]).merge(products, on="product_id")
    who = views["customer_id"].value_counts().index[0]
    mine = views[views["customer_id"] == who]
    assert got[who] == pytest.approx((mine["price"] / mine["avg"]).mean())


def test_nothing_at_or_after_as_of_is_used(store, tmp_path):
    with Warehouse(store, threads=1, read_only=True) as wh:
        before = customer_features(wh, AS_OF)
    path = copy_of(store, tmp_path)
    cut = f"TIMESTAMP '{AS_OF:%Y-%m-%d %H:%M:%S}'"
    with Warehouse(path, threads=1) as wh:
        dear = wh.raw_sql("SELECT product_id FROM products ORDER BY price DESC LIMIT 1").fetchone()
        for sql in (
            # later events: all become views of the dearest product; copies land on as_of
            f"UPDATE events SET product_id = '{dear[0]}', event_type = 'product_view' "
            f"WHERE occurred_at >= {cut}",
            f"INSERT INTO events SELECT * REPLACE (event_id || '-late' AS event_id, "
            f"{cut} AS occurred_at) FROM events WHERE occurred_at < {cut}",
            # later orders are ten times dearer; copies of earlier ones land on as_of
            f"UPDATE orders SET total = total * 10 WHERE ordered_at >= {cut}",
            f"INSERT INTO orders SELECT * REPLACE (order_id || '-late' AS order_id, "
            f"{cut} AS ordered_at) FROM orders WHERE ordered_at < {cut}",
            "INSERT INTO order_items SELECT * REPLACE (order_id || '-late' AS order_id) "
            "FROM order_items",
            # every message sent before as_of is opened and clicked on as_of
            f"UPDATE messages SET opened_at = {cut}, clicked_at = {cut} "
            f"WHERE sent_at < {cut} AND opened_at IS NULL",
        ):
            wh.raw_sql(sql)
        after = customer_features(wh, AS_OF)
        changed_later = customer_features(wh, LATER)
    pd.testing.assert_frame_equal(before, after)
    # the changes do show once they are in the past
    with Warehouse(store, threads=1, read_only=True) as wh:
        untouched_later = customer_features(wh, LATER)
    assert not changed_later.equals(untouched_later)


def test_a_change_before_as_of_shows(store, tmp_path):
    with Warehouse(store, threads=1, read_only=True) as wh:
        before = customer_features(wh, AS_OF)
    path = copy_of(store, tmp_path)
    cut = f"TIMESTAMP '{AS_OF:%Y-%m-%d %H:%M:%S}'"
    with Warehouse(path, threads=1) as wh:
        dear = wh.raw_sql("SELECT product_id FROM products ORDER BY price DESC LIMIT 1").fetchone()
        wh.raw_sql(
            f"UPDATE events SET product_id = '{dear[0]}' "
            f"WHERE occurred_at < {cut} AND event_type = 'product_view'"
        )
        after = customer_features(wh, AS_OF)
    assert not np.allclose(
        before["view_price_index"].fillna(-1), after["view_price_index"].fillna(-1)
    )


def _registry(root: Path) -> ModelRegistry:
    reg = ModelRegistry(root)
    model = BGNBD.from_params(dict(r=0.24, alpha=4.4, a=0.8, b=2.4))
    common = dict(task="clv", features=["frequency"], primary_metric="rmse", metrics={"rmse": 1.0})
    reg.register(  # trained on outcomes up to as_of: fine
        "purchase",
        model,
        training_window=("2025-01-01", AS_OF.isoformat()),
        evaluation_window=(AS_OF.isoformat(), LATER.isoformat()),
        data_fingerprint="a",
        **common,
    )
    reg.register(  # trained on outcomes after as_of: would leak
        "churn",
        model,
        training_window=("2025-01-01", LATER.isoformat()),
        evaluation_window=(LATER.isoformat(), "2025-03-01"),
        data_fingerprint="b",
        **common,
    )
    return reg


def _write_scores(wh: Warehouse, as_of: dt.datetime, customers: list[str], base: float) -> None:
    n = len(customers)
    frame = pd.DataFrame(
        {
            "as_of": pd.Timestamp(as_of),
            "customer_id": customers * 2,
            "model": ["purchase"] * n + ["churn"] * n,
            "version": 1,
            "score": base + np.arange(2 * n) / (10 * n),
        }
    )
    data = wh.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    wh.replace_slice("scores", data.mutate(as_of=data.as_of.cast("timestamp(6)")), "as_of", as_of)


def test_scores_stored_for_as_of_from_models_trained_before_it(store, tmp_path):
    registry = _registry(tmp_path / "models")
    path = copy_of(store, tmp_path)
    with Warehouse(path, threads=1) as wh:
        plain = customer_features(wh, AS_OF, registry=registry)  # no scores table yet
        customers = plain.index[::2].tolist()
        _write_scores(wh, AS_OF, customers, 0.0)
        _write_scores(wh, LATER, plain.index.tolist(), 0.5)
        without = customer_features(wh, AS_OF)
        got = customer_features(wh, AS_OF, registry=registry)
    assert list(plain.columns) == list(without.columns) == [*CUSTOMER_FEATURES, "view_price_index"]
    assert list(got.columns) == [*without.columns, "score_purchase"]  # churn would leak
    n = len(customers)
    expected = pd.Series(np.arange(n) / (10 * n), index=customers)
    pd.testing.assert_series_equal(
        got["score_purchase"].dropna(), expected, check_names=False, check_index_type=False
    )
    assert got["score_purchase"].isna().sum() == len(got) - n
    pd.testing.assert_frame_equal(got[without.columns], without)


def test_product_context(store):
    with Warehouse(store, threads=1, read_only=True) as wh:
        groups, prices = product_context(wh)
        products = wh.to_pandas(wh.table("products")).set_index("product_id").sort_index()
        x = warehouse_interactions(wh, as_of=AS_OF)
    assert groups.index.tolist() == prices.index.tolist() == products.index.tolist()
    assert groups.to_dict() == products["category"].to_dict()
    assert np.allclose(prices["price"], products["price"].astype(float))
    assert set(x.items) <= set(groups.index)
