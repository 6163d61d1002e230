"""Regression metrics and decile calibration: hand-computed cases and scikit-learn/scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn import metrics

from nextbest.evaluation import EvaluationInputError, decile_calibration, regression_metrics


def test_hand_computed() -> None:
    m = regression_metrics([1, 2, 3, 4], [1, 2, 2, 5])
    assert m["rmse"] == pytest.approx(math.sqrt(0.5))
    assert m["mae"] == 0.5
    # SS_res = 2, SS_tot = 5
    assert m["r2"] == pytest.approx(0.6)
    # ranks 1..4 against 1, 2.5, 2.5, 4: covariance 4.5 over sqrt(5 * 4.5)
    assert m["spearman"] == pytest.approx(4.5 / math.sqrt(22.5))
    assert m["bias"] == 0.0 and m["mean_actual"] == 2.5 and m["mean_predicted"] == 2.5


def test_constant_sides_are_undefined_not_errors() -> None:
    m = regression_metrics([3, 3, 3], [1, 2, 3])
    assert m["r2"] is None and m["spearman"] is None and m["bias"] == -1.0


@pytest.mark.parametrize("seed", range(3))
def test_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 50.0, 500)
    p = np.round(y * rng.lognormal(0, 0.5, 500), -1)
    m = regression_metrics(y, p)
    assert m["rmse"] == pytest.approx(math.sqrt(metrics.mean_squared_error(y, p)))
    assert m["mae"] == pytest.approx(metrics.mean_absolute_error(y, p))
    assert m["r2"] == pytest.approx(metrics.r2_score(y, p))
    assert m["spearman"] == pytest.approx(spearmanr(y, p).statistic)


def test_decile_calibration_by_hand() -> None:
    y = [10, 0, 4, 2, 6, 0, 1, 0, 3, 4]
    p = [9, 8, 7, 7, 7, 5, 4, 3, 2, 1]
    t = decile_calibration(y, p, bins=5)
    # rows at 7 (actuals 4, 2, 6: mean 4) straddle deciles 2 and 3
    assert t["count"].tolist() == [2, 2, 2, 2, 2]
    np.testing.assert_allclose(t["mean_predicted"], [8.5, 7, 6, 3.5, 1.5])
    np.testing.assert_allclose(t["mean_actual"], [5, 4, 2, 0.5, 3.5])
    np.testing.assert_allclose(t["actual_share"], [10 / 30, 8 / 30, 4 / 30, 1 / 30, 7 / 30])
    order = np.random.default_rng(1).permutation(10)
    pd.testing.assert_frame_equal(t, decile_calibration(np.array(y)[order], np.array(p)[order], 5))


def test_errors() -> None:
    with pytest.raises(EvaluationInputError) as info:
        regression_metrics([1, 2], [1])
    assert info.value.field == "y_pred"
    with pytest.raises(EvaluationInputError, match="bins"):
        decile_calibration([1, 2], [1, 2], bins=3)
