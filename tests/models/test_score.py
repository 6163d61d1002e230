"""Batch scores: taken from the contributions when reasons are asked for, and equal to
the model's own prediction."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from nextbest.models.registry import ModelVersion
from nextbest.models.score import score_frame
from nextbest.models.tabular import PropensityModel, ValueModel


def _snapshot(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "recency_days": rng.exponential(40, n),
            "frequency": rng.poisson(3, n).astype(float),
            "tier": rng.choice(["gold", "silver", None], n),
        }
    )
    frame.loc[::9, "frequency"] = np.nan
    # Arrow-backed numbers, as the warehouse hands them over
    frame["recency_days"] = frame["recency_days"].astype("double[pyarrow]")
    y = (frame.recency_days.to_numpy(dtype=float) < 30) | (frame.tier == "gold").to_numpy()
    return frame, y.astype(int)


def _version(task: str, features: list[str]) -> ModelVersion:
    window = ("2025-01-01", "2025-02-01")
    return ModelVersion(
        "m", 1, "champion", dt.datetime(2025, 2, 1), task, window, window, features, {}, {},
        "roc_auc", True, "x",
    )  # fmt: skip


FEATURES = ["recency_days", "frequency", "tier"]


@pytest.mark.parametrize("algorithm", ["lightgbm", "logistic"])
def test_propensity_scores_with_reasons_equal_predict_proba(algorithm: str) -> None:
    frame, y = _snapshot()
    X = frame[FEATURES]
    model = PropensityModel(algorithm, calibration="sigmoid", seed=1).fit(X, y)  # type: ignore[arg-type]
    scored = score_frame(model, _version("binary", FEATURES), frame)
    expected = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(scored.score.to_numpy(), expected, rtol=0, atol=1e-12)
    assert scored.reason_1.str.len().gt(0).mean() > 0.5
    plain = score_frame(model, _version("binary", FEATURES), frame, reasons=False)
    np.testing.assert_allclose(plain.score.to_numpy(), expected, rtol=0, atol=1e-12)
    assert (plain.reason_1 == "").all()


def test_value_scores_with_reasons_equal_predict() -> None:
    frame, _ = _snapshot(seed=2)
    X = frame[FEATURES]
    spend = np.where(frame.tier == "gold", 120.0, 20.0) * np.exp(-X.recency_days.astype(float) / 90)
    model = ValueModel("lightgbm", params={"n_estimators": 40}, seed=1).fit(X, spend)
    scored = score_frame(model, _version("regression", FEATURES), frame)
    np.testing.assert_allclose(scored.score.to_numpy(), model.predict(X), rtol=1e-10, atol=1e-9)
    assert scored.reason_1.str.len().gt(0).any()
