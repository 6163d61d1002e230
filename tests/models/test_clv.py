"""Lifetime-value models: likelihood gradients, recovery, predictions, inputs, CDNOW."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA
from scipy.integrate import quad
from scipy.optimize import check_grad
from scipy.special import gammaln, hyp2f1
from sklearn.base import clone

from nextbest.errors import NextBestError
from nextbest.models.clv import (
    BGNBD,
    GammaGamma,
    ModelInputError,
    NotFittedError,
    ParetoNBD,
    bgnbd_log_likelihood,
    bgnbd_log_likelihood_grad,
    calibration_holdout_summary,
    gamma_gamma_log_likelihood,
    gamma_gamma_log_likelihood_grad,
    pareto_nbd_log_likelihood,
    rfm_summary,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
)
from nextbest.models.clv.pareto_nbd import _loglik_grad as pareto_loglik_grad

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def bg_data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return simulate_bgnbd(BG, T=rng.uniform(26, 39, 6000), seed=11)


@pytest.fixture(scope="module")
def pareto_data() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    # s and beta are weakly identified over short windows: observe these customers longer
    return simulate_pareto_nbd(PARETO, T=rng.uniform(52, 104, 6000), seed=12)


@pytest.fixture(scope="module")
def gg_data() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    return simulate_gamma_gamma(GG, rng.integers(1, 10, 4000), seed=13)


# --- likelihoods and their gradients -------------------------------------------------


def _columns(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return data.frequency.to_numpy(), data.recency.to_numpy(), data["T"].to_numpy()


@pytest.mark.parametrize("at", [list(BG.values()), [1.3, 0.7, 2.5, 0.4], [0.05, 40.0, 0.2, 9.0]])
def test_bgnbd_gradient_matches_finite_differences(bg_data: pd.DataFrame, at: list) -> None:
    cols = _columns(bg_data)

    def f(p: np.ndarray) -> float:
        return float(bgnbd_log_likelihood(p, *cols).sum())

    def g(p: np.ndarray) -> np.ndarray:
        return bgnbd_log_likelihood_grad(p, *cols)[1].sum(axis=0)

    err = check_grad(f, g, np.array(at), epsilon=1e-7)
    assert err / np.linalg.norm(g(np.array(at))) < 1e-4


@pytest.mark.parametrize("at", [list(GG.values()), [1.5, 1.2, 80.0]])
def test_gamma_gamma_gradient_matches_finite_differences(gg_data: pd.DataFrame, at) -> None:
    x, m = gg_data.frequency.to_numpy(), gg_data.monetary_value.to_numpy()

    def f(p: np.ndarray) -> float:
        return float(gamma_gamma_log_likelihood(p, x, m).sum())

    def g(p: np.ndarray) -> np.ndarray:
        return gamma_gamma_log_likelihood_grad(p, x, m)[1].sum(axis=0)

    err = check_grad(f, g, np.array(at), epsilon=1e-7)
    assert err / np.linalg.norm(g(np.array(at))) < 1e-4


@pytest.mark.parametrize("at", [list(PARETO.values()), [0.9, 3.0, 1.4, 20.0]])
def test_pareto_nbd_gradient_matches_finite_differences(pareto_data: pd.DataFrame, at) -> None:
    x, t_x, T = _columns(pareto_data)

    def f(p: np.ndarray) -> float:
        return float(pareto_nbd_log_likelihood(p, x, t_x, T).sum())

    def g(p: np.ndarray) -> np.ndarray:
        return pareto_loglik_grad(p, x, t_x, T)[1].sum(axis=0)

    err = check_grad(f, g, np.array(at, dtype=float), epsilon=1e-6)
    assert err / np.linalg.norm(g(np.array(at, dtype=float))) < 1e-4


def test_bgnbd_likelihood_is_the_published_formula() -> None:
    r, alpha, a, b = BG.values()
    x, t_x, T = np.array([0.0, 1.0, 4.0]), np.array([0.0, 10.0, 30.0]), np.full(3, 38.86)
    beta = np.exp(gammaln(a) + gammaln(b) - gammaln(a + b))

    def B(u: float, v: np.ndarray) -> np.ndarray:
        return np.exp(gammaln(u) + gammaln(v) - gammaln(u + v))

    common = np.exp(gammaln(r + x) - gammaln(r)) * alpha**r
    expected = B(a, b + x) / beta * common / (alpha + T) ** (r + x) + (x > 0) * B(
        a + 1, np.maximum(b + x - 1, 1e-9)
    ) / beta * common / (alpha + t_x) ** (r + x)
    np.testing.assert_allclose(bgnbd_log_likelihood(list(BG.values()), x, t_x, T), np.log(expected))


def test_bgnbd_likelihood_is_finite_for_heavy_buyers() -> None:
    ll, grad = bgnbd_log_likelihood_grad(list(BG.values()), [2000.0], [50.0], [52.0])
    assert np.isfinite(ll).all() and np.isfinite(grad).all()


@pytest.mark.parametrize("params", [PARETO, {"r": 0.8, "alpha": 3.0, "s": 1.2, "beta": 25.0}])
def test_pareto_nbd_likelihood_matches_its_integral(params: dict) -> None:
    r, alpha, s, beta = params.values()
    for x, t_x, T in [(0, 0.0, 30.0), (3, 12.5, 30.0), (25, 29.0, 39.0), (2, 20.0, 20.0)]:

        def integrand(y: float, x: float = x) -> float:
            return (alpha + y) ** -(r + x) * (beta + y) ** -(s + 1)

        area = quad(integrand, t_x, T, epsabs=0, epsrel=1e-12)[0]
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
        expected = head + np.log(alive + s * area)
        got = pareto_nbd_log_likelihood(list(params.values()), [x], [t_x], [T])[0]
        assert got == pytest.approx(expected, rel=1e-9)


def test_pareto_nbd_likelihood_is_continuous_where_alpha_meets_beta() -> None:
    data = ([0.0, 4.0, 40.0], [0.0, 20.0, 35.0], [39.0, 39.0, 39.0])
    below = pareto_nbd_log_likelihood([0.5, 10.0 - 1e-9, 0.6, 10.0], *data)
    above = pareto_nbd_log_likelihood([0.5, 10.0 + 1e-9, 0.6, 10.0], *data)
    np.testing.assert_allclose(below, above, rtol=1e-7)


# --- fitting recovers the parameters data were drawn with ------------------------------


def test_bgnbd_recovers_simulated_parameters(bg_data: pd.DataFrame) -> None:
    model = BGNBD().fit(bg_data)
    assert model.converged_
    for name, true in BG.items():
        assert model.params_[name] == pytest.approx(true, rel=0.15), name
    assert model.log_likelihood_ == pytest.approx(
        bgnbd_log_likelihood(model._fitted(), *_columns(bg_data)).sum()
    )


def test_pareto_nbd_recovers_simulated_parameters(pareto_data: pd.DataFrame) -> None:
    model = ParetoNBD().fit(pareto_data)
    assert model.converged_
    for name, true in PARETO.items():
        assert model.params_[name] == pytest.approx(true, rel=0.15), name


def test_gamma_gamma_recovers_simulated_parameters(gg_data: pd.DataFrame) -> None:
    model = GammaGamma().fit(gg_data)
    for name, true in GG.items():
        assert model.params_[name] == pytest.approx(true, rel=0.15), name


def test_fit_is_the_same_from_arrays_and_from_a_frame(bg_data: pd.DataFrame) -> None:
    a = BGNBD().fit(bg_data).params_
    b = BGNBD().fit(*_columns(bg_data)).params_
    assert a == pytest.approx(b)


def test_penalizer_shrinks_parameters(bg_data: pd.DataFrame) -> None:
    plain = BGNBD().fit(bg_data).params_
    shrunk = BGNBD(penalizer_coef=0.1).fit(bg_data).params_
    assert sum(v**2 for v in shrunk.values()) < sum(v**2 for v in plain.values())


# --- predictions ----------------------------------------------------------------------


def test_bgnbd_alive_is_one_without_repeat_purchases() -> None:
    model = BGNBD.from_params(BG)
    alive = model.conditional_probability_alive([0, 0, 0], [0.0, 0.0, 0.0], [1.0, 20.0, 500.0])
    assert alive.tolist() == [1.0, 1.0, 1.0]


def test_alive_falls_with_silence_and_rises_with_recency() -> None:
    for model in (BGNBD.from_params(BG), ParetoNBD.from_params(PARETO)):
        by_age = model.conditional_probability_alive([3] * 4, [10.0] * 4, [10.0, 20.0, 40.0, 80.0])
        assert np.all(np.diff(by_age) < 0)
        by_recency = model.conditional_probability_alive(
            [3] * 4, [1.0, 5.0, 20.0, 39.0], [39.0] * 4
        )
        assert np.all(np.diff(by_recency) > 0)
        assert np.all((by_age > 0) & (by_age <= 1))


def test_expected_purchases_grow_with_the_horizon_and_with_frequency() -> None:
    horizons = np.array([0.0, 1.0, 10.0, 52.0, 520.0])
    for model in (BGNBD.from_params(BG), ParetoNBD.from_params(PARETO)):
        unconditional = model.expected_number_of_purchases_up_to_time(horizons)
        assert unconditional[0] == 0 and np.all(np.diff(unconditional) > 0)
        cond = model.conditional_expected_number_of_purchases_up_to_time(
            horizons[:, None], [1, 4, 8], [30.0, 30.0, 30.0], [39.0] * 3
        )
        assert cond.shape == (5, 3)
        assert np.all(np.diff(cond, axis=0) > 0) and np.all(np.diff(cond[1:], axis=1) > 0)


def test_bgnbd_conditional_expectation_matches_the_direct_formula() -> None:
    r, alpha, a, b = BG.values()
    x, t_x, T, t = np.array([0.0, 1, 5, 10]), np.array([0.0, 10, 30, 35]), np.full(4, 38.86), 39.0
    model = BGNBD.from_params(BG)
    alive = model.conditional_probability_alive(x, t_x, T)
    z = t / (alpha + T + t)
    direct = (
        alive
        * (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    )
    got = model.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
    np.testing.assert_allclose(got, direct, rtol=1e-10)


def test_bgnbd_conditional_expectation_is_stable_for_heavy_buyers() -> None:
    r, alpha, a, b = BG.values()
    x, t_x, T, t = 2000.0, 52.0, 52.0, 10.0
    got = BGNBD.from_params(BG).conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
    # given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x); E[Y | lambda, p]
    # is (1 - exp(-lambda p t)) / p; P(alive) is 1 when the last purchase is at T
    rng = np.random.default_rng(0)
    lam = rng.gamma(r + x, 1 / (alpha + T), 400_000)
    p = rng.beta(a, b + x, 400_000)
    assert got[0] == pytest.approx(float(np.mean(-np.expm1(-lam * p * t) / p)), rel=0.005)


@pytest.mark.parametrize(
    ("model", "simulate"),
    [(BGNBD.from_params(BG), simulate_bgnbd), (ParetoNBD.from_params(PARETO), simulate_pareto_nbd)],
)
def test_history_plus_conditional_forecast_averages_to_the_unconditional(model, simulate) -> None:
    # E[X(T+t)] = E[x(T) + E(Y(t) | x, t_x, T)]: ties the conditional to the unconditional
    data = simulate(model.params_, T=np.full(200_000, 39.0), seed=5)
    cond = model.conditional_expected_number_of_purchases_up_to_time(13.0, data)
    mean = float((data.frequency + cond).mean())
    assert mean == pytest.approx(
        float(model.expected_number_of_purchases_up_to_time(52.0)[0]), rel=0.02
    )


def test_unconditional_expectation_matches_simulation() -> None:
    for model, simulate in (
        (BGNBD.from_params(BG), simulate_bgnbd),
        (ParetoNBD.from_params(PARETO), simulate_pareto_nbd),
    ):
        data = simulate(model.params_, T=np.full(200_000, 52.0), seed=6)
        expected = float(model.expected_number_of_purchases_up_to_time(52.0)[0])
        assert data.frequency.mean() == pytest.approx(expected, rel=0.02)


def test_expected_average_profit_shrinks_towards_the_population_mean() -> None:
    model = GammaGamma.from_params(GG)
    population = GG["p"] * GG["v"] / (GG["q"] - 1)
    got = model.conditional_expected_average_profit([0, 1, 10, 1000], [0.0, 100.0, 100.0, 100.0])
    assert got[0] == pytest.approx(population)
    assert population < got[1] < got[2] < got[3] < 100.0
    assert got[3] == pytest.approx(100.0, rel=0.01)


def test_lifetime_value_is_discounted_expected_purchases_times_spend() -> None:
    bg, gg = BGNBD.from_params(BG), GammaGamma.from_params(GG)
    args = ([0, 2, 6], [0.0, 20.0, 35.0], [38.0, 38.0, 38.0], [0.0, 30.0, 60.0])
    clv = gg.customer_lifetime_value(bg, *args, time=3, discount_rate=0.02, period_length=4.0)
    spend = gg.conditional_expected_average_profit(args[0], args[3])
    cumulative = [
        bg.conditional_expected_number_of_purchases_up_to_time(4.0 * i, *args[:3]) for i in range(4)
    ]
    by_hand = sum((cumulative[i] - cumulative[i - 1]) * spend / 1.02**i for i in range(1, 4))
    np.testing.assert_allclose(clv, by_hand)
    longer = gg.customer_lifetime_value(bg, *args, time=24)
    assert np.all(longer > gg.customer_lifetime_value(bg, *args, time=12))
    steeper = gg.customer_lifetime_value(bg, *args, time=12, discount_rate=0.05)
    assert np.all(steeper < gg.customer_lifetime_value(bg, *args, time=12))
    frame = pd.DataFrame(
        dict(zip(["frequency", "recency", "T", "monetary_value"], args, strict=True))
    )
    np.testing.assert_allclose(
        gg.customer_lifetime_value(ParetoNBD.from_params(PARETO), frame),
        gg.customer_lifetime_value(ParetoNBD.from_params(PARETO), *args),
    )


# --- inputs, errors, persistence -------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "field", "words"),
    [
        ([-1], [0.0], [5.0], "frequency", "negative"),
        ([1.5], [2.0], [5.0], "frequency", "whole number"),
        ([1], [-2.0], [5.0], "recency", "negative"),
        ([2], [6.0], [5.0], "recency", "greater than T"),
        ([0], [3.0], [5.0], "recency", "frequency is 0"),
        ([1], [2.0], [np.nan], "T", "missing"),
    ],
)
def test_bad_inputs_are_refused_with_the_field_named(frequency, recency, T, field, words) -> None:
    for model in (BGNBD(), ParetoNBD()):
        with pytest.raises(ModelInputError, match=words) as err:
            model.fit(frequency, recency, T)
        assert err.value.field == field
        assert isinstance(err.value, NextBestError)


def test_inputs_of_different_lengths_are_refused() -> None:
    with pytest.raises(ModelInputError, match="same length"):
        BGNBD().fit([1, 2], [1.0, 2.0], [5.0])


def test_a_frame_without_the_columns_is_refused() -> None:
    with pytest.raises(ModelInputError, match=r"no column.*'recency'"):
        BGNBD().fit(pd.DataFrame({"frequency": [1], "T": [3.0]}))


def test_gamma_gamma_refuses_customers_without_repeats() -> None:
    with pytest.raises(ModelInputError, match="frequency > 0"):
        GammaGamma().fit([0, 2, 3], [0.0, 10.0, 20.0])
    with pytest.raises(ModelInputError, match="monetary_value is not positive"):
        GammaGamma().fit([1, 2, 3], [-1.0, 10.0, 20.0])


def test_prediction_horizons_must_be_non_negative() -> None:
    with pytest.raises(ModelInputError, match="non-negative"):
        BGNBD.from_params(BG).expected_number_of_purchases_up_to_time(-1.0)


def test_negative_penalizer_is_refused(bg_data: pd.DataFrame) -> None:
    with pytest.raises(ModelInputError, match="penalizer_coef"):
        BGNBD(penalizer_coef=-1.0).fit(bg_data)


@pytest.mark.parametrize(
    "call",
    [
        lambda: BGNBD().conditional_probability_alive([1], [1.0], [2.0]),
        lambda: BGNBD().expected_number_of_purchases_up_to_time(1.0),
        lambda: ParetoNBD().conditional_expected_number_of_purchases_up_to_time(
            1.0, [1], [1.0], [2.0]
        ),
        lambda: GammaGamma().conditional_expected_average_profit([1], [10.0]),
    ],
)
def test_using_a_model_before_fit_says_so(call) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        call()


def test_parameters_round_trip_through_json(bg_data: pd.DataFrame) -> None:
    model = BGNBD().fit(bg_data)
    again = BGNBD.from_params(json.loads(json.dumps(model.params_)))
    np.testing.assert_allclose(
        again.conditional_probability_alive(bg_data), model.conditional_probability_alive(bg_data)
    )
    with pytest.raises(ModelInputError, match="needs the parameter"):
        BGNBD.from_params({"r": 1.0})


@pytest.mark.parametrize(
    ("cls", "data"),
    [
        (BGNBD, ([0, 1, 2, 5], [0.0, 1.0, 3.0, 3.5], [4.0, 4.0, 4.0, 4.0])),
        (ParetoNBD, ([0, 1, 2, 5], [0.0, 1.0, 3.0, 3.5], [4.0, 4.0, 4.0, 4.0])),
        (GammaGamma, ([1, 2, 3, 1], [10.0, 12.0, 30.0, 5.0])),
    ],
)
def test_models_follow_the_estimator_contract(cls, data) -> None:
    model = cls(penalizer_coef=0.01)
    assert model.get_params() == {"penalizer_coef": 0.01}
    assert model.fit(*data) is model
    assert set(model.params_) == set(cls.param_names)
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert np.isfinite(model.log_likelihood_)
    assert not hasattr(clone(model), "params_")
    again = cls.from_params(json.loads(json.dumps(model.params_)))
    assert again.params_ == model.params_


def test_bgnbd_expectations_are_continuous_through_a_equal_one() -> None:
    at = {**BG, "a": 1.0}
    near = [BGNBD.from_params({**BG, "a": 1.0 + d}) for d in (-1e-4, 1e-4)]
    args = (20.0, [0, 3], [0.0, 30.0], [38.0, 38.0])
    exact = BGNBD.from_params(at).conditional_expected_number_of_purchases_up_to_time(*args)
    assert np.all(np.isfinite(exact))
    around = [m.conditional_expected_number_of_purchases_up_to_time(*args) for m in near]
    np.testing.assert_allclose(exact, (around[0] + around[1]) / 2, rtol=1e-6)


# --- summaries from transactions -------------------------------------------------------


def _transactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b", "c", "a"],
            "timestamp": pd.to_datetime(
                format="ISO8601",
                arg=[
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",  # same day: merged with the first
                    "2024-01-08",
                    "2024-01-31",  # the last calibration day: inside
                    "2024-01-10",
                    "2024-02-10",  # holdout
                    "2024-02-03",  # first purchase after calibration: not a calibration customer
                    "2024-02-01",  # holdout
                ],
            ),
            "value": [10.0, 5.0, 20.0, 40.0, 7.0, 9.0, 3.0, 11.0],
        }
    )


def test_summary_merges_same_day_purchases_and_counts_repeats() -> None:
    got = rfm_summary(_transactions(), "2024-01-31", unit="days")
    assert got.index.tolist() == ["a", "b"]
    assert got.loc["a"].tolist() == [2, 30.0, 30.0, 30.0]
    assert got.loc["b"].tolist() == [0, 0.0, 21.0, 0.0]
    weeks = rfm_summary(_transactions(), "2024-01-31")
    assert weeks.loc["a", "T"] == pytest.approx(30 / 7)


def test_holdout_summary_counts_purchase_days_after_calibration() -> None:
    got = calibration_holdout_summary(_transactions(), "2024-01-31", "2024-02-29", unit="days")
    assert got.index.tolist() == ["a", "b"]
    assert got.frequency_holdout.tolist() == [1, 1]
    assert got.monetary_value_holdout.tolist() == [11.0, 9.0]
    assert got.duration_holdout.tolist() == [29.0, 29.0]
    BGNBD().fit(got)  # the summary is what the models take


def test_summary_errors_name_the_problem() -> None:
    with pytest.raises(ModelInputError, match="unknown time unit"):
        rfm_summary(_transactions(), "2024-01-31", unit="months")
    with pytest.raises(ModelInputError, match=r"no column.*'amount'"):
        rfm_summary(_transactions(), "2024-01-31", value_col="amount")
    bad = _transactions()
    bad.loc[3, "timestamp"] = pd.NaT
    with pytest.raises(ModelInputError, match="first at row 3"):
        rfm_summary(bad, "2024-01-31")
    with pytest.raises(ModelInputError, match="after calibration_end"):
        calibration_holdout_summary(_transactions(), "2024-01-31", "2024-01-01")


# --- CDNOW: the published estimates ----------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_sample() -> pd.DataFrame:
    path = SHARED_DATA / "cdnow" / "CDNOW_sample.txt"
    if not path.exists():
        pytest.skip(f"CDNOW sample not present at {path}")
    return read_cdnow(path)


def read_cdnow(path: Path) -> pd.DataFrame:
    """CDNOW rows as transactions; the first column is the master customer id."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    return pd.DataFrame(
        {
            "customer_id": raw[0],
            "timestamp": pd.to_datetime(raw[raw.columns[-3]], format="%Y%m%d"),
            "value": raw[raw.columns[-1]].astype(float),
        }
    )


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_sample: pd.DataFrame) -> pd.DataFrame:
    # calibration 1997-01-01..1997-09-30 inclusive, holdout to 1998-06-30, in weeks
    return calibration_holdout_summary(cdnow_sample, "1997-09-30", "1998-06-30", unit="weeks")


