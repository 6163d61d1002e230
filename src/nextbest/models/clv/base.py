"""What the lifetime-value models share: input checks, errors, the optimiser driver.

Each model maximises its log-likelihood over the logarithms of its (positive)
parameters with L-BFGS-B, so the search is unconstrained and scale-free. Customers
with identical inputs are collapsed into one weighted row first: the likelihood is a
sum over customers, so this changes nothing but the cost.

>>> import numpy as np
>>> x, t_x, T = check_rfm([0, 2], [0.0, 3.5], [4.0, 4.0])
>>> x.tolist(), t_x.tolist(), T.tolist()
([0.0, 2.0], [0.0, 3.5], [4.0, 4.0])
>>> try:
...     check_rfm([1], [5.0], [4.0])
... except ModelInputError as err:
...     print(err.field, "|", err.message)
recency | recency is greater than T for 1 customer(s) (first at position 0: recency 5.0 > T 4.0).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from threadpoolctl import threadpool_limits

from nextbest.errors import NextBestError

__all__ = [
    "ArrayLike",
    "LikelihoodModel",
    "ModelInputError",
    "NotFittedError",
    "check_positive",
    "check_rfm",
    "check_time",
    "collapse",
    "fit_log_params",
    "split_columns",
    "to_array",
]

log = logging.getLogger(__name__)

ArrayLike = float | Sequence[float] | np.ndarray | pd.Series


class ModelInputError(NextBestError, ValueError):
    """Inputs a model cannot use: negative counts, recency beyond T, a missing column."""


class NotFittedError(NextBestError, _SklearnNotFittedError):
    """A model was asked for a prediction before :meth:`fit` was called."""

    def __init__(self, model: object) -> None:
        name = type(model).__name__
        super().__init__(
            f"this {name} is not fitted yet.", hint=f"Call {name}(...).fit(...) before using it."
        )


def to_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D float array of finite numbers (a scalar becomes length 1)."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as err:
        raise ModelInputError(f"{name} must be numeric ({err})", field=name) from None
    if arr.ndim != 1:
        raise ModelInputError(f"{name} must be one-dimensional, got shape {arr.shape}", field=name)
    bad = ~np.isfinite(arr)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ModelInputError(
            f"{name} has {int(bad.sum())} missing or infinite value(s) (first at position {at}).",
            field=name,
            hint="Fill or drop those customers first.",
        )
    return arr


def _first_bad(name: str, bad: np.ndarray, problem: str, values: np.ndarray) -> ModelInputError:
    at = int(np.flatnonzero(bad)[0])
    return ModelInputError(
        f"{name} {problem} for {int(bad.sum())} customer(s) "
        f"(first at position {at}: {name} {float(values[at])!r}).",
        field=name,
    )


def check_positive(values: Any, name: str, *, allow_zero: bool = False) -> np.ndarray:
    """``values`` as a float array, refusing negative (or, unless allowed, zero) entries."""
    arr = to_array(values, name)
    bad = arr < 0 if allow_zero else arr <= 0
    if bad.any():
        raise _first_bad(name, bad, "is negative" if allow_zero else "is not positive", arr)
    return arr


def check_rfm(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``(frequency, recency, T)`` float arrays of one length.

    ``frequency`` is the number of repeat purchases (a whole number >= 0), ``recency``
    the time from the first to the last purchase and ``T`` the time from the first
    purchase to the end of the observation period, all in the same unit.
    """
    x = check_positive(frequency, "frequency", allow_zero=True)
    t_x = check_positive(recency, "recency", allow_zero=True)
    age = check_positive(T, "T", allow_zero=True)
    if not len(x) == len(t_x) == len(age):
        raise ModelInputError(
            f"frequency, recency and T must have the same length "
            f"(got {len(x)}, {len(t_x)} and {len(age)})."
        )
    bad = x != np.round(x)
    if bad.any():
        raise _first_bad("frequency", bad, "is not a whole number", x)
    bad = t_x > age * (1 + 1e-12)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ModelInputError(
            f"recency is greater than T for {int(bad.sum())} customer(s) "
            f"(first at position {at}: recency {float(t_x[at])!r} > T {float(age[at])!r}).",
            field="recency",
            hint="Recency is the time from first to last purchase, "
            "so it cannot exceed the customer's age T.",
        )
    bad = (x == 0) & (t_x > 0)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ModelInputError(
            f"recency is positive while frequency is 0 for {int(bad.sum())} customer(s) "
            f"(first at position {at}: recency {float(t_x[at])!r}).",
            field="recency",
            hint="A customer without repeat purchases has recency 0.",
        )
    return x, np.minimum(t_x, age), age


def split_columns(first: Any, rest: Sequence[Any], names: Sequence[str]) -> list[Any]:
    """The model inputs, given either as separate arrays or as one frame with named columns."""
    if isinstance(first, pd.DataFrame) and all(r is None for r in rest):
        missing = [n for n in names if n not in first.columns]
        if missing:
            raise ModelInputError(
                f"the frame has no column(s) {', '.join(map(repr, missing))} "
                f"(it has {', '.join(map(str, first.columns))}).",
                field=missing[0],
                hint="Build it with nextbest.models.clv.rfm_summary or rename the columns.",
            )
        return [first[n].to_numpy() for n in names]
    if any(r is None for r in rest):
        raise ModelInputError(
            f"pass {', '.join(names)} as arrays, or one DataFrame with those columns."
        )
    return [first, *rest]


def collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of ``columns`` (sorted) and how many times each occurs.

    >>> rows, counts = collapse(np.array([2.0, 1.0, 2.0]), np.array([5.0, 3.0, 5.0]))
    >>> [r.tolist() for r in rows], counts.tolist()
    ([[1.0, 2.0], [3.0, 5.0]], [1.0, 2.0])
    """
    stacked = np.column_stack(columns)
    if len(stacked) == 0:
        return list(columns), np.zeros(0)
    ordered = stacked[np.lexsort(stacked.T[::-1])]
    starts = np.flatnonzero(np.r_[True, np.any(ordered[1:] != ordered[:-1], axis=1)])
    counts = np.diff(np.r_[starts, len(ordered)]).astype(float)
    return [ordered[starts, i] for i in range(ordered.shape[1])], counts


def fit_log_params(
    loglik_and_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    weights: np.ndarray,
    start: np.ndarray,
    *,
    penalizer_coef: float = 0.0,
    maxiter: int = 2000,
    name: str = "model",
) -> tuple[np.ndarray, float, Any]:
    """Maximise a weighted log-likelihood over log-parameters.

    ``loglik_and_grad(params)`` returns the per-row log-likelihood (n,) and its gradient
    with respect to the natural parameters (n, k). The objective is the weighted mean
    negative log-likelihood plus ``penalizer_coef * sum(params**2)``.

    Returns the parameters, the total (weighted, unpenalised) log-likelihood and the
    scipy result.
    """
    total = float(weights.sum())

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, grad = loglik_and_grad(params)
        value = -float(weights @ ll) / total + penalizer_coef * float(params @ params)
        g = -(weights @ grad) / total + 2.0 * penalizer_coef * params
        return value, g * params  # chain rule for d/d(log param)

    # a handful of parameters: threaded BLAS inside L-BFGS-B only adds contention
    # (tens of times slower on a busy 2-core machine)
    with (
        threadpool_limits(1, user_api="blas"),
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
    ):
        result = minimize(
            objective,
            np.log(start),
            jac=True,
            method="L-BFGS-B",
            # parameters between 1e-11 and 1e11: degenerate data cannot push them to 0 or inf
            bounds=[(-25.0, 25.0)] * len(start),
            options={"maxiter": maxiter, "ftol": 1e-13, "gtol": 1e-9},
        )
    if not np.isfinite(result.fun):
        raise ModelInputError(
            f"the {name} log-likelihood is not finite at the optimum.",
            hint="Check the inputs are in one time unit and not degenerate.",
        )
    if not result.success:
        log.warning("%s fit did not fully converge: %s", name, result.message)
    params = np.exp(result.x)
    ll, _ = loglik_and_grad(params)
    return params, float(weights @ ll), result


class LikelihoodModel(BaseEstimator):
    """Base of the lifetime-value models: fitted parameters live in ``params_``.

    Subclasses name their parameters in ``param_names``; after :meth:`fit` the model
    holds ``params_`` (a dict), ``log_likelihood_`` (the total at the optimum),
    ``n_iter_`` and ``converged_``. :meth:`from_params` rebuilds a fitted model from a
    stored ``params_`` dict (plain JSON), so models are persisted without pickle.
    """

    param_names: tuple[str, ...] = ()

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    @classmethod
    def from_params(cls, params: dict[str, float], **hyper: Any) -> Any:
        """A fitted model with the given parameters (as stored from ``params_``)."""
        missing = [p for p in cls.param_names if p not in params]
        if missing:
            raise ModelInputError(
                f"{cls.__name__} needs the parameter(s) {', '.join(missing)}.",
                field=missing[0],
            )
        model = cls(**hyper)
        values = np.array([float(params[p]) for p in cls.param_names])
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ModelInputError(f"{cls.__name__} parameters must be positive numbers.")
        model._set_params(values, float("nan"), 0, True)
        return model

    def _set_params(self, values: np.ndarray, ll: float, n_iter: int, converged: bool) -> None:
        self.params_ = {p: float(v) for p, v in zip(self.param_names, values, strict=True)}
        self.log_likelihood_ = ll
        self.n_iter_ = n_iter
        self.converged_ = converged

    def _fitted(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise NotFittedError(self)
        return np.array([self.params_[p] for p in self.param_names])

    def _check_penalizer(self) -> float:
        coef = float(self.penalizer_coef)
        if not coef >= 0:
            raise ModelInputError(
                f"penalizer_coef must be >= 0, got {self.penalizer_coef!r}.",
                field="penalizer_coef",
            )
        return coef

    def _optimise(
        self,
        loglik_and_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        weights: np.ndarray,
        start: np.ndarray,
    ) -> None:
        params, ll, result = fit_log_params(
            loglik_and_grad,
            weights,
            start,
            penalizer_coef=self._check_penalizer(),
            name=type(self).__name__,
        )
        self._set_params(params, ll, int(result.nit), bool(result.success))


def check_time(t: Any) -> np.ndarray:
    """A prediction horizon: a non-negative number or array (broadcast against customers)."""
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ModelInputError(f"t must be a non-negative time, got {t!r}.", field="t")
    return arr
