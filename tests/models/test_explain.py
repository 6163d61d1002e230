"""Contributions add up to the raw score, fold back to features and name the right reasons."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline

from nextbest.errors import NextBestError
from nextbest.features import Feature
from nextbest.features.preprocess import build_preprocessor
from nextbest.models.explain import (
    BIAS,
    contributions,
    global_importance,
    raw_score,
    reason_codes,
)

FEATURES = [
    Feature("days_since_last_order", "days since the last order"),
    Feature("open_rate", "email open rate"),
    Feature("orders", "orders in the last year", dtype="int64"),
    Feature("loyalty_tier", "loyalty tier", dtype="string"),
]
LGBM = dict(n_estimators=30, num_leaves=7, min_child_samples=10, num_threads=1, verbose=-1)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven mostly by recency, a little by the gold tier; open rate is noise."""
    rng = np.random.default_rng(7)
    n = 600
    X = pd.DataFrame(
        {
            "days_since_last_order": rng.uniform(0, 120, n),
            "open_rate": rng.uniform(0, 0.6, n),
            "orders": rng.poisson(3, n),
            "loyalty_tier": rng.choice(["bronze", "silver", "gold"], n),
        }
    )
    X.loc[::17, "open_rate"] = np.nan
    X.loc[::23, "loyalty_tier"] = None
    logit = 0.06 * (X["days_since_last_order"] - 60) - 0.8 * (X["loyalty_tier"] == "gold")
    y = (logit + rng.logistic(size=n) > 0).astype(int).to_numpy()
    return X, y


def pipeline(model: object, scale: bool = True) -> Pipeline:
    return Pipeline([("pre", build_preprocessor(FEATURES, scale=scale)), ("model", model)])


@pytest.fixture(scope="module")
def lightgbm_model(data) -> Pipeline:
    X, y = data
    return pipeline(lgb.LGBMClassifier(**LGBM), scale=False).fit(X, y)


@pytest.fixture(scope="module")
def logistic_model(data) -> Pipeline:
    X, y = data
    return pipeline(LogisticRegression(max_iter=500)).fit(X, y)


def test_lightgbm_contributions_add_up_to_the_raw_score(lightgbm_model, data):
    X, _ = data
    contribs = contributions(lightgbm_model, X, FEATURES)
    assert list(contribs.columns) == [f.name for f in FEATURES] + [BIAS]
    assert contribs.index.equals(X.index)
    raw = lightgbm_model[-1].predict(lightgbm_model[:-1].transform(X), raw_score=True)
    np.testing.assert_allclose(contribs.sum(axis=1), raw, atol=1e-6)
    np.testing.assert_allclose(raw_score(lightgbm_model, X), raw, atol=1e-9)


def test_logistic_contributions_add_up_to_the_decision_function(logistic_model, data):
    X, _ = data
    contribs = contributions(logistic_model, X, background=X.iloc[:300])
    np.testing.assert_allclose(contribs.sum(axis=1), logistic_model.decision_function(X), atol=1e-6)
    # the bias is the score of the average training customer
    assert contribs[BIAS].nunique() == 1


def test_one_hot_columns_fold_into_their_feature(logistic_model, data):
    X, _ = data
    contribs = contributions(logistic_model, X, background=X)
    pre = logistic_model[:-1]
    transformed = pre.transform(X)
    tier_columns = [c for c in transformed.columns if c.startswith("loyalty_tier_")]
    assert len(tier_columns) == 4  # bronze, gold, silver, unknown
    coef = pd.Series(logistic_model[-1].coef_[0], index=transformed.columns)
    centred = transformed[tier_columns] - transformed[tier_columns].mean()
    expected = (centred * coef[tier_columns]).sum(axis=1)
    np.testing.assert_allclose(contribs["loyalty_tier"], expected, atol=1e-9)
    assert "loyalty_tier_gold" not in contribs.columns


def test_logistic_without_stored_means_asks_for_a_background(data):
    X, y = data[0].iloc[:200], data[1][:200]
    model = pipeline(LogisticRegression(max_iter=2000), scale=False).fit(X, y)
    with pytest.raises(NextBestError, match="background"):
        contributions(model, X)
    contribs = contributions(model, X, background=X)
    np.testing.assert_allclose(contribs.sum(axis=1), model.decision_function(X), atol=1e-6)


def test_linear_regressor_contributions_add_up(data):
    X, _ = data
    target = 2.0 * X["days_since_last_order"] + np.arange(len(X)) % 5
    model = pipeline(LinearRegression()).fit(X, target)
    contribs = contributions(model, X, background=X)
    np.testing.assert_allclose(contribs.sum(axis=1), model.predict(X), atol=1e-6)


