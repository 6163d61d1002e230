"""Training on a small store: backtest, out-of-time calibration, importance, fit counts,
and the BG/NBD x Gamma-Gamma model registered, scored and reloaded."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from nextbest.evaluation.curves import roc_auc
from nextbest.evaluation.regression import regression_metrics
from nextbest.features.labels import Target, training_frame
from nextbest.ingest import ingest
from nextbest.models.clv import BGNBDGammaGamma
from nextbest.models.persist import model_kind
from nextbest.models.registry import ModelRegistry
from nextbest.models.score import CLV_COLUMNS, SCORES_TABLE, score_warehouse
from nextbest.models.tabular import PropensityModel
from nextbest.models.train import TrainOptions, order_summary, train
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("backtest")
    write_store(generate(customers=600, days=240, seed=21), root / "store")
    wh = Warehouse(root / "w.duckdb", threads=1)
    ingest(wh, root / "store")
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def snapshots() -> dict:
    return {}


@pytest.fixture(scope="module")
def churn(shop, snapshots, tmp_path_factory):
    root = tmp_path_factory.mktemp("churn")
    registry = ModelRegistry(root / "models")
    options = TrainOptions(windows=3, trials=0, importance_rows=150)
    result = train(
        shop, registry, Target("churn"), options, report_dir=root / "r", snapshots=snapshots
    )
    return result, registry, root


def test_backtest_origins_are_time_ordered_and_never_see_their_own_window(churn, shop):
    result, _, _ = churn
    plan = result.plan
    origins = [dt.datetime.fromisoformat(r["origin"]) for r in result.backtest]
    assert origins == [*plan.train[1:], plan.test]
    for record, origin in zip(result.backtest, origins, strict=True):
        trained = [dt.datetime.fromisoformat(c) for c in record["trained_on"]]
        assert trained and all(c + dt.timedelta(days=30) <= origin for c in trained)
    first = result.backtest[0]  # no earlier origin to calibrate it: raw probabilities
    assert first["calibrated"] is False and result.backtest[1]["calibrated"] is True
    # the first origin's model, rebuilt by hand from the first cutoff only
    target = Target("churn")
    early = training_frame(shop, plan.train[0], target)
    later = training_frame(shop, plan.train[1], target)
    names = result.version.features
    model = PropensityModel(calibration=None, seed=0).fit(early[names], early["y"])
    auc = roc_auc(later["y"], model.predict_proba(later[names])[:, 1])
    assert first["rows"] == len(later) and first["model"]["roc_auc"] == pytest.approx(auc)
    last = result.backtest[-1]  # the evaluation window, scored by the registered model
    assert last["model"]["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    assert last["model"]["brier"] == pytest.approx(result.metrics["brier"])
    assert last["baseline"]["roc_auc"] == pytest.approx(result.baseline["roc_auc"])


def test_calibration_comes_from_the_last_training_cutoff_without_extra_fits(churn):
    result, registry, _ = churn
    assert result.fits == {"search": 0, "backtest": 2, "final": 1, "total": 3, "baseline": 3}
    model = registry.load("churn")
    assert model.calibrated_on_ == "given" and model.calibrator_ is not None
    assert result.version.params["calibrated_on"] == "given"
    # the threshold was chosen on out-of-time probabilities, and is a probability
    assert 0 < model.threshold_ < 1 and model.threshold_ == result.version.params["threshold"]


def test_report_json_html_and_card_show_backtest_and_importance(churn):
    result, registry, root = churn
    report = json.loads((root / "r" / "model-churn.json").read_text())
    assert report["backtest"]["metric"] == "roc_auc"
    assert report["backtest"]["origins"] == result.backtest
    top = report["importance"]
    assert top == result.importance and 0 < len(top) <= 15
    assert {t["feature"] for t in top} <= set(result.version.features)
    shares = [t["share"] for t in top]
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 1 + 1e-9
    assert all(0 <= t["gain_share"] <= 1 for t in top)
    assert report["extra"]["importance_rows"] == 150  # the bounded sample
    html = (root / "r" / "model-churn.html").read_text()
    assert "Backtest by origin" in html and "Global importance" in html
    assert html.count("data:image/png;base64,") >= 7
    card = (result.version.path / "card.md").read_text()
    assert "## Backtest" in card and f"`{top[0]['feature']}`" in card
    assert registry.get("churn").importance == top


def test_a_search_lends_its_fold_models_to_the_backtest(shop, snapshots, tmp_path):
    options = TrainOptions(windows=3, trials=2, importance_rows=150)
    result = train(
        shop, ModelRegistry(tmp_path / "m"), Target("churn"), options, snapshots=snapshots
    )
    assert result.fits["search"] == 2 * 2 and result.fits["backtest"] == 0
    assert result.fits["total"] == result.fits["search"] + 1
    assert len(result.backtest) == 3


@pytest.fixture(scope="module")
def clv(shop, snapshots, tmp_path_factory):
    root = tmp_path_factory.mktemp("clv")
    registry = ModelRegistry(root / "models")
    options = TrainOptions(windows=2, trials=0, importance_rows=150, discount_rate=0.12)
    result = train(shop, registry, Target("clv"), options, snapshots=snapshots)
    return result, registry


def test_bgnbd_is_registered_on_the_same_evaluation_window(clv, shop):
    result, registry = clv
    (companion,) = result.companions
    assert companion["model"] == "clv_bgnbd" and companion["registered"]
    assert companion["stage"] == "champion"
    version = registry.get("clv_bgnbd")
    assert version.task == "clv" and version.evaluation_window == result.version.evaluation_window
    assert model_kind(version.path) == "params"  # JSON parameters, no pickle
    assert set(version.files) == {"params.json", "model.json"}
    model = registry.load("clv_bgnbd")
    assert isinstance(model, BGNBDGammaGamma) and model.discount_rate == 0.12
    # its metrics are the library's forecast against the actual spend in the window
    summary = order_summary(shop, result.plan.test)
    fitted = BGNBDGammaGamma(horizon_days=30).fit(summary)
    for part in ("bgnbd", "gamma_gamma"):
        assert fitted.params_[part] == pytest.approx(model.params_[part])
    actual = training_frame(shop, result.plan.test, Target("clv"))
    forecast = fitted.predict_frame(summary)["expected_value"]
    expected = regression_metrics(actual["y"], forecast.reindex(actual["customer_id"]).fillna(0))
    assert version.metrics["rmse"] == pytest.approx(expected["rmse"])
    assert result.baseline["bgnbd_rmse"] == pytest.approx(expected["rmse"])


def test_scores_hold_the_lifetime_value_the_library_computes(clv, shop):
    result, registry = clv
    as_of = result.plan.end
    score_warehouse(shop, registry, as_of, models=["clv_bgnbd"], discount_rate=0.2)
    table = shop.to_pandas(shop.table(SCORES_TABLE))
    rows = table[table.model == "clv_bgnbd"].set_index("customer_id").sort_index()
    summary = order_summary(shop, as_of)
    summary = summary[summary.index.isin(rows.index)]
    expected = registry.load("clv_bgnbd").predict_frame(summary, discount_rate=0.2)
    assert len(rows) == len(expected) > 0
    for column in CLV_COLUMNS:
        assert np.allclose(rows[column].to_numpy(), expected[column].to_numpy())
    assert np.allclose(rows["score"], rows["clv"]) and rows["reason_1"].str.len().gt(0).all()
    assert (rows["clv"] < rows["expected_purchases"] * rows["spend_per_purchase"]).all()
    # a different annual rate discounts more, and changes nothing else
    score_warehouse(shop, registry, as_of, models=["clv_bgnbd"], discount_rate=0.5)
    table = shop.to_pandas(shop.table(SCORES_TABLE))
    more = table[table.model == "clv_bgnbd"].set_index("customer_id").sort_index()
    assert (more["clv"] < rows["clv"]).all()
    assert np.allclose(more["expected_purchases"], rows["expected_purchases"])


def test_tabular_rows_leave_the_lifetime_value_columns_empty(clv, shop):
    result, registry = clv
    score_warehouse(shop, registry, result.plan.end, reasons=False)
    table = shop.to_pandas(shop.table(SCORES_TABLE))
    assert set(table.model) == {"clv", "clv_bgnbd"}
    assert table.loc[table.model == "clv", list(CLV_COLUMNS)].isna().all().all()
    assert pd.notna(table.loc[table.model == "clv_bgnbd", "p_alive"]).all()


def test_a_logistic_model_beside_its_logistic_baseline(shop, snapshots, tmp_path):
    options = TrainOptions(algorithm="logistic", windows=2, trials=0, importance_rows=150)
    result = train(
        shop,
        ModelRegistry(tmp_path / "m"),
        Target("purchase"),
        options,
        report_dir=tmp_path / "r",
        snapshots=snapshots,
    )
    report = json.loads((tmp_path / "r" / "model-purchase.json").read_text())
    assert list(report["models"]) == ["logistic", "baseline"]
    assert result.importance and "gain_share" not in result.importance[0]  # linear: no gain
    assert result.fits == {"search": 0, "backtest": 1, "final": 1, "total": 2, "baseline": 2}
