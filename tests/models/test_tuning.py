"""Hyper-parameter search: reproducible, bounded, pruning, better than a bad guess, no leaks."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification, make_regression

from nextbest.errors import NextBestError
from nextbest.features import Feature
from nextbest.models.tuning import (
    default_space,
    evaluate,
    make_folds,
    model_factory,
    search,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=600, n_features=8, n_informative=4, flip_y=0.05, random_state=3
    )
    return X, y


def small_lightgbm_space() -> dict:
    return {**default_space("lightgbm"), "n_estimators": (10, 40), "num_leaves": (3, 15)}


class Noisy(ClassifierMixin, BaseEstimator):
    """Scores that are the label plus noise of size ``noise``: noise 0 is perfect."""

    def __init__(self, noise: float = 0.0, delay: float = 0.0) -> None:
        self.noise = noise
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        rng = np.random.default_rng(len(X))
        p = np.clip(X[:, 0] + self.noise * rng.normal(size=len(X)), -50, 50)
        p = 1 / (1 + np.exp(-p))
        return np.column_stack([1 - p, p])


def test_same_seed_gives_the_same_search(data):
    X, y = data
    runs = [
        search(model_factory("lightgbm"), small_lightgbm_space(), X, y, folds=2, n_trials=5, seed=5)
        for _ in range(2)
    ]
    assert runs[0].best_params == runs[1].best_params
    assert runs[0].trials["score"].tolist() == runs[1].trials["score"].tolist()
    assert runs[0].best_params["subsample_freq"] == 1  # fixed values pass through
    other = search(
        model_factory("lightgbm"), small_lightgbm_space(), X, y, folds=2, n_trials=3, seed=6
    )
    assert (
        other.trials["param_learning_rate"].tolist()
        != runs[0].trials["param_learning_rate"].tolist()[:3]
    )


def test_lightgbm_models_are_single_threaded_and_deterministic():
    params = model_factory("lightgbm", num_threads=1, seed=4)({"num_leaves": 7}).get_params()
    assert params["num_threads"] == 1
    assert params["deterministic"] is True
    assert params["random_state"] == 4
    assert model_factory("lightgbm", num_threads=2)({})._other_params["num_threads"] == 2


def test_respects_n_trials_and_reports_the_trials(data):
    X, y = data
    result = search(model_factory("logistic"), default_space("logistic"), X, y, folds=2, n_trials=6)
    assert len(result.trials) == 6
    assert list(result.trials.columns[:5]) == ["number", "state", "score", "folds", "seconds"]
    assert "param_C" in result.trials
    assert result.metric == "roc_auc" and result.direction == "maximize"
    assert result.best_score == result.trials.loc[result.trials.state == "COMPLETE", "score"].max()
    assert result.seconds > 0


def test_respects_the_timeout():
    X = np.random.default_rng(0).uniform(-1, 1, (80, 1))
    y = (X[:, 0] > 0).astype(int)
    make = lambda params: Noisy(**params, delay=0.1)  # noqa: E731
    t0 = time.perf_counter()
    result = search(make, {"noise": (0.0, 2.0)}, X, y, folds=2, n_trials=None, timeout=0.5)
    assert time.perf_counter() - t0 < 2.0
    assert 1 <= len(result.trials) <= 4  # each trial fits twice at 0.1 s


def test_prunes_trials_that_are_clearly_worse():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (400, 1))
    y = (X[:, 0] + rng.normal(0, 0.3, 400) > 0).astype(int)

    def space(trial):
        # even trials are near perfect, odd ones almost pure noise: after 5 complete
        # trials the median is a good one, so every later odd trial stops after one fold
        return {"noise": 0.0 if trial.number % 2 == 0 else 100.0}

    result = search(lambda p: Noisy(**p), space, X, y, folds=4, n_trials=12)
    assert result.n_pruned >= 3
    pruned = result.trials[result.trials.state == "PRUNED"]
    assert (pruned.number % 2 == 1).all() and (pruned.folds == 1).all()
    assert result.best_params == {"noise": 0.0}
    unpruned = search(lambda p: Noisy(**p), space, X, y, folds=4, n_trials=12, pruner="none")
    assert unpruned.n_pruned == 0


def test_best_score_beats_a_bad_fixed_configuration(data):
    X, y = data
    make = model_factory("lightgbm")
    bad = {"n_estimators": 2, "num_leaves": 2, "learning_rate": 0.001, "min_child_samples": 150}
    bad_score = evaluate(make, bad, X, y, folds=3)
    result = search(make, small_lightgbm_space(), X, y, folds=3, n_trials=8)
    assert result.best_score > bad_score + 0.05


def test_minimised_metric_and_pipelines_with_features():
    X, target = make_regression(n_samples=300, n_features=3, noise=5.0, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(tier=np.where(X[:, 0] > 0, "x", "y"))
    feats = [Feature(c, c) for c in "abc"] + [Feature("tier", "tier", dtype="string")]
    make = model_factory("lightgbm", task="regression", features=feats)
    space = {"n_estimators": (10, 30), "num_leaves": (3, 7), "learning_rate": 0.2}
    result = search(make, space, frame, target, folds=2, metric="rmse", n_trials=3)
    assert result.direction == "minimize"
    assert result.best_score == result.trials["score"].min()
    weighted = search(
        make, space, frame, target, folds=2, metric="rmse", n_trials=2,
        sample_weight=np.ones(len(target)),
    )  # fmt: skip
    assert len(weighted.trials) == 2


def test_validation_rows_must_come_after_training_rows(data):
    X, y = data
    times = np.repeat(pd.date_range("2024-01-01", periods=6, freq="MS").to_numpy(), 100)
    good = [(np.arange(0, 300), np.arange(300, 400)), (np.arange(0, 400), np.arange(400, 500))]
    result = search(model_factory("logistic"), {"C": 1.0}, X, y, good, n_trials=1, times=times)
    assert len(result.trials) == 1
    leaky = [(np.arange(100, 400), np.arange(0, 100))]
    with pytest.raises(NextBestError, match="fold 1: validation rows start at"):
        search(model_factory("logistic"), {"C": 1.0}, X, y, leaky, n_trials=1, times=times)
    straddle = [(np.arange(0, 350), np.arange(350, 450))]  # one snapshot on both sides
    with pytest.raises(NextBestError, match="after its training rows"):
        evaluate(model_factory("logistic"), {"C": 1.0}, X, y, straddle, times=times)
    overlap = [(np.arange(0, 300), np.arange(250, 400))]
    with pytest.raises(NextBestError, match="both in training and validation"):
        evaluate(model_factory("logistic"), {"C": 1.0}, X, y, overlap)
    with pytest.raises(NextBestError, match="outside"):
        evaluate(model_factory("logistic"), {"C": 1.0}, X, y, [(np.arange(10), np.array([900]))])


@pytest.mark.parametrize("n", [2, 4])
def test_generated_folds_never_validate_on_the_past(n):
    rng = np.random.default_rng(1)
    times = rng.choice(pd.date_range("2024-01-01", periods=8, freq="W").to_numpy(), 200)
    folds = make_folds(n, 200, times)
    assert len(folds) == n
    for train, valid in folds:
        assert times[valid].min() > times[train].max()
    for train, valid in make_folds(n, 50):
        assert valid.min() > train.max()


def test_clear_errors_for_bad_arguments(data):
    X, y = data
    make = model_factory("logistic")
    with pytest.raises(NextBestError, match="unknown metric"):
        search(make, {"C": 1.0}, X, y, folds=2, metric="accuracy_ish")
    with pytest.raises(NextBestError, match="n_trials or timeout"):
        search(make, {"C": 1.0}, X, y, folds=2, n_trials=None)
    with pytest.raises(NextBestError, match="no default space"):
        default_space("svm")  # type: ignore[arg-type]
    with pytest.raises(NextBestError, match="only one class"):
        evaluate(make, {"C": 1.0}, X, np.r_[y[:300], np.zeros(300, int)], folds=2)
