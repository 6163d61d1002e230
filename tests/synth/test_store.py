"""The synthetic store: determinism, schema, integrity and behaviour that follows the truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nextbest.errors import NextBestError
from nextbest.schema import TABLES
from nextbest.synth import SynthStore, arrow_schema, generate, write_store

ARGS = {"customers": 300, "days": 120, "seed": 7, "start": "2025-11-01"}


@pytest.fixture(scope="module")
def small() -> SynthStore:
    return generate(**ARGS)


@pytest.fixture(scope="module")
def year() -> SynthStore:
    return generate(customers=1500, days=365, seed=3, start="2025-01-01")


@pytest.fixture(scope="module")
def df(year: SynthStore) -> dict[str, pd.DataFrame]:
    frames = {name: table.to_pandas() for name, table in year.tables.items()}
    frames["truth"] = year.truth.to_pandas()
    return frames


def _sessions(events: pd.DataFrame) -> pd.DataFrame:
    return events.groupby("session_id").agg(
        customer_id=("customer_id", "first"), start=("occurred_at", "min")
    )


def _intensity(df: dict[str, pd.DataFrame], days: pd.DatetimeIndex) -> np.ndarray:
    """Expected sessions per day without seasonality: sum of rates of active customers."""
    truth = df["truth"].merge(df["customers"][["customer_id", "signup_at"]])
    noon = days.values[:, None] + np.timedelta64(12, "h")
    churn = truth["churn_at"].values[None, :]
    react = truth["reactivated_at"].values[None, :]
    active = (truth["signup_at"].values[None, :] <= noon) & (
        pd.isna(churn) | (noon < churn) | (~pd.isna(react) & (noon >= react))
    )
    return (active * truth["activity_rate"].values[None, :]).sum(axis=1)


# --------------------------------------------------------------------------- determinism


def test_same_arguments_give_identical_tables(small: SynthStore) -> None:
    again = generate(**ARGS)
    for name in TABLES:
        assert again.tables[name].equals(small.tables[name]), name
    assert again.truth.equals(small.truth)


def test_different_seed_gives_different_data(small: SynthStore) -> None:
    other = generate(**{**ARGS, "seed": 8})
    assert not other.tables["events"].equals(small.tables["events"])
    assert not other.truth.equals(small.truth)


def test_progress_reports_every_step() -> None:
    calls: list[tuple[str, int, int]] = []
    generate(customers=20, days=5, seed=1, progress=lambda *a: calls.append(a))
    assert [c[1] for c in calls] == list(range(1, len(calls) + 1))
    assert all(c[2] == len(calls) for c in calls)


@pytest.mark.parametrize(
    "kwargs",
    [{"customers": 0}, {"days": -1}, {"seed": -3}, {"start": "not-a-date"}, {"customers": 2.5}],
)
def test_bad_arguments_raise_a_clear_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(NextBestError):
        generate(**{"customers": 10, "days": 5, **kwargs})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- schema


def test_columns_and_types_are_canonical(small: SynthStore) -> None:
    kinds = {
        "string": pa.string(),
        "json": pa.string(),
        "timestamp": pa.timestamp("us"),
        "date": pa.date32(),
        "decimal": pa.float64(),
        "int": pa.int32(),
        "boolean": pa.bool_(),
    }
    assert list(small.tables) == list(TABLES)
    for name, spec in TABLES.items():
        table = small.tables[name]
        assert table.schema.names == spec.names, name
        assert table.schema.equals(arrow_schema(name)), name
        for col in spec.columns:
            assert table.schema.field(col.name).type == kinds[col.kind], (name, col.name)
            if col.required:
                assert table.column(col.name).null_count == 0, (name, col.name)
            if col.enum:
                assert set(table.column(col.name).to_pylist()) <= set(col.enum)


def test_keys_are_unique_and_ids_look_right(df: dict[str, pd.DataFrame]) -> None:
    for name, spec in TABLES.items():
        assert not df[name].duplicated(list(spec.key)).any(), name
    assert df["customers"]["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert df["products"]["product_id"].str.fullmatch(r"P\d{5}").all()
    assert df["orders"]["order_id"].str.fullmatch(r"O\d{8}").all()
    assert df["events"]["event_id"].str.fullmatch(r"E\d{9}").all()
    assert df["events"]["session_id"].str.fullmatch(r"S\d{8}").all()
    assert df["messages"]["message_id"].str.fullmatch(r"M\d{8}").all()


def test_truth_has_one_row_per_customer(year: SynthStore, df: dict[str, pd.DataFrame]) -> None:
    truth = df["truth"]
    assert len(year.categories) == 12
    taste = truth[[f"taste_{c}" for c in year.categories]]
    assert np.allclose(taste.sum(axis=1), 1.0)
    assert (taste.max(axis=1) > 0.3).mean() > 0.9  # concentrated on few categories
    assert list(truth["customer_id"]) == list(df["customers"]["customer_id"])
    for col in ("price_sensitivity", "engagement"):
        assert truth[col].between(0, 1).all()
    assert (truth["activity_rate"] > 0).all()
    churned = truth["churn_at"].notna()
    assert 0.1 < churned.mean() < 0.8
    assert truth.loc[truth["reactivated_at"].notna(), "churn_at"].notna().all()
    back = truth["reactivated_at"].notna()
    assert (truth.loc[back, "reactivated_at"] > truth.loc[back, "churn_at"]).all()


def test_catalogue_is_realistic(df: dict[str, pd.DataFrame]) -> None:
    products = df["products"]
    assert len(products) == 200  # 20 per 1000 customers, at least 200
    assert products["category"].nunique() == 12
    assert products.groupby("category")["brand"].nunique().min() >= 3
    assert 0.8 < products["in_stock"].mean() < 1.0
    medians = products.groupby("category")["price"].median()
    assert medians["electronics"] > 3 * medians["grocery"]
    cents = products["price"] * 100
    assert np.allclose(cents, cents.round())


def test_customers_are_clean_and_plausible(year: SynthStore, df: dict[str, pd.DataFrame]) -> None:
    customers = df["customers"]
    email = customers["email"]
    assert (email == email.str.strip().str.lower()).all()
    assert email.is_unique
    start = pd.Timestamp(year.start)
    age = (start - pd.to_datetime(customers["birth_date"])).dt.days / 365.25
    assert age.between(17.9, 80.1).all()
    before = (customers["signup_at"] < start).mean()
    assert 0.2 < before < 0.5
    joined = customers.loc[customers["signup_at"] >= start, "signup_at"]
    first_half = (joined < start + pd.Timedelta(days=182)).sum()
    assert first_half < len(joined) - first_half  # acquisition grows over time


# --------------------------------------------------------------------------- integrity


def test_references_resolve(df: dict[str, pd.DataFrame]) -> None:
    customers = set(df["customers"]["customer_id"])
    products = set(df["products"]["product_id"])
    for name in ("orders", "events", "messages", "consents"):
        assert set(df[name]["customer_id"]) <= customers, name
    assert set(df["order_items"]["order_id"]) == set(df["orders"]["order_id"])
    assert set(df["order_items"]["product_id"]) <= products
    assert set(df["events"]["product_id"].dropna()) <= products


def test_order_totals_equal_lines_after_discount(df: dict[str, pd.DataFrame]) -> None:
    items = df["order_items"]
    assert (items["quantity"] >= 1).all() and (items["unit_price"] > 0).all()
    lines = (items["quantity"] * items["unit_price"]).groupby(items["order_id"]).sum()
    purchases = df["events"][df["events"]["event_type"] == "purchase"]
    props = purchases["properties"].map(json.loads)
    discount = pd.Series(
        [p.get("discount", 0.0) for p in props], index=[p["order_id"] for p in props]
    )
    orders = df["orders"].set_index("order_id")
    expected = lines[orders.index] * (1 - discount[orders.index])
    assert ((orders["total"] - expected).abs() <= 0.005 + 1e-6).all()  # rounded to the cent
    assert 0.02 < (discount > 0).mean() < 0.4
    assert set(orders["currency"]) <= {"USD", "EUR", "GBP"}
    assert (orders["currency"] == "USD").mean() > 0.7
    assert set(orders["channel"]) == {"web", "app"}


def test_every_order_has_its_purchase_event(df: dict[str, pd.DataFrame]) -> None:
    purchases = df["events"][df["events"]["event_type"] == "purchase"].copy()
    purchases["order_id"] = purchases["properties"].map(lambda p: json.loads(p)["order_id"])
    merged = df["orders"].merge(purchases, on="order_id", suffixes=("", "_event"))
    assert len(merged) == len(df["orders"]) == len(purchases)
    assert (merged["customer_id"] == merged["customer_id_event"]).all()
    assert (merged["ordered_at"] == merged["occurred_at"]).all()
    assert df["orders"]["ordered_at"].is_monotonic_increasing


def test_repeated_products_stay_on_separate_lines(df: dict[str, pd.DataFrame]) -> None:
    items = df["order_items"]
    assert items.duplicated(["order_id", "product_id"]).any()
    numbered = items.groupby("order_id")["line_no"].agg(["min", "max", "count"])
    assert (numbered["min"] == 1).all() and (numbered["max"] == numbered["count"]).all()


# --------------------------------------------------------------------------- behaviour


def test_events_follow_the_funnel(df: dict[str, pd.DataFrame]) -> None:
    ev = df["events"]
    assert ev["occurred_at"].is_monotonic_increasing
    assert ev.loc[ev["event_type"].isin(["page_view", "search"]), "product_id"].isna().all()
    with_product = ev["event_type"].isin(["product_view", "add_to_cart", "remove_from_cart"])
    assert ev.loc[with_product, "product_id"].notna().all()
    assert ev.loc[with_product, "category"].notna().all()
    searches = ev.loc[ev["event_type"] == "search", "properties"].map(json.loads)
    assert all("query" in p for p in searches)

    first = ev.pivot_table(
        index="session_id", columns="event_type", values="occurred_at", aggfunc="min"
    )
    bought = first["purchase"].notna()
    assert (first.loc[bought, "checkout"] < first.loc[bought, "purchase"]).all()
    checked = first["checkout"].notna()
    assert (first.loc[checked, "add_to_cart"] < first.loc[checked, "checkout"]).all()
    added = first["add_to_cart"].notna()
    assert (first.loc[added, "product_view"] < first.loc[added, "add_to_cart"]).all()
    removed = first["remove_from_cart"].notna()
    assert (first.loc[removed, "add_to_cart"] < first.loc[removed, "remove_from_cart"]).all()

    views = ev[ev["event_type"] == "product_view"][["session_id", "product_id", "occurred_at"]]
    adds = ev[ev["event_type"] == "add_to_cart"][["session_id", "product_id", "occurred_at"]]
    seen = adds.merge(views, on=["session_id", "product_id"], suffixes=("", "_view"))
    seen = seen[seen["occurred_at_view"] < seen["occurred_at"]]
    assert len(seen.drop_duplicates(["session_id", "product_id", "occurred_at"])) == len(adds)

    abandoned = 1 - first.loc[added, "purchase"].notna().mean()
    assert 0.3 < abandoned < 0.9


def test_sessions_are_short_and_belong_to_one_customer(df: dict[str, pd.DataFrame]) -> None:
    ev = df["events"]
    per = ev.groupby("session_id").agg(
        customers=("customer_id", "nunique"),
        first=("occurred_at", "min"),
        last=("occurred_at", "max"),
    )
    span = per["last"] - per["first"]
    assert (per["customers"] == 1).all()
    assert span.max() < pd.Timedelta(hours=6)
    assert span.median() < pd.Timedelta(minutes=30)


def test_purchased_categories_follow_taste(year: SynthStore, df: dict[str, pd.DataFrame]) -> None:
    items = df["order_items"].merge(df["orders"][["order_id", "customer_id"]])
    items = items.merge(df["products"][["product_id", "category"]])
    counts = pd.crosstab(items["customer_id"], items["category"])
    counts = counts[counts.sum(axis=1) >= 4]
    share = counts.div(counts.sum(axis=1), axis=0)
    truth = df["truth"].set_index("customer_id")
    taste = truth.loc[share.index, [f"taste_{c}" for c in share.columns]].to_numpy()
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(share.to_numpy(), taste, strict=True)]
    assert len(corr) > 100
    assert np.nanmean(corr) > 0.6


def test_price_sensitive_customers_buy_cheaper(df: dict[str, pd.DataFrame]) -> None:
    items = df["order_items"].merge(df["orders"][["order_id", "customer_id"]])
    items = items.merge(df["products"][["product_id", "category"]])
    items["rel"] = np.log(items["unit_price"]) - items.groupby("category")["unit_price"].transform(
        lambda p: np.log(p).mean()
    )
    rel = items.groupby("customer_id")["rel"].mean()
    ps = df["truth"].set_index("customer_id").loc[rel.index, "price_sensitivity"]
    assert np.corrcoef(rel, ps)[0, 1] < -0.15


def test_no_activity_while_churned(df: dict[str, pd.DataFrame]) -> None:
    ev = df["events"].merge(df["truth"][["customer_id", "churn_at", "reactivated_at"]])
    churned = ev[ev["churn_at"].notna()]
    after = churned["occurred_at"] >= churned["churn_at"]
    back = churned["reactivated_at"].notna() & (churned["occurred_at"] >= churned["reactivated_at"])
    assert not (after & ~back).any()
    assert back.any()  # reactivated customers do come back
    signup = df["customers"].set_index("customer_id")["signup_at"]
    assert (df["events"]["occurred_at"].values >= signup[df["events"]["customer_id"]].values).all()


def test_engaged_customers_are_more_active(df: dict[str, pd.DataFrame]) -> None:
    sessions = _sessions(df["events"]).groupby("customer_id").size()
    truth = df["truth"].set_index("customer_id")
    count = sessions.reindex(truth.index, fill_value=0)
    assert np.corrcoef(count, truth["activity_rate"])[0, 1] > 0.3


def test_seasonality_holidays_and_weekends(df: dict[str, pd.DataFrame]) -> None:
    sessions = _sessions(df["events"])
    per_day = sessions.groupby(sessions["start"].dt.normalize()).size()
    days = pd.date_range("2025-01-01", periods=365, freq="D")
    per_day = per_day.reindex(days, fill_value=0)
    ratio = per_day.to_numpy() / _intensity(df, days)
    frame = pd.Series(ratio, index=days)
    december = frame["2025-12-01":"2025-12-21"].mean()
    february = frame["2025-02-03":"2025-02-23"].mean()
    black_friday_week = frame["2025-11-27":"2025-12-01"].mean()
    assert december > 1.25 * february
    assert black_friday_week > 1.5 * february
    weekend = frame[days.day_of_week >= 5].mean()
    weekday = frame[days.day_of_week < 5].mean()
    assert weekend > 1.15 * weekday
    hours = sessions["start"].dt.hour.value_counts()
    assert hours[range(18, 22)].sum() > 3 * hours[range(1, 5)].sum()


def test_messages_follow_engagement_and_consent(df: dict[str, pd.DataFrame]) -> None:
    msgs = df["messages"].merge(df["truth"][["customer_id", "engagement"]])
    assert set(msgs["channel"]) == {"email", "push"}
    email = msgs[msgs["channel"] == "email"]
    low = email[email["engagement"] < email["engagement"].quantile(1 / 3)]
    high = email[email["engagement"] > email["engagement"].quantile(2 / 3)]
    assert high["opened_at"].notna().mean() > 1.8 * low["opened_at"].notna().mean()

    consents = df["consents"].sort_values("updated_at")
    sent = msgs.sort_values("sent_at")
    state = pd.merge_asof(
        sent,
        consents[["customer_id", "channel", "granted", "updated_at"]],
        left_on="sent_at",
        right_on="updated_at",
        by=["customer_id", "channel"],
    )
    assert state["granted"].notna().all()
    assert state["granted"].astype(bool).all()


def test_message_outcomes_happen_in_order(df: dict[str, pd.DataFrame], year: SynthStore) -> None:
    msgs = df["messages"]
    end = pd.Timestamp(year.start) + pd.Timedelta(days=year.days)
    assert msgs["sent_at"].is_monotonic_increasing
    opened, clicked, converted = (
        msgs[f"{c}_at"].notna() for c in ("opened", "clicked", "converted")
    )
    assert not (clicked & ~opened).any() and not (converted & ~clicked).any()
    assert (msgs.loc[opened, "opened_at"] > msgs.loc[opened, "sent_at"]).all()
    assert (msgs.loc[clicked, "clicked_at"] > msgs.loc[clicked, "opened_at"]).all()
    assert (msgs.loc[converted, "converted_at"] > msgs.loc[converted, "clicked_at"]).all()
    assert (msgs[["opened_at", "clicked_at", "converted_at"]].max() < end).all()
    assert converted.sum() > 0
    orders = set(zip(df["orders"]["customer_id"], df["orders"]["ordered_at"], strict=True))
    conv = msgs[converted]
    pairs = zip(conv["customer_id"], conv["converted_at"], strict=True)
    assert all(pair in orders for pair in pairs)


def test_consents_start_at_signup(df: dict[str, pd.DataFrame]) -> None:
    consents = df["consents"]
    assert set(consents["purpose"]) == {"marketing"}
    assert set(consents["source"]) == {"signup", "preference_center"}
    signup = consents[consents["source"] == "signup"]
    assert len(signup) == 2 * len(df["customers"])
    granted = signup.groupby("channel")["granted"].mean()
    assert 0.78 < granted["email"] < 0.92 and 0.5 < granted["push"] < 0.7
    at = df["customers"].set_index("customer_id")["signup_at"]
    assert (signup["updated_at"].values == at[signup["customer_id"]].values).all()
    later = consents[consents["source"] == "preference_center"]
    assert len(later) > 0
    assert (later["updated_at"].values > at[later["customer_id"]].values).all()


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_store_round_trips(small: SynthStore, tmp_path, fmt: str) -> None:
    paths = write_store(small, tmp_path, fmt=fmt)
    assert set(TABLES) <= set(paths)
    manifest = json.loads(paths["manifest"].read_text())
    assert manifest["seed"] == ARGS["seed"] and manifest["customers"] == ARGS["customers"]
    assert manifest["rows"] == small.row_counts()
    assert pq.read_table(paths["truth"]).equals(small.truth)
    if fmt == "parquet":
        for name in TABLES:
            assert pq.read_table(paths[name]).equals(small.tables[name]), name
    else:
        orders = pd.read_csv(paths["orders"])
        assert list(orders.columns) == TABLES["orders"].names
        assert len(orders) == small.tables["orders"].num_rows
        lines = paths["events"].read_text().splitlines()
        assert len(lines) == small.tables["events"].num_rows + 1
