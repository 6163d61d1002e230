"""BG/NBD x Gamma-Gamma as one lifetime-value model: forecasts, saving, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nextbest.models.clv import (
    BGNBD,
    BGNBDGammaGamma,
    GammaGamma,
    ModelInputError,
    NotFittedError,
    simulate_bgnbd,
    simulate_gamma_gamma,
)
from nextbest.models.persist import load_model, model_kind, save_model


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    """3,000 customers simulated in days over up to 300 days, with repeat spend."""
    rng = np.random.default_rng(4)
    counts = simulate_bgnbd(
        dict(r=0.6, alpha=40.0, a=0.7, b=3.0), T=rng.uniform(30, 300, 3000), seed=4
    )
    spend = simulate_gamma_gamma(
        dict(p=5.0, q=3.0, v=40.0), np.maximum(counts["frequency"].to_numpy(), 1), seed=5
    )
    frame = counts.copy()
    frame["monetary_value"] = np.where(frame.frequency > 0, spend["monetary_value"], 0.0)
    return frame


def test_forecast_is_the_two_models_combined(summary):
    model = BGNBDGammaGamma(horizon_days=60, discount_rate=0.0).fit(summary)
    x, t_x, T, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))
    bg = BGNBD().fit(x, t_x, T)
    repeat = (x > 0) & (m > 0)
    gg = GammaGamma().fit(x[repeat], m[repeat])
    got = model.predict_frame(summary)
    assert np.allclose(got.p_alive, bg.conditional_probability_alive(x, t_x, T))
    purchases = bg.conditional_expected_number_of_purchases_up_to_time(60, x, t_x, T)
    spend = gg.conditional_expected_average_profit(x, m)
    assert np.allclose(got.expected_purchases, purchases)
    assert np.allclose(got.spend_per_purchase, spend)
    assert np.allclose(model.predict(summary), purchases * spend)
    assert np.allclose(got.clv, got.expected_value)  # no discounting at a zero rate


def test_discounting_lowers_value_by_the_annual_rate(summary):
    model = BGNBDGammaGamma(horizon_days=365, discount_rate=0.1).fit(summary)
    flat = model.predict_frame(summary, discount_rate=0.0)
    discounted = model.predict_frame(summary)
    ratio = (discounted.clv / flat.clv)[flat.clv > 0]
    # twelve monthly periods discounted from their ends: between 1/1.1 and 1
    assert ((ratio > 1 / 1.1) & (ratio < 1)).all()
    short = model.predict_frame(summary, horizon_days=30)
    assert (short.expected_purchases < discounted.expected_purchases).all()


def test_saved_as_json_parameters_and_reloaded(summary, tmp_path):
    model = BGNBDGammaGamma(horizon_days=45, discount_rate=0.07).fit(summary)
    files = save_model(model, tmp_path / "clv")
    assert model_kind(tmp_path / "clv") == "params"
    assert sorted(p.name for p in files) == ["model.json", "params.json"]
    back = load_model(tmp_path / "clv")
    assert back.get_params() == model.get_params() and back.params_ == model.params_
    pd.testing.assert_frame_equal(back.predict_frame(summary), model.predict_frame(summary))


def test_bad_inputs_are_clear_errors(summary):
    with pytest.raises(ModelInputError, match="RFM summary frame"):
        BGNBDGammaGamma().fit(summary.to_numpy())
    with pytest.raises(ModelInputError, match="monetary_value"):
        BGNBDGammaGamma().fit(summary.drop(columns="monetary_value"))
    few = summary.assign(monetary_value=0.0)
    with pytest.raises(ModelInputError, match="at least two"):
        BGNBDGammaGamma().fit(few)
    with pytest.raises(ModelInputError, match="discount_rate"):
        BGNBDGammaGamma(discount_rate=-0.1).fit(summary)
    with pytest.raises(ModelInputError, match="horizon_days"):
        BGNBDGammaGamma(horizon_days=0).fit(summary)
    with pytest.raises(NotFittedError):
        BGNBDGammaGamma().predict(summary)
    with pytest.raises(ModelInputError, match="'bgnbd' and 'gamma_gamma'"):
        BGNBDGammaGamma.from_params({"bgnbd": {}})
