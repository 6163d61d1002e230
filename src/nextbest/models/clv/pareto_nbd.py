"""Pareto/NBD: purchase counts with dropout at any time, not only after a purchase.

The model of Schmittlein, Morrison & Colombo (1987), in the likelihood of Fader,
Hardie & Lee (2005), "A note on deriving the Pareto/NBD model and related
expressions". While active a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``;
their lifetime is exponential with rate ``mu ~ Gamma(s, beta)``. Per customer

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s/(r+s+x) · A0 ]

where ``A0 = F(t_x) − F(T)`` and, with ``n = r+s+x``, ``M = max(α, β)``,
``m = min(α, β)`` and ``k = s+1`` if α ≥ β else ``r+x``,
``F(y) = (M+y)^-n 2F1(n, k; n+1; (M−m)/(M+y))``. The hypergeometric function is
evaluated after Pfaff's transformation, ``2F1(n, k; n+1; w) = (1−w)^-k
2F1(k, 1; n+1; w/(w−1))``, whose value lies in (0, 1] for any purchase count, and the
difference and the sum are taken in log space.

The gradient of this likelihood needs derivatives of 2F1 in its parameters, so
:class:`ParetoNBD` uses central finite differences (relative step 1e-5) for it;
BG/NBD and Gamma-Gamma have analytic gradients.

>>> import numpy as np
>>> from nextbest.models.clv import ParetoNBD, simulate_pareto_nbd
>>> params = dict(r=0.55, alpha=10.6, s=0.6, beta=11.7)
>>> data = simulate_pareto_nbd(params, T=np.full(4000, 39.0), seed=3)
>>> model = ParetoNBD().fit(data)
>>> round(model.params_["r"], 1)
0.5
>>> float(model.conditional_probability_alive(0, 0.0, 39.0)[0]) < 1
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from nextbest.models.clv.base import (
    LikelihoodModel,
    ModelInputError,
    check_rfm,
    check_time,
    collapse,
    split_columns,
)

__all__ = ["ParetoNBD", "pareto_nbd_log_likelihood"]

_COLUMNS = ("frequency", "recency", "T")
_STEP = 1e-5


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """``log(1 - exp(d))`` for ``d <= 0``, accurate at both ends."""
    d = np.minimum(d, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(d > -np.log(2.0), np.log(-np.expm1(d)), np.log1p(-np.exp(d)))


def _log_F(
    y: np.ndarray, n: np.ndarray, k: np.ndarray | float, big: float, small: float
) -> np.ndarray:
    w = (big - small) / (big + y)
    one_minus_w = (small + y) / (big + y)
    return np.asarray(
        -n * np.log(big + y)
        - k * np.log(one_minus_w)
        + np.log(hyp2f1(k, 1.0, n + 1.0, w / (w - 1.0)))
    )


def _parts(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The constant term, the 'alive through T' term and the 'died in (t_x, T]' term (logs)."""
    r, alpha, s, beta = (float(v) for v in params)
    n = r + s + x
    if alpha >= beta:
        k: np.ndarray | float = s + 1.0
        big, small = alpha, beta
    else:
        k, big, small = r + x, beta, alpha
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    at_last = _log_F(t_x, n, k, big, small)
    at_end = _log_F(T, n, k, big, small)
    died = np.log(s) - np.log(n) + at_last + _log1mexp(at_end - at_last)
    return np.asarray(head), np.asarray(alive), np.asarray(died)


def _loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    head, alive, died = _parts(params, x, t_x, T)
    return np.asarray(head + np.logaddexp(alive, died))


def _loglik_grad(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    ll = _loglik(params, x, t_x, T)
    grad = np.empty((len(x), len(params)))
    for i in range(len(params)):
        step = _STEP * params[i]
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        grad[:, i] = (_loglik(up, x, t_x, T) - _loglik(down, x, t_x, T)) / (2.0 * step)
    return ll, grad


def pareto_nbd_log_likelihood(params: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood at ``params = (r, alpha, s, beta)``."""
    x, t_x, age = check_rfm(frequency, recency, T)
    return _loglik(np.asarray(params, dtype=float), x, t_x, age)


def _rate_times_lifetime(s: float, base: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``base/(s-1) · [1 − (base/(base+t))^(s−1)]``, continuous through s = 1."""
    log_ratio = np.log1p(t / base)
    if abs(s - 1.0) < 1e-10:
        return np.asarray(base * log_ratio)
    return np.asarray(base * -np.expm1(-(s - 1.0) * log_ratio) / (s - 1.0))


class ParetoNBD(LikelihoodModel):
    """The Pareto/NBD purchase-count model, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer_coef
        L2 penalty on the parameters added to the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (purchase rate: Gamma shape and rate) and ``s``, ``beta``
        (dropout rate: Gamma shape and rate).
    log_likelihood_ : float
        Total log-likelihood of the training customers at ``params_``.
    """

    param_names = ("r", "alpha", "s", "beta")

    def fit(self, frequency: Any, recency: Any = None, T: Any = None) -> ParetoNBD:
        """Fit on arrays, or on one frame with ``frequency``, ``recency``, ``T`` columns."""
        x, t_x, age = check_rfm(*split_columns(frequency, [recency, T], _COLUMNS))
        if len(x) == 0:
            raise ModelInputError("cannot fit Pareto/NBD on zero customers.")
        (ux, ut, uT), weights = collapse(x, t_x, age)
        scale = max(float(age.mean()), 1e-3)
        start = np.array([1.0, scale / max(float(x.mean()), 0.1), 1.0, scale])
        self._optimise(lambda p: _loglik_grad(p, ux, ut, uT), weights, start)
        return self

    def conditional_probability_alive(
        self, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """P(still active | frequency, recency, T)."""
        params = self._fitted()
        x, t_x, age = check_rfm(*split_columns(frequency, [recency, T], _COLUMNS))
        _, alive, died = _parts(params, x, t_x, age)
        return np.asarray(expit(alive - died))

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` (``t`` broadcasts against customers)."""
        r, alpha, s, beta = self._fitted()
        horizon = check_time(t)
        x, t_x, age = check_rfm(*split_columns(frequency, [recency, T], _COLUMNS))
        alive = self.conditional_probability_alive(x, t_x, age)
        rate = (r + x) / (alpha + age)
        return np.asarray(alive * rate * _rate_times_lifetime(s, beta + age, horizon))

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` for a customer who just made a first one."""
        r, alpha, s, beta = self._fitted()
        horizon = np.atleast_1d(check_time(t))
        return np.asarray(r / alpha * _rate_times_lifetime(s, np.full(1, beta), horizon))