def test_cdnow_summary_matches_the_published_data(cdnow_summary: pd.DataFrame) -> None:
    assert len(cdnow_summary) == 2357
    first = cdnow_summary.loc["00004"]
    assert (first.frequency, round(first.recency, 2), round(first["T"], 2)) == (2, 30.43, 38.86)
    assert cdnow_summary.frequency.sum() == 2457
    assert (cdnow_summary.frequency > 0).sum() == 946


def test_cdnow_bgnbd_matches_fader_hardie_lee(cdnow_summary: pd.DataFrame) -> None:
    model = BGNBD().fit(cdnow_summary)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert model.params_[name] == pytest.approx(value, rel=0.01), name
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    forecast = model.conditional_expected_number_of_purchases_up_to_time(
        cdnow_summary.duration_holdout.to_numpy(), cdnow_summary
    ).sum()
    # measured: 1653.4 forecast against 1882 actual repeat purchase days in the holdout
    assert cdnow_summary.frequency_holdout.sum() == 1882
    assert forecast == pytest.approx(1653.4, abs=1.0)


def test_cdnow_pareto_nbd_matches_the_published_estimates(cdnow_summary: pd.DataFrame) -> None:
    model = ParetoNBD().fit(cdnow_summary)
    for name, value in {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}.items():
        assert model.params_[name] == pytest.approx(value, rel=0.01), name
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)


def test_cdnow_gamma_gamma_matches_the_published_estimates(cdnow_summary: pd.DataFrame) -> None:
    # the 946 customers with a repeat purchase in the calibration weeks, their mean repeat spend
    repeat = cdnow_summary[cdnow_summary.frequency > 0]
    model = GammaGamma().fit(repeat)
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert model.params_[name] == pytest.approx(value, rel=0.01), name
