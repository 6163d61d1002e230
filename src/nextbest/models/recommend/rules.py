"""Business rules applied after ranking: what may be offered, boosts, diversity, restocks.

:func:`compile_rules` turns the ``recommend.rules`` settings and the catalogue into
one array per rule over the items, so applying them to a block of customers
costs a few vector operations (the batch run and a single online request use the
same arrays):

* ``allowed``: in stock (when ``in_stock_only``) and neither the product nor its
  category blocked;
* ``boost`` and ``campaign``: each campaign's factor multiplies the scores of its
  products and categories (a negative score is divided by it, so a boost never
  lowers an item);
* ``interval_days``: for consumables, the typical days between two purchases of
  the product by the same customer (the median gap when the product has at least
  three gaps, else its category's, else ``replenish_days``; ``nan`` means it never
  comes back). A purchased consumable is offered again once that many days have
  passed since the customer last bought it.

:func:`best_first` takes each customer's best ``k`` by score with at most
``max_per_category`` from one category.

>>> import numpy as np, pandas as pd
>>> from nextbest.config import RecommendRules
>>> rules = RecommendRules(blocked_categories=["tobacco"], consumable_categories=["food"],
...                        boosts=[{"campaign": "summer", "products": ["p2"], "factor": 2.0}])
>>> items = np.array(["p1", "p2", "p3"])
>>> category = np.array(["food", "home", "tobacco"], dtype=object)
>>> buys = pd.DataFrame({"user": [0, 0, 0, 0], "item": [0, 0, 0, 0],
...                      "time": [0.0, 7.0, 14.0, 21.0]})  # days
>>> compiled = compile_rules(rules, items, category, np.array([True, True, True]),
...                          buys.assign(time=buys.time * 86400))
>>> compiled.allowed.tolist(), compiled.boost.tolist(), compiled.interval_days.tolist()
([True, True, False], [1.0, 2.0, 1.0], [7.0, nan, nan])
>>> key = np.array([[4.0, 3.0, 3.0, 1.0]])  # items 1 and 2 tie: the tie order decides
>>> best_first(key, np.array([0, 2, 1, 3]), np.array([0, 0, 0, 1]), cap=2, k=3).tolist()
[[0, 2, 3]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from nextbest.config import RecommendRules

__all__ = ["CompiledRules", "apply_boost", "best_first", "compile_rules"]

_DAY = 86_400.0
MIN_GAPS = 3
"""Gaps between repeat purchases a product (or category) needs for its own interval."""


@dataclass(frozen=True)
class CompiledRules:
    """The rules as arrays over the items (see the module docstring)."""

    allowed: np.ndarray  # bool
    boost: np.ndarray  # float
    campaign: np.ndarray  # str ("" when not boosted)
    consumable: np.ndarray  # bool
    interval_days: np.ndarray  # float, nan: never due


def _gaps(purchases: pd.DataFrame) -> pd.DataFrame:
    """``item, gap`` (days) between consecutive purchase days of the same user and item."""
    days = purchases.assign(day=np.floor(purchases["time"].to_numpy() / _DAY))
    days = days.drop_duplicates(["user", "item", "day"]).sort_values(["user", "item", "day"])
    same = (days["user"].to_numpy()[1:] == days["user"].to_numpy()[:-1]) & (
        days["item"].to_numpy()[1:] == days["item"].to_numpy()[:-1]
    )
    gap = np.diff(days["day"].to_numpy())
    return pd.DataFrame({"item": days["item"].to_numpy()[1:][same], "gap": gap[same]})


def replenish_intervals(
    purchases: pd.DataFrame,
    consumable: np.ndarray,
    category: np.ndarray,
    default_days: float | None = None,
) -> np.ndarray:
    """Per item the typical days between repeat purchases (``nan``: not a consumable)."""
    n = len(consumable)
    out = np.full(n, np.nan)
    if not consumable.any():
        return out
    buys = purchases[consumable[purchases["item"].to_numpy()]] if len(purchases) else purchases
    gaps = _gaps(buys) if len(buys) else pd.DataFrame({"item": [], "gap": []})
    if len(gaps):
        gaps["category"] = category[gaps["item"].to_numpy(dtype=np.int64)]
        own = gaps.groupby("item")["gap"].agg(["median", "size"])
        own = own[own["size"] >= MIN_GAPS]
        by_cat = gaps.dropna(subset=["category"]).groupby("category")["gap"].agg(["median", "size"])
        by_cat = by_cat[by_cat["size"] >= MIN_GAPS]
        cat_median = pd.Series(category).map(by_cat["median"]).to_numpy(dtype=np.float64)
        out = np.where(consumable, cat_median, np.nan)
        out[own.index.to_numpy(dtype=np.int64)] = own["median"].to_numpy(dtype=np.float64)
    if default_days is not None:
        out = np.where(consumable & np.isnan(out), float(default_days), out)
    return np.where(consumable, out, np.nan)


def compile_rules(
    rules: RecommendRules,
    items: np.ndarray,
    category: np.ndarray,
    in_stock: np.ndarray,
    purchases: pd.DataFrame,
) -> CompiledRules:
    """Arrays over ``items`` for ``rules``.

    ``category`` and ``in_stock`` are per item (``None``/missing allowed);
    ``purchases`` has one row per order line: ``user``, ``item`` (item number) and
    ``time`` (Unix seconds), for the replenishment intervals.
    """
    ids = pd.Series(np.asarray(items, dtype=object))
    cats = pd.Series(np.asarray(category, dtype=object))
    stock = pd.Series(in_stock).astype("boolean").fillna(True).to_numpy(dtype=bool)
    allowed = ~ids.isin(rules.blocked_products).to_numpy() & ~cats.isin(
        rules.blocked_categories
    ).to_numpy(dtype=bool)
    if rules.in_stock_only:
        allowed &= stock
    boost = np.ones(len(ids))
    campaign = np.full(len(ids), "", dtype=object)
    for b in rules.boosts:
        hit = (ids.isin(b.products) | cats.isin(b.categories)).to_numpy(dtype=bool)
        boost[hit] *= b.factor
        campaign[hit] = np.where(campaign[hit] == "", b.campaign, campaign[hit] + ", " + b.campaign)
    consumable = (
        ids.isin(rules.consumable_products) | cats.isin(rules.consumable_categories)
    ).to_numpy(dtype=bool)
    interval = replenish_intervals(
        purchases, consumable, cats.to_numpy(dtype=object), rules.replenish_days
    )
    return CompiledRules(allowed, boost, campaign.astype(str), consumable, interval)


def apply_boost(scores: np.ndarray, boost: np.ndarray) -> np.ndarray:
    """Scores times the per-item boost (divided by it where a score is negative)."""
    return np.where(scores >= 0, scores * boost, scores / boost)


def best_first(
    key: np.ndarray,
    tie_order: np.ndarray,
    category: np.ndarray,
    cap: int | None,
    k: int,
    exempt: np.ndarray | None = None,
) -> np.ndarray:
    """Per row of ``key`` the ``k`` best items, at most ``cap`` from one category.

    Items go by ``key`` (highest first; ``-inf`` never), ties in the order of the
    item numbers ``tie_order``. ``category`` is a code per item (below 0: no
    category, never capped); ``exempt`` a category code per row that is not capped
    (e.g. the one being browsed). Returns ``(rows, k)`` item numbers, ``-1`` padded.
    """
    key = np.ascontiguousarray(key, dtype=np.float64)
    rows, n = key.shape
    exempt = np.full(rows, -1) if exempt is None else exempt
    out = np.full((rows, k), -1, dtype=np.int64)
    m = n if cap is None and k >= n else min(n, k if cap is None else max(5 * k, 50))
    _best_first(
        key,
        np.asarray(tie_order, dtype=np.int64),
        np.asarray(category, dtype=np.int64),
        -1 if cap is None else int(cap),
        m,
        np.asarray(exempt, dtype=np.int64),
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _best_first(key, tie_order, category, cap, m, exempt, out):  # pragma: no cover
    """:func:`best_first` with the ``m`` best of a row kept in order as it is read (an
    item enters only when strictly better, read in ``tie_order``); the capped ones
    are taken from those, and only a row they leave short is sorted whole."""
    rows, n = key.shape
    buf = np.empty(m, dtype=np.int64)
    taken = np.zeros(max(category.max(), 0) + 1 if len(category) else 1, dtype=np.int64)
    for r in range(rows):
        row = key[r]
        filled = 0
        for t in range(n):
            c = tie_order[t]
            v = row[c]
            if not v > -np.inf or (filled == m and v <= row[buf[m - 1]]):
                continue
            p = filled if filled < m else m - 1
            while p > 0 and row[buf[p - 1]] < v:
                buf[p] = buf[p - 1]
                p -= 1
            buf[p] = c
            if filled < m:
                filled += 1
        got = _take(buf[:filled], category, cap, exempt[r], taken, out[r])
        if got < out.shape[1] and filled == m and m < n:  # the cap left too few
            order = tie_order[np.argsort(-row[tie_order], kind="mergesort")]
            finite = order[row[order] > -np.inf]
            _take(finite, category, cap, exempt[r], taken, out[r])


@numba.njit(cache=True, nogil=True)
def _take(items, category, cap, exempt, taken, out):  # pragma: no cover
    """Fill ``out`` with the first of ``items`` within the cap; the count filled."""
    taken[:] = 0
    got = 0
    for j in range(len(items)):
        if got == len(out):
            break
        it = items[j]
        code = category[it]
        if cap >= 0 and code >= 0 and code != exempt:
            if taken[code] >= cap:
                continue
            taken[code] += 1
        out[got] = it
        got += 1
    out[got:] = -1
    return got
