"""BG/NBD x Gamma-Gamma as one lifetime-value model over a horizon in days.

:class:`BGNBDGammaGamma` fits :class:`~nextbest.models.clv.BGNBD` (how many purchase
days a customer will have, and whether they are still active) and
:class:`~nextbest.models.clv.GammaGamma` (what a purchase day is worth) on one RFM
summary in days (:func:`~nextbest.models.clv.rfm_summary` with ``unit="days"``), and
forecasts per customer over the next ``horizon_days``:

* ``p_alive``: the probability the customer is still active;
* ``expected_purchases``: expected purchase days in the horizon;
* ``spend_per_purchase``: expected value of one of those purchase days;
* ``expected_value``: their product, the expected spend in the horizon;
* ``clv``: that spend discounted at ``discount_rate`` a year, the horizon cut into
  periods of at most a month, each discounted from its end.

:meth:`~BGNBDGammaGamma.predict` gives ``expected_value``, the quantity the ``clv``
training target measures (spend in the horizon). The fitted parameters are plain
numbers in ``params_``; :meth:`~BGNBDGammaGamma.from_params` rebuilds the model from
them, so it is saved as JSON, without pickle.

>>> import numpy as np, pandas as pd
>>> model = BGNBDGammaGamma.from_params(
...     {"bgnbd": dict(r=0.243, alpha=30.9, a=0.793, b=2.426),
...      "gamma_gamma": dict(p=6.25, q=3.74, v=15.44)}, horizon_days=90)
>>> summary = pd.DataFrame({"frequency": [0, 4], "recency": [0.0, 200.0],
...                         "T": [270.0, 270.0], "monetary_value": [0.0, 40.0]})
>>> model.predict_frame(summary).round(3)  # doctest: +NORMALIZE_WHITESPACE
   p_alive  expected_purchases  spend_per_purchase  expected_value     clv
0     1.00               0.070              35.219           2.452   2.415
1     0.69               0.809              39.528          31.976  31.488
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from nextbest.models.clv.base import ModelInputError, NotFittedError
from nextbest.models.clv.bgnbd import BGNBD
from nextbest.models.clv.gamma_gamma import DAYS_PER_MONTH, GammaGamma

__all__ = ["OUTPUTS", "BGNBDGammaGamma"]

OUTPUTS = ("p_alive", "expected_purchases", "spend_per_purchase", "expected_value", "clv")
_COLUMNS = ("frequency", "recency", "T", "monetary_value")
DAYS_PER_YEAR = 365.25


def _summary(summary: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(summary, pd.DataFrame):
        raise ModelInputError(
            f"expected an RFM summary frame, got a {type(summary).__name__}.",
            field="summary",
            hint="Build it with nextbest.models.clv.rfm_summary(transactions, end, unit='days').",
        )
    missing = [c for c in _COLUMNS if c not in summary.columns]
    if missing:
        raise ModelInputError(
            f"the summary has no column(s) {', '.join(map(repr, missing))}.",
            field=missing[0],
            hint="Build it with nextbest.models.clv.rfm_summary(transactions, end, unit='days').",
        )
    x, t_x, age = (summary[c].to_numpy(dtype=float) for c in _COLUMNS[:3])
    # refunds can make a day's value negative: spend models take it as nothing spent
    m = np.clip(summary["monetary_value"].to_numpy(dtype=float), 0.0, None)
    return x, t_x, age, m


class BGNBDGammaGamma(RegressorMixin, BaseEstimator):
    """Expected purchases, spend and discounted value per customer over a horizon.

    Parameters
    ----------
    horizon_days
        Days ahead the forecast covers (the training target's horizon).
    discount_rate
        Annual discount rate for ``clv`` (0.1: a value a year away is worth 1/1.1).
    penalizer_coef
        L2 penalty of both fits (see :class:`~nextbest.models.clv.BGNBD`).

    Attributes
    ----------
    params_ : dict
        ``{"bgnbd": {r, alpha, a, b}, "gamma_gamma": {p, q, v}}``, in days.
    bgnbd_, gamma_gamma_
        The two fitted models.
    """

    def __init__(
        self, horizon_days: int = 30, discount_rate: float = 0.1, penalizer_coef: float = 0.0
    ) -> None:
        self.horizon_days = horizon_days
        self.discount_rate = discount_rate
        self.penalizer_coef = penalizer_coef

    def _check(self) -> None:
        if not (isinstance(self.horizon_days, int | np.integer) and self.horizon_days >= 1):
            raise ModelInputError(
                f"horizon_days must be a whole number of days >= 1, got {self.horizon_days!r}.",
                field="horizon_days",
            )
        _rate(self.discount_rate)

    def fit(self, summary: pd.DataFrame, y: Any = None) -> BGNBDGammaGamma:
        """Fit both models on an RFM summary in days (``y`` is ignored).

        Gamma-Gamma learns from the repeat customers with a positive mean spend;
        it needs at least two, and a fitted ``q`` above 1 (a finite mean spend).
        """
        self._check()
        x, t_x, age, m = _summary(summary)
        bgnbd = BGNBD(penalizer_coef=self.penalizer_coef).fit(x, t_x, age)
        repeat = (x > 0) & (m > 0)
        if int(repeat.sum()) < 2:
            raise ModelInputError(
                f"only {int(repeat.sum())} customer(s) bought again with a positive spend; "
                "Gamma-Gamma needs at least two.",
                field="monetary_value",
                hint="Fit on a longer order history.",
            )
        spend = GammaGamma(penalizer_coef=self.penalizer_coef).fit(x[repeat], m[repeat])
        if spend.params_["q"] <= 1:
            raise ModelInputError(
                f"the fitted Gamma-Gamma q ({spend.params_['q']:.3g}) is not above 1, so the "
                "mean spend per purchase is unbounded.",
                field="monetary_value",
                hint="Check for extreme order values, or fit on more customers.",
            )
        self.bgnbd_, self.gamma_gamma_ = bgnbd, spend
        self.params_ = {"bgnbd": dict(bgnbd.params_), "gamma_gamma": dict(spend.params_)}
        return self

    @classmethod
    def from_params(cls, params: dict[str, Any], **hyper: Any) -> BGNBDGammaGamma:
        """A fitted model from stored ``params_`` (plain JSON) and hyper-parameters."""
        if not isinstance(params, dict) or not {"bgnbd", "gamma_gamma"} <= set(params):
            raise ModelInputError(
                "BGNBDGammaGamma parameters need 'bgnbd' and 'gamma_gamma' entries.",
                field="params",
            )
        model = cls(**hyper)
        model.bgnbd_ = BGNBD.from_params(dict(params["bgnbd"]))
        model.gamma_gamma_ = GammaGamma.from_params(dict(params["gamma_gamma"]))
        model.params_ = {
            "bgnbd": dict(model.bgnbd_.params_),
            "gamma_gamma": dict(model.gamma_gamma_.params_),
        }
        return model

    def predict_frame(
        self,
        summary: pd.DataFrame,
        *,
        horizon_days: int | None = None,
        discount_rate: float | None = None,
    ) -> pd.DataFrame:
        """The forecast per customer (index of ``summary``): the columns of :data:`OUTPUTS`.

        ``horizon_days`` and ``discount_rate`` override the model's own for this call.
        """
        if not hasattr(self, "params_"):
            raise NotFittedError(self)
        horizon = self.horizon_days if horizon_days is None else horizon_days
        rate = _rate(self.discount_rate if discount_rate is None else discount_rate)
        if not (isinstance(horizon, int | np.integer) and horizon >= 1):
            raise ModelInputError(
                f"horizon_days must be a whole number of days >= 1, got {horizon!r}.",
                field="horizon_days",
            )
        x, t_x, age, m = _summary(summary)
        bg, gg = self.bgnbd_, self.gamma_gamma_
        alive = bg.conditional_probability_alive(x, t_x, age)
        purchases = bg.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, age)
        spend = gg.conditional_expected_average_profit(x, m)
        periods = max(1, math.ceil(horizon / DAYS_PER_MONTH - 1e-9))
        length = horizon / periods
        per_period = (1.0 + rate) ** (length / DAYS_PER_YEAR) - 1.0
        clv = gg.customer_lifetime_value(
            bg, x, t_x, age, m, time=periods, discount_rate=per_period, period_length=length
        )
        return pd.DataFrame(
            {
                "p_alive": alive,
                "expected_purchases": purchases,
                "spend_per_purchase": spend,
                "expected_value": purchases * spend,
                "clv": clv,
            },
            index=summary.index,
        )

    def predict(self, summary: pd.DataFrame) -> np.ndarray:
        """Expected spend per customer in the next ``horizon_days`` (undiscounted)."""
        return self.predict_frame(summary)["expected_value"].to_numpy()


def _rate(value: Any) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = float("nan")
    if not (math.isfinite(rate) and 0 <= rate < 10):
        raise ModelInputError(
            f"discount_rate must be an annual rate from 0 up to 10 (1000%), got {value!r}.",
            field="discount_rate",
            hint="Use e.g. 0.1 for 10% a year.",
        )
    return rate
