"""The propensity and value estimators: contract, imbalance, calibration, saving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from nextbest.errors import ConfigError
from nextbest.evaluation.curves import roc_auc
from nextbest.models.persist import load_model, save_model
from nextbest.models.tabular import PropensityModel, ValueModel


@pytest.fixture(scope="module")
def rare():
    rng = np.random.default_rng(3)
    n = 1600
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    X["tier"] = rng.choice(["gold", "silver", None], n)
    logit = -3.5 + 1.5 * X.a - 0.8 * X.b + np.where(X.tier == "gold", 0.7, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.mark.parametrize("algorithm", ["lightgbm", "logistic", "random_forest"])
def test_each_learner_ranks_the_rare_outcome(rare, algorithm):
    X, y = rare
    train, test = slice(0, 1000), slice(1000, None)
    small = {"n_estimators": 60} if algorithm != "logistic" else None
    model = PropensityModel(algorithm, small, calibration="isotonic").fit(X[train], y[train])
    p = model.predict_proba(X[test])[:, 1]
    assert ((p >= 0) & (p <= 1)).all() and roc_auc(y[test], p) > 0.75
    assert clone(model).get_params() == model.get_params()


def test_calibration_brings_weighted_probabilities_back_to_the_base_rate(rare):
    X, y = rare
    raw = PropensityModel("logistic", calibration=None).fit(X, y)  # class weights inflate
    calibrated = PropensityModel("logistic", calibration="sigmoid").fit(X, y)
    base = y.mean()
    assert raw.predict_proba(X)[:, 1].mean() > 2 * base
    assert abs(calibrated.predict_proba(X)[:, 1].mean() - base) < 0.3 * base


def test_smote_oversamples_instead_of_weighting(rare):
    X, y = rare
    model = PropensityModel("logistic", smote=True, calibration=None).fit(X, y)
    assert model.pipeline_.named_steps["model"].class_weight is None
    assert roc_auc(y, model.predict_proba(X)[:, 1]) > 0.75


def test_saved_models_predict_the_same(rare, tmp_path):
    X, y = rare
    for i, model in enumerate(
        [
            PropensityModel("lightgbm", {"n_estimators": 40}, threshold=0.3).fit(X, y),
            ValueModel("lightgbm", {"n_estimators": 40}).fit(X, y * 10.0),
        ]
    ):
        save_model(model, tmp_path / str(i))
        back = load_model(tmp_path / str(i))
        if isinstance(model, PropensityModel):
            assert np.array_equal(back.predict_proba(X), model.predict_proba(X))
            assert back.threshold_ == 0.3
        else:
            assert np.array_equal(back.predict(X), model.predict(X))


def test_bad_inputs_are_clear_errors(rare):
    X, y = rare
    with pytest.raises(ConfigError, match="both outcomes"):
        PropensityModel().fit(X, np.zeros(len(X)))
    with pytest.raises(ConfigError, match="unknown algorithm"):
        PropensityModel("xgboost").fit(X, y)
    fitted = PropensityModel("logistic", calibration=None).fit(X, y)
    with pytest.raises(ConfigError, match="lacks features"):
        PropensityModel("logistic", features=fitted.features_).fit(X.drop(columns="b"), y)
