"""Incremental snapshots equal full recomputes, and fall back to full when they cannot."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from nextbest.config import FeatureSettings
from nextbest.features import build_snapshot, default_as_of
from nextbest.features.incremental import update_snapshot
from nextbest.features.store import current_parts, load_snapshot
from nextbest.ingest import ingest
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse


@pytest.fixture(scope="module")
def store_wh(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("incremental")
    write_store(generate(customers=250, days=150, seed=11), root / "store")
    wh = Warehouse(root / "w.duckdb", threads=1)
    ingest(wh, root / "store")
    yield wh
    wh.close()


def stored(wh: Warehouse, as_of: dt.datetime) -> pd.DataFrame:
    return load_snapshot(wh, as_of).drop(columns="as_of").reset_index(drop=True)


def mismatches(full: pd.DataFrame, got: pd.DataFrame) -> dict[str, int]:
    """Columns whose values differ (numbers beyond 1e-9 relative or absolute)."""
    assert list(full.customer_id) == list(got.customer_id)
    out = {}
    for c in full.columns:
        x, y = full[c], got[c]
        if x.dtype.kind in "fiu":
            ok = np.isclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            ok = (x.fillna("\0").astype(str) == y.fillna("\0").astype(str)).to_numpy()
        if not ok.all():
            out[c] = int((~ok).sum())
    return out


def test_incremental_steps_equal_full_recompute_on_random_days(store_wh):
    wh = store_wh
    rng = random.Random(7)
    end = default_as_of(wh)
    day = end - dt.timedelta(days=rng.randint(30, 60))
    first = update_snapshot(wh, day, full=True)
    assert first.mode == "full"
    steps = 0
    while steps < 3:
        day += dt.timedelta(days=rng.choice([1, 1, 2, 3]))
        result = update_snapshot(wh, day)
        assert result.mode == "incremental", result.reason
        full = wh.to_pandas(build_snapshot(wh, day)).reset_index(drop=True)
        got = stored(wh, day)
        assert set(full.columns) <= set(got.columns)
        assert mismatches(full, got[full.columns]) == {}
        assert result.rows == len(full)
        # its profile: each statement run and the commit
        assert {"commit", "guards", "stage:delta"} <= set(result.timings)
        assert all(seconds >= 0 for seconds in result.timings.values())
        steps += 1
    # the comparison can fail: a corrupted state gives a different snapshot
    wh.raw_sql("UPDATE feature_state_customers SET n_orders = n_orders + 1")
    nxt = day + dt.timedelta(days=1)
    assert update_snapshot(wh, nxt).mode == "incremental"
    bad = mismatches(wh.to_pandas(build_snapshot(wh, nxt)).reset_index(drop=True), stored(wh, nxt))
    assert "frequency" in bad


def test_full_build_when_the_state_cannot_be_used(store_wh):
    wh = store_wh
    day = default_as_of(wh) - dt.timedelta(days=20)
    assert update_snapshot(wh, day, full=True).reason == "full build requested"
    changed = FeatureSettings(half_life_days=3.0)
    assert update_snapshot(wh, day + dt.timedelta(days=1), changed).reason == (
        "feature settings changed"
    )
    noon = day + dt.timedelta(days=1, hours=12)
    assert "not a midnight" in update_snapshot(wh, noon, changed).reason
    assert "not after the state's" in update_snapshot(wh, day, changed).reason
    update_snapshot(wh, day + dt.timedelta(days=2), changed)
    # a late row before the state's as_of: the state no longer describes the data
    wh.raw_sql(
        "INSERT INTO events (event_id, customer_id, event_type, occurred_at) "
        "SELECT 'late-1', customer_id, 'page_view', ? FROM customers LIMIT 1",
        params=[day],
    )
    late = update_snapshot(wh, day + dt.timedelta(days=3), changed)
    assert late.mode == "full" and "changed" in late.reason
    full = wh.to_pandas(build_snapshot(wh, late.as_of, changed)).reset_index(drop=True)
    assert mismatches(full, stored(wh, late.as_of)[full.columns]) == {}


def test_daily_steps_patch_the_snapshot_and_compact_it(store_wh):
    wh = store_wh
    first = default_as_of(wh) - dt.timedelta(days=12)
    update_snapshot(wh, first, full=True)
    days = [first + dt.timedelta(days=i) for i in range(1, 9)]
    for day in days:
        assert update_snapshot(wh, day).mode == "incremental"
    written = [p for day in days for p in current_parts(wh, day).values()]
    customers = len(stored(wh, days[-1]))
    patches = [p for p in written if p.parent is not None]
    assert patches and all(p.rows < customers for p in patches)
    # a family whose patches added up to its full part was written in full again
    compacted = [p for p in written if p.parent is None]
    assert compacted
    for day in (days[-1], days[-4]):  # the last day, and an earlier one of the chain
        full = wh.to_pandas(build_snapshot(wh, day)).reset_index(drop=True)
        assert mismatches(full, stored(wh, day)[full.columns]) == {}


def test_an_edited_birth_date_rebuilds_the_state(store_wh):
    wh = store_wh
    day = default_as_of(wh) - dt.timedelta(days=5)
    update_snapshot(wh, day, full=True)
    wh.raw_sql(
        "UPDATE customers SET birth_date = DATE '1990-01-01' WHERE customer_id = "
        "(SELECT min(customer_id) FROM customers WHERE signup_at < ?)",
        params=[day],
    )
    nxt = update_snapshot(wh, day + dt.timedelta(days=1))
    assert nxt.mode == "full" and "customer profiles" in nxt.reason
    full = wh.to_pandas(build_snapshot(wh, nxt.as_of)).reset_index(drop=True)
    assert mismatches(full, stored(wh, nxt.as_of)[full.columns]) == {}


def test_new_top_categories_rewrite_the_preferences(tmp_path):
    write_store(generate(customers=120, days=90, seed=5), tmp_path / "store")
    settings = FeatureSettings(top_categories=2)
    with Warehouse(tmp_path / "w.duckdb", threads=1) as wh:
        ingest(wh, tmp_path / "store")
        day = default_as_of(wh) - dt.timedelta(days=10)
        update_snapshot(wh, day, settings, full=True)
        ranked = wh.raw_sql(
            "SELECT p.category, count(*) AS n FROM events e JOIN products p USING (product_id) "
            "WHERE e.occurred_at < ? GROUP BY 1 ORDER BY n DESC, 1",
            params=[day],
        ).fetchall()
        last, most = ranked[-1][0], ranked[0][1]
        # a burst of views of the least viewed category: it becomes the most viewed
        wh.raw_sql(
            "INSERT INTO events (event_id, customer_id, event_type, product_id, occurred_at) "
            "SELECT 'burst-' || i, c.customer_id, 'product_view', p.product_id, "
            "? + INTERVAL 1 HOUR FROM range(?) AS r(i) "
            "JOIN (SELECT customer_id, row_number() OVER (ORDER BY customer_id) - 1 AS k "
            "FROM customers WHERE signup_at < ?) AS c ON c.k = i % 7 "
            "JOIN (SELECT min(product_id) AS product_id FROM products WHERE category = ?) AS p "
            "ON TRUE",
            params=[day, most + 1, day, last],
        )
        for nxt in (day + dt.timedelta(days=1), day + dt.timedelta(days=2)):
            result = update_snapshot(wh, nxt, settings)
            assert result.mode == "incremental", result.reason
            full = wh.to_pandas(build_snapshot(wh, nxt, settings)).reset_index(drop=True)
            assert f"affinity_{last}" in full.columns
            assert mismatches(full, stored(wh, nxt)[full.columns]) == {}
        parts = [current_parts(wh, d)["preferences"] for d in (nxt - dt.timedelta(days=1), nxt)]
        assert parts[0].parent is None  # every customer's preferences written anew
        assert parts[1].parent == parts[0].part  # then a patch again
