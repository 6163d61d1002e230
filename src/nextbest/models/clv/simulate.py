"""Customers drawn from the lifetime-value models, for tests and what-if studies.

Each function draws one latent customer per entry of ``T`` (the time each has been
observed since the first purchase) and returns what a summary of their transactions
would show.

>>> import numpy as np
>>> data = simulate_bgnbd(dict(r=0.25, alpha=4.0, a=0.8, b=2.4), T=np.full(5, 39.0), seed=0)
>>> list(data.columns)
['frequency', 'recency', 'T']
>>> bool((data.recency <= data["T"]).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["simulate_bgnbd", "simulate_gamma_gamma", "simulate_pareto_nbd"]


def _last_purchase(rng: np.random.Generator, x: np.ndarray, n: np.ndarray, span: np.ndarray):
    """Time of the x-th of n uniform arrivals on [0, span] (0 where x is 0)."""
    repeat = x > 0
    when = np.zeros(len(x))
    when[repeat] = span[repeat] * rng.beta(x[repeat], n[repeat] - x[repeat] + 1)
    return when


def simulate_bgnbd(params: dict[str, float], T: Any, seed: int | None = None) -> pd.DataFrame:
    """Frequency, recency and T of customers following BG/NBD with ``params``."""
    rng = np.random.default_rng(seed)
    age = np.asarray(T, dtype=float)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], len(age))
    p = np.clip(rng.beta(params["a"], params["b"], len(age)), 1e-12, 1.0)
    arrivals = rng.poisson(lam * age)
    # the customer drops out right after their K-th repeat purchase
    kept = np.minimum(rng.geometric(p), arrivals).astype(float)
    recency = _last_purchase(rng, kept, arrivals.astype(float), age)
    return pd.DataFrame({"frequency": kept, "recency": recency, "T": age})


def simulate_pareto_nbd(params: dict[str, float], T: Any, seed: int | None = None) -> pd.DataFrame:
    """Frequency, recency and T of customers following Pareto/NBD with ``params``."""
    rng = np.random.default_rng(seed)
    age = np.asarray(T, dtype=float)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], len(age))
    mu = rng.gamma(params["s"], 1.0 / params["beta"], len(age))
    active = np.minimum(rng.exponential(1.0 / mu), age)
    x = rng.poisson(lam * active).astype(float)
    recency = _last_purchase(rng, x, x, active)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": age})


def simulate_gamma_gamma(
    params: dict[str, float], frequency: Any, seed: int | None = None
) -> pd.DataFrame:
    """Mean spend per repeat purchase of customers with ``frequency`` purchases each.

    Each customer's mean spend is ``p / nu`` with ``nu ~ Gamma(q, rate v)``; a
    transaction's value is ``Gamma(p, rate nu)``.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(params["q"], 1.0 / params["v"], len(x))
    total = rng.gamma(params["p"] * x, 1.0 / nu)
    return pd.DataFrame({"frequency": x, "monetary_value": total / x})
