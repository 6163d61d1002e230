"""Gamma-Gamma: what a customer's purchases are worth, and their lifetime value.

The spend model of Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves
for customer base analysis", *Journal of Marketing Research* 42(4), after Colombo &
Jiang (1999). Each transaction of a customer is worth ``Gamma(p, nu)``; across
customers ``nu ~ Gamma(q, v)``. It is fitted on customers with at least one repeat
purchase: their ``frequency`` (number of repeat purchases x) and ``monetary_value``
(mean value of those purchases, m). The per-customer log-likelihood of m given x,

    ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(v + m x),

has an analytic gradient. The model assumes spend does not depend on frequency:
check the correlation of the two before relying on it.

>>> import numpy as np
>>> from nextbest.models.clv import GammaGamma, simulate_gamma_gamma
>>> rng = np.random.default_rng(0)
>>> data = simulate_gamma_gamma(dict(p=6.0, q=4.0, v=15.0), rng.integers(1, 8, 10000), seed=0)
>>> model = GammaGamma().fit(data)
>>> {k: round(v, 1) for k, v in model.params_.items()}
{'p': 5.8, 'q': 4.0, 'v': 15.5}
>>> model.conditional_expected_average_profit(0, 0.0).round(1)  # the population mean
array([29.8])
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from scipy.special import digamma, gammaln

from nextbest.models.clv.base import (
    LikelihoodModel,
    ModelInputError,
    check_positive,
    check_rfm,
    collapse,
    split_columns,
    to_array,
)

__all__ = [
    "DAYS_PER_MONTH",
    "WEEKS_PER_MONTH",
    "GammaGamma",
    "PurchaseModel",
    "gamma_gamma_log_likelihood",
    "gamma_gamma_log_likelihood_grad",
]

DAYS_PER_MONTH = 365.25 / 12
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7

_COLUMNS = ("frequency", "monetary_value")


class PurchaseModel(Protocol):
    """What :meth:`GammaGamma.customer_lifetime_value` needs of a purchase-count model."""

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray: ...


def _check(frequency: Any, monetary_value: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_positive(frequency, "frequency")
    m = check_positive(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise ModelInputError(
            f"frequency and monetary_value must have the same length (got {len(x)} and {len(m)})."
        )
    return x, m


def _loglik_grad(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, q, v = (float(val) for val in params)
    px = p * x
    log_vm = np.log(v + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_vm
    )
    d_head = digamma(px + q)
    grad = np.empty((len(x), 3))
    grad[:, 0] = x * (d_head - digamma(px) + np.log(m) + np.log(x) - log_vm)
    grad[:, 1] = d_head - digamma(q) + np.log(v) - log_vm
    grad[:, 2] = q / v - (px + q) / (v + m * x)
    return ll, grad


def gamma_gamma_log_likelihood(params: Any, frequency: Any, monetary_value: Any) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood at ``params = (p, q, v)``."""
    return _loglik_grad(np.asarray(params, dtype=float), *_check(frequency, monetary_value))[0]


