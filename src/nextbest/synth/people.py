"""Customers with hidden tastes, and their lifecycle: activity, churn and reactivation.

Each customer gets a taste over the categories (a few favourites), a price
sensitivity, an engagement level and an activity rate; these are the hidden truth
the observed tables follow. The lifecycle gives each customer up to two active
intervals inside the period: from signup (or the period start) to churn, and from
reactivation to the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.synth.arrays import _inverse_cdf
from nextbest.synth.clock import DAY, SEC, _Clock
from nextbest.synth.columns import _pick, _ts, arrow_schema
from nextbest.synth.ids import _customer_ids
from nextbest.synth.params import _BASE_RATE, _GROWTH, _PRE_EXISTING, _PRICE_BINS, _REACTIVATE
from nextbest.synth.vocab import (
    _ACQUISITION,
    _CATEGORY_SPECS,
    _COUNTRIES,
    _COUNTRY_P,
    _DOMAINS,
    _FIRST_NAMES,
    _LAST_NAMES,
    _TIERS,
)


@dataclass
class _People:
    signup: np.ndarray
    taste: np.ndarray  # (n, n_cat)
    taste_cum: np.ndarray  # flattened row-offset cumulative taste for inverse CDF
    price_sensitivity: np.ndarray
    price_bin: np.ndarray
    engagement: np.ndarray
    rate: np.ndarray
    country: np.ndarray
    table: pa.Table

    def draw_category(self, cust: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Categories drawn from the taste of customers ``cust`` by inverse CDF of ``u``."""
        n_cat = self.taste.shape[1]
        first = cust * n_cat
        pos = _inverse_cdf(self.taste_cum, cust, u, first + (n_cat - 1)) - first
        return pos.astype(np.int8)


def _make_people(rng: np.random.Generator, n: int, clock: _Clock) -> _People:
    n_cat = len(_CATEGORY_SPECS)
    pre = rng.random(n) < _PRE_EXISTING
    v = rng.random(n)
    u = (-1 + np.sqrt(1 + 2 * _GROWTH * v * (1 + _GROWTH / 2))) / _GROWTH
    joined = clock.start + (u * (clock.end - clock.start - SEC)).astype(np.int64)
    before = clock.start - SEC - (rng.random(n) * 730 * DAY).astype(np.int64)
    signup = np.sort(np.where(pre, before, joined))

    k = rng.choice(np.array([1, 2, 3]), size=n, p=[0.35, 0.4, 0.25])
    keys = np.log([c.weight for c in _CATEGORY_SPECS]) + rng.gumbel(size=(n, n_cat))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    alpha = np.where(rank < k[:, None], 2.0, 0.06)
    taste = rng.gamma(alpha)
    taste /= taste.sum(axis=1, keepdims=True)
    cum = np.cumsum(taste, axis=1)
    cum[:, -1] = 1.0
    taste_cum = (cum + np.arange(n)[:, None]).ravel()

    ps = rng.beta(2.0, 2.0, n)
    engagement = rng.beta(2.0, 3.0, n)
    rate = np.exp(np.log(_BASE_RATE) + 1.2 * (engagement - 0.4) + 0.7 * rng.standard_normal(n))
    country = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)
    first = rng.integers(0, len(_FIRST_NAMES), n)
    last = rng.integers(0, len(_LAST_NAMES), n)
    domain = rng.choice(len(_DOMAINS), size=n, p=[0.6, 0.25, 0.15])
    age_days = ((18 + 62 * rng.beta(2.0, 3.0, n)) * 365.25).astype(np.int64)
    birth = clock.start_day.astype(np.int64) - age_days
    attr_idx = rng.integers(0, len(_ACQUISITION) * len(_TIERS), n)
    attr_idx = np.where(rng.random(n) < 0.12, -1, attr_idx)
    attr_vocab = [f'{{"acquisition": "{a}", "tier": "{t}"}}' for a in _ACQUISITION for t in _TIERS]

    email = pc.binary_join_element_wise(
        _pick([f.lower() for f in _FIRST_NAMES], first),
        ".",
        _pick(_LAST_NAMES, last),
        pc.cast(pa.array(np.arange(1, n + 1)), pa.string()),
        "@",
        _pick(_DOMAINS, domain),
        "",
    )
    table = pa.Table.from_arrays(
        [
            _customer_ids(np.arange(n), n),
            email,
            _pick(_FIRST_NAMES, first),
            pa.array(birth.astype(np.int32), type=pa.date32()),
            _pick(_COUNTRIES, country),
            _ts(signup),
            _pick(attr_vocab, attr_idx),
        ],
        schema=arrow_schema("customers"),
    )
    price_bin = np.minimum((ps * _PRICE_BINS).astype(np.int64), _PRICE_BINS - 1)
    return _People(signup, taste, taste_cum, ps, price_bin, engagement, rate, country, table)


@dataclass
class _Life:
    """Active intervals per customer: ``[a1, b1)`` until churn, ``[a2, b2)`` after reactivation.

    The second interval is empty (``a2 == b2``, the period end) without reactivation.
    """

    a1: np.ndarray
    b1: np.ndarray
    a2: np.ndarray
    b2: np.ndarray
    churned: np.ndarray
    churn_at: np.ndarray
    reactivated: np.ndarray
    reactivated_at: np.ndarray

    def active(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        return ((self.a1[cust] <= t) & (t < self.b1[cust])) | (
            (self.a2[cust] <= t) & (t < self.b2[cust])
        )

    def interval_end(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.where(t < self.b1[cust], self.b1[cust], self.b2[cust])


def _make_life(rng: np.random.Generator, people: _People, clock: _Clock) -> _Life:
    n = len(people.signup)
    a1 = np.maximum(people.signup, clock.start)
    hazard = 0.0018 * np.exp(2.5 * (0.4 - people.engagement))  # per day
    churn_at = a1 + (rng.exponential(1.0, n) / hazard * DAY).astype(np.int64)
    churned = churn_at < clock.end
    gap = ((30 + rng.exponential(60.0, n)) * DAY).astype(np.int64)
    react_at = churn_at + gap
    reactivated = churned & (rng.random(n) < _REACTIVATE) & (react_at < clock.end)
    b1 = np.where(churned, churn_at, clock.end)
    a2 = np.where(reactivated, react_at, clock.end)
    return _Life(a1, b1, a2, np.full(n, clock.end), churned, churn_at, reactivated, react_at)