def test_lightgbm_regressor_contributions_add_up(data):
    X, _ = data
    target = 2.0 * X["days_since_last_order"] + X["orders"]
    model = pipeline(lgb.LGBMRegressor(**LGBM), scale=False).fit(X, target)
    contribs = contributions(model, X)
    np.testing.assert_allclose(contribs.sum(axis=1), model.predict(X), atol=1e-6)


def test_calibrated_pipelines_average_their_bases(data):
    X, y = data
    model = CalibratedClassifierCV(pipeline(lgb.LGBMClassifier(**LGBM), scale=False), cv=3)
    model.fit(X, y)
    contribs = contributions(model, X)
    bases = [c.estimator for c in model.calibrated_classifiers_]
    expected = np.mean([b[-1].predict(b[:-1].transform(X), raw_score=True) for b in bases], 0)
    np.testing.assert_allclose(contribs.sum(axis=1), expected, atol=1e-6)
    np.testing.assert_allclose(raw_score(model, X), expected, atol=1e-9)


def test_the_feature_that_drives_the_label_is_most_important(lightgbm_model, logistic_model, data):
    X, _ = data
    imp = global_importance(lightgbm_model, X)
    assert imp.index[0] == "days_since_last_order"
    assert imp["gain_share"].idxmax() == "days_since_last_order"
    np.testing.assert_allclose(imp["gain_share"].sum(), 1.0)
    np.testing.assert_allclose(imp["share"].sum(), 1.0)
    assert imp["mean_abs_contribution"].is_monotonic_decreasing
    lin = global_importance(logistic_model, X, background=X)
    assert lin.index[0] == "days_since_last_order"
    assert "gain_share" not in lin.columns


def test_reason_texts_name_the_driver_with_its_direction(lightgbm_model, data):
    X, _ = data
    contribs = contributions(lightgbm_model, X)
    reasons = reason_codes(contribs, X, top=2, descriptions=FEATURES)
    late = X["days_since_last_order"].idxmax()
    assert reasons.loc[late, "reason_1_feature"] == "days_since_last_order"
    text = reasons.loc[late, "reason_1"]
    assert text.startswith("days since the last order is high (")
    assert text.endswith("↑")
    assert reasons.loc[late, "reason_1_value"] == pytest.approx(
        X.loc[late, "days_since_last_order"]
    )
    assert reasons.loc[late, "reason_1_effect"] > 0

    down = reason_codes(contribs, X, top=1, direction="down")
    recent = X["days_since_last_order"].idxmin()
    assert down.loc[recent, "reason_1"].startswith("days since last order is low (")
    assert down.loc[recent, "reason_1"].endswith("↓")


def test_reason_codes_up_only_keeps_positive_contributions():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "tier": ["gold", "basic", None]})
    contribs = pd.DataFrame(
        {"a": [0.5, -0.2, 0.1], "tier": [0.2, -0.1, 0.3], BIAS: [-1.0, -1.0, -1.0]}
    )
    up = reason_codes(contribs, X, top=3)
    assert list(up["reason_1_feature"].astype(object).fillna("-")) == ["a", "-", "tier"]
    assert up.loc[0, "reason_2"] == "tier is gold ↑"
    assert up.loc[2, "reason_1"] == "tier is missing ↑"
    assert up.loc[2, "reason_2"] == "a is high (3.0) ↑"
    assert pd.isna(up.loc[1, "reason_1"]) and np.isnan(up.loc[1, "reason_1_effect"])
    assert up["reason_3"].isna().all()  # only two features
    both = reason_codes(contribs, X, top=1, direction="both", medians={"a": 2.0})
    assert list(both["reason_1"]) == [
        "a is low (1.0) ↑",
        "a is typical (2.0) ↓",
        "tier is missing ↑",
    ]


def test_reason_codes_reject_mismatched_rows():
    X = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(NextBestError, match="same rows"):
        reason_codes(pd.DataFrame({"a": [0.1]}), X)
    with pytest.raises(NextBestError, match="direction"):
        reason_codes(pd.DataFrame({"a": [0.1, 0.2]}), X, direction="sideways")  # type: ignore[arg-type]


def test_random_forests_get_a_clear_error(data):
    X, y = data
    model = pipeline(RandomForestClassifier(n_estimators=5, random_state=0)).fit(X, y)
    with pytest.raises(NextBestError, match="LightGBM") as err:
        contributions(model, X)
    assert "RandomForestClassifier" in str(err.value)


def test_feature_list_must_cover_what_the_model_uses(lightgbm_model, data):
    X, _ = data
    with pytest.raises(NextBestError, match="loyalty_tier"):
        contributions(lightgbm_model, X, FEATURES[:3])
