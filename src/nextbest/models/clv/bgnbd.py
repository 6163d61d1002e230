"""BG/NBD: how many purchases a customer makes, and whether they are still a customer.

The beta-geometric / negative-binomial model of Fader, Hardie & Lee (2005),
"Counting your customers the easy way", *Marketing Science* 24(2). While active, a
customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each repeat
purchase they drop out with probability ``p ~ Beta(a, b)``. It is fitted on
``frequency`` (repeat purchases), ``recency`` (time of the last purchase since the
first) and ``T`` (time since the first purchase), all in one time unit.

The log-likelihood per customer is

    ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
      + logsumexp( −(r+x) ln(α+T),  ln a − ln(b+x−1) − (r+x) ln(α+t_x) )

(the second term only for x > 0), so neither term under- or overflows for heavy
buyers. Its gradient is analytic. Conditional expectations use the Gaussian
hypergeometric function after an Euler transformation that keeps its arguments
bounded for any number of purchases.

>>> import numpy as np
>>> from nextbest.models.clv import BGNBD, simulate_bgnbd
>>> data = simulate_bgnbd(dict(r=0.5, alpha=5.0, a=0.8, b=2.5), T=np.full(3000, 40.0), seed=1)
>>> model = BGNBD().fit(data)
>>> {k: round(v, 1) for k, v in model.params_.items()}
{'r': 0.5, 'alpha': 4.9, 'a': 0.8, 'b': 2.4}
>>> float(model.conditional_probability_alive(0, 0.0, 40.0)[0])
1.0
>>> model.expected_number_of_purchases_up_to_time(52.0).round(2)
array([2.46])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from nextbest.models.clv.base import (
    LikelihoodModel,
    ModelInputError,
    check_rfm,
    check_time,
    collapse,
    split_columns,
)

__all__ = ["BGNBD", "bgnbd_log_likelihood", "bgnbd_log_likelihood_grad"]

_COLUMNS = ("frequency", "recency", "T")


def _terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple:
    r, alpha, a, b = (float(v) for v in params)
    rx = r + x
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    head = gammaln(rx) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    alive = -rx * np.log(alpha + T)
    dead = np.where(repeat, np.log(a) - np.log(b_x1) - rx * np.log(alpha + t_x), -np.inf)
    both = np.logaddexp(alive, dead)
    return head, alive, dead, both, rx, b_x1


def bgnbd_log_likelihood(params: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood at ``params = (r, alpha, a, b)``.

    >>> float(bgnbd_log_likelihood([0.243, 4.414, 0.793, 2.426], [0], [0.0], [38.86])[0])
    -0.5547...
    """
    x, t_x, age = check_rfm(frequency, recency, T)
    head, _, _, both, _, _ = _terms(np.asarray(params, dtype=float), x, t_x, age)
    return np.asarray(head + both)


def _loglik_grad(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r, alpha, a, b = (float(v) for v in params)
    head, alive, dead, both, rx, b_x1 = _terms(params, x, t_x, T)
    w_alive = np.exp(alive - both)  # also P(alive | x, t_x, T)
    w_dead = np.exp(dead - both)
    d_ab = digamma(a + b) - digamma(a + b + x)
    grad = np.empty((len(x), 4))
    grad[:, 0] = (
        digamma(rx)
        - digamma(r)
        + np.log(alpha)
        - w_alive * np.log(alpha + T)
        - w_dead * np.log(alpha + t_x)
    )
    grad[:, 1] = r / alpha - w_alive * rx / (alpha + T) - w_dead * rx / (alpha + t_x)
    grad[:, 2] = d_ab + w_dead / a
    grad[:, 3] = d_ab + digamma(b + x) - digamma(b) - w_dead / b_x1
    return head + both, grad


def bgnbd_log_likelihood_grad(
    params: Any, frequency: Any, recency: Any, T: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood (n,) and its gradient in ``(r, alpha, a, b)`` (n, 4)."""
    x, t_x, age = check_rfm(frequency, recency, T)
    return _loglik_grad(np.asarray(params, dtype=float), x, t_x, age)


def _one_minus_scaled_hyp(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """``(a+b+x-1)/(a-1) * [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]``.

    Written with Euler's transformation as ``1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``,
    whose parameters do not grow with x. At ``a = 1`` the expression is 0/0 but smooth in
    ``a``: there the mean of its values at ``a = 1 ± 1e-5`` is used (error about 1e-10).
    """
    if abs(a - 1.0) < 1e-7:
        return np.asarray(
            0.5
            * (
                _one_minus_scaled_hyp(r, alpha, 1.0 - 1e-5, b, x, T, t)
                + _one_minus_scaled_hyp(r, alpha, 1.0 + 1e-5, b, x, T, t)
            )
        )
    z = t / (alpha + T + t)
    c = a + b + x - 1.0
    inner = np.power(1.0 - z, a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    return np.asarray(c / (a - 1.0) * (1.0 - inner))


class BGNBD(LikelihoodModel):
    """The BG/NBD purchase-count model, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer_coef
        L2 penalty on the parameters added to the mean negative log-likelihood
        (0 for plain maximum likelihood; a small value such as 0.001 steadies fits
        on few customers).

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (purchase rate: Gamma shape and rate) and ``a``, ``b``
        (dropout probability: Beta).
    log_likelihood_ : float
        Total log-likelihood of the training customers at ``params_``.
    n_iter_, converged_
        What the optimiser reported.
    """

    param_names = ("r", "alpha", "a", "b")

    def fit(self, frequency: Any, recency: Any = None, T: Any = None) -> BGNBD:
        """Fit on arrays, or on one frame with ``frequency``, ``recency``, ``T`` columns."""
        x, t_x, age = check_rfm(*split_columns(frequency, [recency, T], _COLUMNS))
        if len(x) == 0:
            raise ModelInputError("cannot fit BG/NBD on zero customers.")
        (ux, ut, uT), weights = collapse(x, t_x, age)
        mean_x = max(float(x.mean()), 0.1)
        start = np.array([1.0, max(float(age.mean()), 1e-3) / mean_x, 1.0, 1.0])
        self._optimise(lambda p: _loglik_grad(p, ux, ut, uT), weights, start)
        return self

    def conditional_probability_alive(
        self, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """P(still active | frequency, recency, T); exactly 1 for frequency 0."""
        r, alpha, a, b = self._fitted()
        x, t_x, age = check_rfm(*split_columns(frequency, [recency, T], _COLUMNS))
        repeat = x > 0
        log_odds_dead = np.log(a) - np.log(np.where(repeat, b + x - 1.0, 1.0))
        log_odds_dead = log_odds_dead + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        return np.where(repeat, expit(-log_odds_dead), 1.0)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` for customers with this history.

        ``t`` is a number or an array broadcast against the customers (for example
        shape ``(k, 1)`` for ``k`` horizons, giving a ``(k, n)`` result).
        """
        r, alpha, a, b = self._fitted()
        horizon = check_time(t)
        x, t_x, age = check_rfm(*split_columns(frequency, [recency, T], _COLUMNS))
        alive = self.conditional_probability_alive(x, t_x, age)
        return alive * _one_minus_scaled_hyp(r, alpha, a, b, x, age, horizon)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` for a customer who just made a first one."""
        r, alpha, a, b = self._fitted()
        horizon = np.atleast_1d(check_time(t))
        zero = np.zeros(1)
        return _one_minus_scaled_hyp(r, alpha, a, b, zero, zero, horizon)