def gamma_gamma_log_likelihood_grad(
    params: Any, frequency: Any, monetary_value: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood (n,) and its gradient in ``(p, q, v)`` (n, 3)."""
    return _loglik_grad(np.asarray(params, dtype=float), *_check(frequency, monetary_value))


class GammaGamma(LikelihoodModel):
    """The Gamma-Gamma spend model, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer_coef
        L2 penalty on the parameters added to the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict
        ``p`` (shape of a transaction's value), ``q`` and ``v`` (shape and rate of
        the customers' scale).
    log_likelihood_ : float
        Total log-likelihood of the training customers at ``params_``.
    """

    param_names = ("p", "q", "v")

    def fit(self, frequency: Any, monetary_value: Any = None) -> GammaGamma:
        """Fit on repeat customers: arrays, or one frame with ``frequency``, ``monetary_value``.

        Every customer must have ``frequency > 0`` (select them with
        ``summary[summary.frequency > 0]``) and a positive ``monetary_value``.
        """
        columns = split_columns(frequency, [monetary_value], _COLUMNS)
        x_all = to_array(columns[0], "frequency")
        if (x_all == 0).any():
            raise ModelInputError(
                f"{int((x_all == 0).sum())} customer(s) have frequency 0.",
                field="frequency",
                hint="Gamma-Gamma is fitted on repeat customers only: "
                "pass summary[summary.frequency > 0].",
            )
        x, m = _check(*columns)
        if len(x) < 2:
            raise ModelInputError("Gamma-Gamma needs at least two repeat customers.")
        (ux, um), weights = collapse(x, m)
        # moment-style start: mean spend p/(nu) with q > 1
        start = np.array([1.0, 2.0, max(float(m.mean()), 1e-6)])
        self._optimise(lambda prm: _loglik_grad(prm, ux, um), weights, start)
        return self

    def conditional_expected_average_profit(
        self, frequency: Any, monetary_value: Any = None
    ) -> np.ndarray:
        """Expected value of a customer's future purchases given x purchases of mean m.

        ``p (v + m x) / (p x + q − 1)``: a weighted average of the population mean
        ``p v / (q − 1)`` (what a customer with frequency 0 gets) and the customer's own
        mean. Needs ``q > 1``.
        """
        p, q, v = self._fitted()
        if q <= 1:
            raise ModelInputError(
                f"the fitted q ({q:.3g}) is not above 1, so mean spend is unbounded.",
                field="q",
            )
        x_raw, m_raw = split_columns(frequency, [monetary_value], _COLUMNS)
        x = check_positive(x_raw, "frequency", allow_zero=True)
        m = check_positive(m_raw, "monetary_value", allow_zero=True)
        if len(x) != len(m):
            raise ModelInputError(
                "frequency and monetary_value must have the same length "
                f"(got {len(x)} and {len(m)})."
            )
        return np.asarray(p * (v + m * x) / (p * x + q - 1.0))

    def customer_lifetime_value(
        self,
        transaction_model: PurchaseModel,
        frequency: Any,
        recency: Any = None,
        T: Any = None,
        monetary_value: Any = None,
        *,
        time: int = 12,
        discount_rate: float = 0.01,
        period_length: float = WEEKS_PER_MONTH,
    ) -> np.ndarray:
        """Discounted value of each customer's purchases over the next ``time`` periods.

        ``sum_{i=1..time} E[purchases in period i] * E[value per purchase] / (1 + d)^i``,
        with purchases from ``transaction_model`` (a fitted :class:`BGNBD` or
        :class:`ParetoNBD`) and values from this model.

        Parameters
        ----------
        transaction_model
            Fitted purchase-count model, in the same time unit as ``recency`` and ``T``.
        frequency, recency, T, monetary_value
            Arrays, or one frame with those four columns as ``frequency``.
        time
            Number of periods in the horizon (12 monthly periods by default).
        discount_rate
            Discount rate per period (0.01 a month is about 12.7% a year).
        period_length
            Length of one period in the model's time unit: ``WEEKS_PER_MONTH`` (the
            default) for models fitted in weeks, ``DAYS_PER_MONTH`` for days.

        >>> from nextbest.models.clv import BGNBD
        >>> bg = BGNBD.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426))
        >>> gg = GammaGamma.from_params(dict(p=6.25, q=3.74, v=15.44))
        >>> gg.customer_lifetime_value(bg, [0, 4], [0.0, 30.0], [38.9, 38.9], [0.0, 40.0]).round(2)
        array([  8.37, 105.59])
        """
        if not (isinstance(time, int | np.integer) and time >= 1):
            raise ModelInputError(f"time must be a whole number of periods >= 1, got {time!r}.")
        if not (np.isfinite(discount_rate) and discount_rate > -1):
            raise ModelInputError(f"discount_rate must be > -1, got {discount_rate!r}.")
        if not (np.isfinite(period_length) and period_length > 0):
            raise ModelInputError(f"period_length must be positive, got {period_length!r}.")
        names = ("frequency", "recency", "T", "monetary_value")
        x_raw, t_raw, age_raw, m_raw = split_columns(frequency, [recency, T, monetary_value], names)
        x, t_x, age = check_rfm(x_raw, t_raw, age_raw)
        spend = self.conditional_expected_average_profit(x, m_raw)
        ends = np.arange(time + 1, dtype=float)[:, None] * period_length
        cumulative = transaction_model.conditional_expected_number_of_purchases_up_to_time(
            ends, x, t_x, age
        )
        per_period = np.diff(np.asarray(cumulative), axis=0)
        discount = (1.0 + discount_rate) ** -np.arange(1, time + 1, dtype=float)
        return np.asarray(spend * (discount @ per_period))
