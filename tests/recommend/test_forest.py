"""The compiled tree walk gives LightGBM's own predictions, bit for bit."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from nextbest.models.recommend import RecommendInputError
from nextbest.models.recommend.forest import Forest


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random(n) < 0.2, 1] = np.nan
    X[rng.random(n) < 0.3, 2] = 0.0
    X[rng.random(n) < 0.05, 3] = 1e-40  # read as 0 by LightGBM
    y = X[:, 0] + np.nan_to_num(X[:, 1], nan=2.0) - (X[:, 2] == 0) + rng.normal(size=n)
    return X, y


@pytest.mark.parametrize(
    "params",
    [
        {"objective": "regression"},
        {"objective": "regression", "zero_as_missing": True},
        {"objective": "regression", "use_missing": False},
    ],
)
def test_the_walk_gives_lightgbms_predictions(params) -> None:
    X, y = _data()
    booster = lgb.train(
        {**params, "verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5},
        lgb.Dataset(X, y),
        num_boost_round=40,
    )
    forest = Forest.from_model(booster.model_to_string())
    test, _ = _data(seed=1)
    want = booster.predict(test)
    assert np.array_equal(forest.predict(test), want)
    assert np.array_equal(forest.predict(test, threads=2), want)  # rows over two threads
    assert np.array_equal(forest.predict(test[:1]), want[:1])


def test_a_lambdarank_model_is_walked_and_others_are_refused() -> None:
    X, y = _data(600)
    labels = (y > 1).astype(int)
    ranker = lgb.train(
        {"objective": "lambdarank", "verbose": -1, "min_data_in_leaf": 5},
        lgb.Dataset(X, labels, group=[60] * 10),
        num_boost_round=10,
    )
    assert np.array_equal(Forest.from_model(ranker.model_to_string()).predict(X), ranker.predict(X))
    binary = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(X, labels), num_boost_round=3
    )
    with pytest.raises(RecommendInputError, match="raw score"):
        Forest.from_model(binary.model_to_string())
    cats = np.c_[np.random.default_rng(0).integers(0, 6, len(X)), X]
    categorical = lgb.train(
        {"objective": "regression", "verbose": -1, "min_data_in_leaf": 5},
        lgb.Dataset(cats, y * (cats[:, 0] % 2), categorical_feature=[0]),
        num_boost_round=5,
    )
    with pytest.raises(RecommendInputError, match="numerical splits"):
        Forest.from_model(categorical.model_to_string())
