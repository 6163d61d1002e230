"""Labels by temporal cutoffs, no leakage, and training through the registry."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from nextbest.features import default_as_of
from nextbest.features.labels import Target, training_frame
from nextbest.ingest import ingest
from nextbest.models.registry import ModelRegistry
from nextbest.models.train import TrainOptions, plan_cutoffs, train
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("train")
    write_store(generate(customers=600, days=240, seed=21), root / "store")
    wh = Warehouse(root / "w.duckdb", threads=1)
    ingest(wh, root / "store")
    yield wh
    wh.close()


def test_cutoffs_keep_training_outcomes_before_the_evaluation_window():
    end = dt.datetime(2025, 9, 1)
    plan = plan_cutoffs(end, 30, 3)
    assert plan.test == end - dt.timedelta(days=30)
    assert plan.train == sorted(plan.train) and len(plan.train) == 3
    assert all(c + dt.timedelta(days=30) <= plan.test for c in plan.train)


def test_outcomes_look_only_at_the_window_after_the_cutoff(shop):
    wh = shop
    cutoff = default_as_of(wh) - dt.timedelta(days=60)
    target = Target("purchase", horizon_days=30)
    before = training_frame(wh, cutoff, target)
    quiet = before[before.y == 0].customer_id.iloc[0]
    late = cutoff + dt.timedelta(days=45)  # after the window: changes nothing
    inside = cutoff + dt.timedelta(days=3)  # inside the window: the outcome only
    for i, when in enumerate((late, inside)):
        wh.raw_sql(
            "INSERT INTO orders (order_id, customer_id, ordered_at, total, currency) "
            "VALUES (?, ?, ?, 10, 'EUR')",
            params=[f"leak-{i}", quiet, when],
        )
        after = training_frame(wh, cutoff, target)
        features = [c for c in before.columns if c != "y"]
        assert after[features].equals(before[features])  # features never see it
        changed = set(after.customer_id[after.y != before.y])
        assert changed == (set() if when == late else {quiet})
    wh.raw_sql("DELETE FROM orders WHERE order_id LIKE 'leak-%'")


def test_churn_counts_only_active_customers(shop):
    wh = shop
    cutoff = default_as_of(wh) - dt.timedelta(days=30)
    frame = training_frame(wh, cutoff, Target("churn", horizon_days=30, active_days=60))
    assert len(frame) > 0 and (frame.recency_days < 60).all()
    assert set(frame.y.unique()) <= {0, 1}


def test_train_registers_promotes_and_reloads_the_same_model(shop, tmp_path):
    wh = shop
    registry = ModelRegistry(tmp_path / "models")
    options = TrainOptions(windows=2, trials=0)
    first = train(wh, registry, Target("churn"), options, report_dir=tmp_path / "reports")
    assert first.promoted and first.version.stage == "champion"
    assert 0.5 < first.metrics["roc_auc"] <= 1 and "roc_auc" in first.baseline
    assert (tmp_path / "reports" / "model-churn.html").exists()
    again = train(wh, registry, Target("churn"), options)
    assert again.metrics["roc_auc"] == first.metrics["roc_auc"]  # same seed, same model
    assert not again.promoted and "not better" in again.verdict.lower()
    model = registry.load("churn")
    frame = training_frame(wh, first.plan.test, Target("churn"))
    p = model.predict_proba(frame[first.version.features])[:, 1]
    assert np.isfinite(p).all() and model.threshold_ == first.version.params["threshold"]


def test_value_model_is_compared_with_its_baseline(shop, tmp_path):
    result = train(
        shop, ModelRegistry(tmp_path / "m"), Target("clv"), TrainOptions(windows=2, trials=0)
    )
    assert result.version.task == "regression" and result.metrics["rmse"] > 0
    assert "baseline_rmse" in result.metrics
    assert result.baseline["bgnbd_rmse"] > 0  # the probabilistic model, side by side
