"""Feature values on a small hand-computed store, and no leakage past as_of."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from nextbest.features import build_snapshot, default_as_of, snapshot_frame
from nextbest.features.store import list_snapshots, load_snapshot, rows_table, save_snapshot
from nextbest.ingest import ingest
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse

AS_OF = dt.datetime(2025, 3, 1)


@pytest.fixture
def store(wh, write):
    ingest(
        wh,
        write(
            "customers.csv",
            "customer_id,signup_at,birth_date\n"
            "C1,2025-01-01,1990-03-15\nC2,2025-02-01,\nC3,2025-05-01,1980-01-01\n",
        ),
    )
    ingest(
        wh,
        write(
            "orders.csv",
            "order_id,customer_id,ordered_at,total\n"
            "O1,C1,2025-01-10,10\nO2,C1,2025-01-20,30\nO3,C1,2025-02-19,20\n"
            "O4,C2,2025-02-25,100\nO5,C1,2025-03-05,999\n",
        ),
    )
    ingest(
        wh,
        write(
            "products.csv",
            "product_id,category,brand,price\nP1,A,X,10\nP2,B,Y,30\nP3,B,Y,10\n",
        ),
    )
    ingest(
        wh,
        write(
            "order_items.csv",
            "order_id,line_no,product_id,quantity,unit_price\n"
            "O1,1,P1,1,10\nO2,1,P2,1,40\nO3,1,P3,2,10\n",
        ),
    )
    ingest(
        wh,
        write(
            "events.csv",
            "event_id,customer_id,session_id,event_type,product_id,occurred_at\n"
            "E1,C1,S1,product_view,P1,2025-02-27 10:00:00\n"
            "E2,C1,S1,add_to_cart,P1,2025-02-27 10:05:00\n"
            "E3,C1,S2,add_to_cart,P2,2025-02-28 20:00:00\n"
            "E4,C2,S3,add_to_cart,P3,2025-02-25 09:00:00\n"
            "E5,C2,S3,purchase,P3,2025-02-25 09:10:00\n"
            "E6,C1,S4,product_view,P2,2025-03-02 10:00:00\n",
        ),
    )
    ingest(
        wh,
        write(
            "messages.csv",
            "message_id,customer_id,channel,sent_at,opened_at,clicked_at\n"
            "M1,C1,email,2025-02-01,2025-02-02,2025-02-02\n"
            "M2,C1,email,2025-02-15,,\n"
            "M3,C1,email,2025-02-20,2025-03-02,\n",
        ),
    )
    return wh


def _rows(wh) -> dict[str, dict]:
    frame = wh.to_pandas(build_snapshot(wh, AS_OF))
    return {r["customer_id"]: r for r in frame.to_dict("records")}


def test_only_customers_known_before_as_of(store) -> None:
    assert sorted(_rows(store)) == ["C1", "C2"]


def test_rfm_values(store) -> None:
    c1, c2 = _rows(store)["C1"], _rows(store)["C2"]
    assert c1["recency_days"] == pytest.approx(10)
    assert (c1["frequency"], c1["monetary"], c1["aov"]) == (3, 60, 20)
    assert c1["ipt_mean_days"] == pytest.approx(20)
    assert c1["ipt_std_days"] == pytest.approx(10)
    assert c1["expected_days_to_next"] == pytest.approx(10)
    assert (c1["frequency_30d"], c1["monetary_30d"]) == (1, 20)
    assert (c1["frequency_90d"], c1["monetary_90d"]) == (3, 60)
    assert c2["recency_days"] == pytest.approx(4)
    assert math.isnan(c2["ipt_mean_days"])


def test_behaviour_values(store) -> None:
    c1, c2 = _rows(store)["C1"], _rows(store)["C2"]
    assert (c1["sessions_30d"], c1["product_views_30d"], c1["add_to_carts_30d"]) == (2, 1, 2)
    assert c1["cart_abandonments_30d"] == 1  # the second cart's 24 h have not passed yet
    assert c2["cart_abandonments_30d"] == 0  # bought ten minutes later
    assert c1["avg_session_minutes"] == pytest.approx(2.5)
    assert c1["bounce_rate"] == pytest.approx(0.5)
    assert c1["days_since_last_event"] == pytest.approx(4 / 24)
    ages = [1 + 14 / 24, 1 + (13 * 60 + 55) / 1440, 4 / 24]
    assert c1["activity_score"] == pytest.approx(sum(2 ** (-a / 14) for a in ages))
    assert c1["days_since_last_abandonment"] == pytest.approx(1 + (13 * 60 + 55) / 1440)


def test_preference_values(store) -> None:
    c1, c2 = _rows(store)["C1"], _rows(store)["C2"]

    def d(age: float) -> float:
        return 2 ** (-age / 14)

    a = 1 * d(1 + 14 / 24) + 2 * d(1 + (13 * 60 + 55) / 1440)
    b = 2 * d(4 / 24)
    assert c1["affinity_a"] == pytest.approx(a / (a + b))
    assert c1["affinity_b"] == pytest.approx(b / (a + b))
    assert c1["favourite_category"] == ("A" if a > b else "B")
    assert c2["favourite_category"] == "B" and c2["affinity_b"] == pytest.approx(1)
    assert c2["favourite_brand"] == "Y" and c2["favourite_brand_share"] == pytest.approx(1)
    assert c1["price_index"] == pytest.approx((10 / 10 + 40 / 20 + 10 / 20) / 3)
    assert c1["discount_share"] == pytest.approx(1 / 3)  # O2 paid 30 for 40 of lines
    assert math.isnan(c2["price_index"])


def test_engagement_values(store) -> None:
    c1 = _rows(store)["C1"]
    assert c1["messages_sent"] == 3
    assert c1["open_rate"] == pytest.approx(1 / 3)  # the open after as_of does not count
    assert c1["click_rate"] == pytest.approx(1 / 3)
    assert c1["days_since_last_open"] == pytest.approx(27)
    w = [2 ** (-a / 14) for a in (28, 14, 9)]
    assert c1["engagement_score"] == pytest.approx(3 * w[0] / (3 * sum(w)))


def test_lifecycle_values(store) -> None:
    c1, c2 = _rows(store)["C1"], _rows(store)["C2"]
    assert c1["days_to_birthday"] == 14
    assert c1["age_years"] == 34
    assert c1["tenure_days"] == pytest.approx(59)
    assert c2["tenure_days"] == pytest.approx(28)
    assert math.isnan(c2["days_to_birthday"])
    assert c1["loyalty_tier"] == "bronze"


def test_snapshots_are_stored_by_as_of_and_replaced(store) -> None:
    assert save_snapshot(store, AS_OF) == 2
    assert save_snapshot(store, AS_OF + dt.timedelta(days=10)) == 2
    assert save_snapshot(store, AS_OF) == 2
    assert list_snapshots(store) == [AS_OF, AS_OF + dt.timedelta(days=10)]
    # the replaced snapshot's rows are gone: 2 customers x 2 snapshots per family
    assert store.count(rows_table("rfm")) == 4
    one = load_snapshot(store, AS_OF, customer_id="C1")
    assert one["frequency"].tolist() == [3]
    assert load_snapshot(store)["as_of"].iloc[0] == AS_OF + dt.timedelta(days=10)


def _temp_tables(wh) -> int:
    return wh.raw_sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0]


def test_staged_snapshot_equals_the_single_expression_and_leaves_no_tables(store) -> None:
    before = _temp_tables(store)
    staged = snapshot_frame(store, AS_OF)
    assert _temp_tables(store) == before
    whole = store.to_pandas(build_snapshot(store, AS_OF))
    assert staged.columns.tolist() == whole.columns.tolist()
    assert staged.equals(whole)
    save_snapshot(store, AS_OF)
    assert _temp_tables(store) == before


def test_default_as_of_is_midnight_after_the_latest_data(store) -> None:
    assert default_as_of(store) == dt.datetime(2025, 3, 6)


def test_affinity_follows_the_hidden_taste(tmp_path: Path) -> None:
    store = generate(customers=400, days=180, seed=3)
    write_store(store, tmp_path / "data", fmt="parquet")
    with Warehouse(tmp_path / "w.duckdb", threads=1) as wh:
        ingest(wh, tmp_path / "data")
        snap = wh.to_pandas(build_snapshot(wh, default_as_of(wh)))
    truth = store.truth.to_pandas().set_index("customer_id")
    tastes = truth[[c for c in truth.columns if c.startswith("taste_")]]
    top_taste = tastes.idxmax(axis=1).str.removeprefix("taste_")
    known = snap.dropna(subset=["favourite_category"]).set_index("customer_id")
    agree = (known.favourite_category == top_taste.reindex(known.index)).mean()
    assert len(known) > 200
    assert agree > 0.6  # 12 categories: chance is about 0.08


def _cut(table: pa.Table, name: str, as_of: dt.datetime, orders: pa.Table) -> pa.Table:
    """Only what was known before as_of, as a warehouse holding just that would see it."""
    ts = pa.scalar(as_of, pa.timestamp("us"))
    column = {
        "customers": "signup_at",
        "orders": "ordered_at",
        "events": "occurred_at",
        "messages": "sent_at",
        "consents": "updated_at",
    }.get(name)
    if column:
        table = table.filter(pc.less(table[column], ts))
    if name == "order_items":
        table = table.filter(pc.is_in(table["order_id"], value_set=orders["order_id"]))
    if name == "messages":
        for c in ("opened_at", "clicked_at", "converted_at"):
            later = pc.greater_equal(table[c], ts)
            table = table.set_column(
                table.schema.get_field_index(c),
                c,
                pc.if_else(later, pa.scalar(None, pa.timestamp("us")), table[c]),
            )
    return table


def test_no_leakage_data_after_as_of_changes_nothing(tmp_path: Path) -> None:
    store = generate(customers=300, days=120, seed=11)
    msgs = store.tables["messages"].to_pandas()
    late = msgs[(msgs.opened_at - msgs.sent_at) > dt.timedelta(hours=3)].sort_values("sent_at")
    # a moment when some message was sent but not yet opened: a chance to leak
    as_of = (late.sent_at.iloc[len(late) // 2] + dt.timedelta(hours=1)).to_pydatetime()
    write_store(store, tmp_path / "full", fmt="parquet")
    orders = _cut(store.tables["orders"], "orders", as_of, store.tables["orders"])
    past = {name: _cut(t, name, as_of, orders) for name, t in store.tables.items()}
    assert past["events"].num_rows < store.tables["events"].num_rows  # there is a future
    import pyarrow.parquet as pq

    (tmp_path / "past").mkdir()
    for name, table in past.items():
        pq.write_table(table, tmp_path / "past" / f"{name}.parquet")
    frames = []
    for folder in ("full", "past"):
        with Warehouse(tmp_path / f"{folder}.duckdb", threads=1) as wh:
            ingest(wh, tmp_path / folder)
            frames.append(wh.to_pandas(build_snapshot(wh, as_of)))
    full, only_past = frames
    assert len(full) > 100
    assert full.equals(only_past)


def test_custom_feature_from_settings(store) -> None:
    from nextbest.config import CustomFeature, FeatureSettings

    settings = FeatureSettings(
        custom=[
            CustomFeature(
                name="big_orders_90d",
                table="orders",
                aggregate="count(*) FILTER (WHERE total > 15)",
                window_days=90,
                fill=0,
            ),
            CustomFeature(name="max_order", table="orders", aggregate="max(total)"),
        ]
    )
    rows = {
        r["customer_id"]: r
        for r in store.to_pandas(build_snapshot(store, AS_OF, settings)).to_dict("records")
    }
    assert rows["C1"]["big_orders_90d"] == 2  # 30 and 20; the 999 order is after as_of
    assert rows["C1"]["max_order"] == 30
    assert rows["C2"]["big_orders_90d"] == 1


def test_feature_family_from_a_module(store, tmp_path: Path, monkeypatch) -> None:
    from nextbest.config import FeatureSettings
    from nextbest.features import REGISTRY

    (tmp_path / "shop_features.py").write_text(
        "from nextbest.features import REGISTRY, Feature\n"
        "@REGISTRY.family('shop', [Feature('orders_x2', 'twice the orders', fill=0)])\n"
        "def shop(ctx):\n"
        "    o = ctx['orders']\n"
        "    return o.group_by('customer_id').aggregate(orders_x2=o.count() * 2)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        frame = store.to_pandas(
            build_snapshot(store, AS_OF, FeatureSettings(modules=["shop_features"]))
        )
        assert frame.set_index("customer_id").loc["C1", "orders_x2"] == 6
    finally:
        REGISTRY.families.pop("shop", None)


def test_bad_custom_feature_is_a_config_error(store) -> None:
    from nextbest.config import CustomFeature, FeatureSettings
    from nextbest.errors import ConfigError

    bad = FeatureSettings(custom=[CustomFeature(name="x", table="orders", aggregate="sum(total")])
    with pytest.raises(ConfigError, match="custom feature 'x'"):
        build_snapshot(store, AS_OF, bad)
