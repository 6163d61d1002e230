"""Rolling-origin backtests and calibration out of time, on synthetic frames."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from nextbest.errors import ConfigError
from nextbest.evaluation.classification import brier_score
from nextbest.evaluation.curves import roc_auc
from nextbest.models.backtest import origin_metrics, rolling_origin
from nextbest.models.persist import load_model, save_model
from nextbest.models.tabular import PropensityModel, fit_calibrator
from nextbest.models.tuning import search

CUTOFFS = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01"])


def drifting(seed: int = 0, n: int = 1500) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Five cutoffs; the outcome's base rate climbs from about 6% to 20%, as a season
    builds: the ranking holds, the level moves (the same held on seeds 0-2)."""
    rng = np.random.default_rng(seed)
    frames, ys, times = [], [], []
    for i, cutoff in enumerate(CUTOFFS):
        x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
        logit = -3.5 + 0.4 * i + 1.2 * x.a - 0.6 * x.b
        ys.append((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
        frames.append(x)
        times.append(np.full(n, cutoff))
    return pd.concat(frames, ignore_index=True), np.concatenate(ys), np.concatenate(times)


def logistic(calibration=None) -> PropensityModel:
    return PropensityModel("logistic", calibration=calibration)


@pytest.fixture(scope="module")
def data():
    return drifting()


def test_origins_are_time_ordered_and_fitted_only_on_earlier_cutoffs(data):
    X, y, times = data
    order = np.random.default_rng(1).permutation(len(y))  # rows in no particular order
    X, y, times = X.iloc[order].reset_index(drop=True), y[order], times[order]
    fits = rolling_origin(logistic, X, y, times, calibration="sigmoid")
    assert [f.origin for f in fits] == [c.to_pydatetime() for c in CUTOFFS[1:]]
    for fit in fits:
        assert fit.trained_on and max(fit.trained_on) < fit.origin
        assert (times[fit.rows] == np.datetime64(fit.origin)).all()
        # the same predictions from a model fitted, by hand, on the earlier rows only
        before = times < np.datetime64(fit.origin)
        by_hand = logistic().fit(X[before], y[before]).predict_proba(X.iloc[fit.rows])[:, 1]
        assert np.allclose(fit.raw, by_hand)
    # had an origin seen its own rows, its predictions would differ
    leaky = logistic().fit(X, y).predict_proba(X.iloc[fits[0].rows])[:, 1]
    assert not np.allclose(fits[0].raw, leaky)


def test_each_origin_is_calibrated_by_the_previous_one(data):
    X, y, times = data
    fits = rolling_origin(logistic, X, y, times, calibration="isotonic")
    assert fits[0].calibrated is None  # nothing earlier to calibrate it with
    for previous, fit in itertools.pairwise(fits):
        assert np.allclose(fit.calibrated, previous.calibrator.predict(fit.raw))
    assert all(f.calibrator is not None for f in fits)


def test_out_of_time_calibration_beats_raw_and_in_time_calibration_under_drift(data):
    X, y, times = data
    last = times == np.datetime64(CUTOFFS[-1])
    X_train, y_train, t_train = X[~last], y[~last], times[~last]
    X_test, y_test = X[last], y[last]
    fits = rolling_origin(logistic, X_train, y_train, t_train, calibration="sigmoid")
    out_of_time = logistic("sigmoid").fit(X_train, y_train, calibrator=fits[-1].calibrator)
    raw = logistic().fit(X_train, y_train)
    in_time = logistic("sigmoid").fit(X_train, y_train)  # 3-fold, every period mixed
    brier = {
        name: brier_score(y_test, m.predict_proba(X_test)[:, 1])
        for name, m in (("out_of_time", out_of_time), ("raw", raw), ("in_time", in_time))
    }
    assert out_of_time.calibrated_on_ == "given" and in_time.calibrated_on_ == "out-of-fold"
    assert brier["out_of_time"] < brier["raw"]
    assert brier["out_of_time"] < brier["in_time"]
    # calibration is monotone: the ranking is the raw model's
    p, q = out_of_time.predict_proba(X_test)[:, 1], raw.predict_proba(X_test)[:, 1]
    assert roc_auc(y_test, p) == pytest.approx(roc_auc(y_test, q))


def test_an_origin_with_one_outcome_before_it_is_left_out(data):
    X, y, times = data
    y = y.copy()
    y[times == np.datetime64(CUTOFFS[0])] = 0  # nobody did it at the first cutoff
    fits = rolling_origin(logistic, X, y, times, calibration="sigmoid")
    assert [f.origin for f in fits] == [c.to_pydatetime() for c in CUTOFFS[2:]]
    assert fits[0].calibrated is None and fits[1].calibrated is not None


def test_given_predictions_are_reused_instead_of_fitted(data):
    X, y, times = data
    made = []

    def make() -> PropensityModel:
        made.append(1)
        return logistic()

    first = rolling_origin(make, X, y, times)
    assert len(made) == len(CUTOFFS) - 1 and not any(f.reused for f in first)
    made.clear()
    again = rolling_origin(make, X, y, times, reuse={f.origin: f.raw for f in first[:2]})
    assert len(made) == len(CUTOFFS) - 3 and [f.reused for f in again] == [1, 1, 0, 0]
    assert all(np.array_equal(a.raw, b.raw) for a, b in zip(first, again, strict=True))


def test_search_keeps_the_best_trials_fold_predictions(data):
    X, y, times = data
    order = np.unique(times)
    folds = [(np.flatnonzero(times < c), np.flatnonzero(times == c)) for c in order[1:]]
    found = search(
        lambda params: PropensityModel("logistic", params, calibration=None),
        {"C": (0.01, 10.0, "log")},
        X,
        y,
        folds,
        n_trials=3,
        keep_predictions=True,
    )
    assert found.predictions is not None and len(found.predictions) == len(folds)
    assert found.fits == 3 * len(folds)
    best = PropensityModel("logistic", found.best_params, calibration=None)
    fits = rolling_origin(lambda: best, X, y, times)
    for kept, fit in zip(found.predictions, fits, strict=True):
        assert np.allclose(kept, fit.raw)
    assert (
        search(  # without the flag nothing is kept
            lambda params: PropensityModel("logistic", params, calibration=None),
            {"C": (0.01, 10.0, "log")},
            X,
            y,
            folds[:1],
            n_trials=1,
        ).predictions
        is None
    )


def test_a_given_calibrator_is_saved_and_loaded_without_pickle(data, tmp_path):
    X, y, times = data
    fits = rolling_origin(logistic, X, y, times, calibration="isotonic")
    model = PropensityModel("lightgbm", {"n_estimators": 30}, calibration="isotonic")
    model.fit(X, y, calibrator=fits[-1].calibrator)
    files = save_model(model, tmp_path / "m")
    assert not [f for f in files if f.suffix in (".pkl", ".pickle", ".joblib")]
    back = load_model(tmp_path / "m")
    assert back.calibrated_on_ == "given"
    assert np.array_equal(back.predict_proba(X), model.predict_proba(X))
    raw = model.uncalibrated_proba(X)
    assert np.allclose(model.predict_proba(X)[:, 1], fits[-1].calibrator.predict(raw))


def test_origin_metrics(data):
    X, y, times = data
    fit = rolling_origin(logistic, X, y, times, calibration="sigmoid")[-1]
    m = origin_metrics("binary", fit.y, fit.prediction)
    assert m["n"] == len(fit.y) and m["base_rate"] == pytest.approx(fit.y.mean())
    assert m["roc_auc"] == pytest.approx(roc_auc(fit.y, fit.prediction))
    one_class = origin_metrics("binary", np.zeros(4), np.full(4, 0.2))
    assert one_class["roc_auc"] is None and one_class["brier"] == pytest.approx(0.04)
    r = origin_metrics("regression", [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 2.0, 5.0])
    assert (r["rmse"], r["mae"], r["r2"]) == pytest.approx((0.7071068, 0.5, 0.6))


def test_bad_inputs_are_clear_errors(data):
    X, y, times = data
    with pytest.raises(ConfigError, match="only probabilities"):
        rolling_origin(logistic, X, y, times, task="regression", calibration="isotonic")
    with pytest.raises(ConfigError, match="times has"):
        rolling_origin(logistic, X, y, times[:-1])
    with pytest.raises(ConfigError, match="unknown calibration"):
        fit_calibrator([0.2, 0.8], [0, 1], "beta")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="both outcomes"):
        fit_calibrator([0.2, 0.8], [1, 1])
    with pytest.raises(ConfigError, match="probabilities in"):
        fit_calibrator([-2.0, 3.0], [0, 1])
    with pytest.raises(ConfigError, match="no predict"):
        logistic().fit(X, y, calibrator="isotonic")
    calibrator = fit_calibrator(np.linspace(0, 1, 50), np.r_[np.zeros(25), np.ones(25)])
    assert 0 < calibrator.predict(np.array([0.0]))[0] < 0.05  # never claims certainty
