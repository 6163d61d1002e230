"""The re-ranker's features of (customer, candidate product) pairs, from plain arrays.

:class:`CandidateFeatures` says which features a
:class:`~nextbest.models.recommend.ranker.CandidateRanker` uses (its generators,
item attributes, groups, price, user features) and computes them for a block of
users from two things: the *item context* (arrays over the catalogue, computed
once when the ranker is fitted) and the users' own interactions (their weight
and last-time matrices). The same code computes them for training, for the
batch and for one customer online with the session added, and the spec is plain
data (:meth:`CandidateFeatures.as_dict`), so a served ranker needs no pickle.

>>> spec = CandidateFeatures(generators=("ease", "popularity"), groups=True)
>>> spec.names()[:4]
['score:ease', 'rank:ease', 'score:popularity', 'rank:popularity']
>>> spec.names()[-3:]
['group_share', 'group_is_favourite', 'group_recent_items']
>>> CandidateFeatures.from_dict(spec.as_dict()) == spec
True
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numba
import numpy as np

from nextbest.models.recommend.base import lookup_one
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.profile import entry_ages, profile_values

__all__ = ["CandidateFeatures", "UserRows"]

_DAY = 86_400.0
_KEY = 10**11  # item number x _KEY + Unix seconds: one sorted key per (item, time)


_STRIDE = 64


def coarse_keys(keys: np.ndarray) -> np.ndarray:
    """Every ``_STRIDE``-th of the sorted ``keys``: an index small enough to stay in the
    cache, searched before one block of ``keys`` (far fewer cache misses on long keys)."""
    return np.ascontiguousarray(keys[::_STRIDE])


@dataclass(frozen=True, eq=False)
class UserRows:
    """Users' interactions as CSR arrays: each user's items, summed weights and last times.

    >>> rows = UserRows(np.array([0, 2, 3]), np.array([0, 4, 1]), np.ones(3), np.zeros(3))
    >>> rows.n_users
    2
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    times: np.ndarray
    _ages: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _profiles: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def of(cls, x: Interactions) -> UserRows:
        """The users of ``x`` (its matrix and last times share one structure)."""
        m = x.matrix
        return cls(m.indptr, m.indices, m.data, x.last_time.data)

    def profile(
        self,
        half_life: float | None,
        decay_by: str,
        *,
        base: str = "binary",
        max_items: int | None = None,
    ) -> np.ndarray:
        """Per entry its :func:`~nextbest.models.recommend.profile.decayed_profile` value
        (computed once per set of arguments; do not change the array)."""
        key = (half_life, decay_by, base, max_items)
        if key not in self._profiles:
            self._profiles[key] = profile_values(
                self.indptr,
                self.weights,
                self.times,
                half_life,
                decay_by,
                base=base,
                max_items=max_items,
                ages=self.ages,
            )
        return self._profiles[key]

    def ages(self, decay_by: str) -> np.ndarray:
        """Per entry its age in ``decay_by`` units (computed once per unit)."""
        if decay_by not in self._ages:
            self._ages[decay_by] = entry_ages(self.indptr, self.times, decay_by)
        return self._ages[decay_by]


@functools.cache
def _names(spec: CandidateFeatures) -> tuple[str, ...]:
    return spec._names()


@dataclass(frozen=True)
class CandidateFeatures:
    """Which candidate features there are, and how to compute them; see the module docstring.

    Parameters
    ----------
    generators : tuple of str
        The generators' names, in order (a score and a rank feature each).
    item_columns : tuple of str
        Numeric item attributes (``item:<column>``).
    groups : bool
        The item-group features (``group_share``, ...).
    price : bool
        The price features (``price_log_ratio``, ``user_price_spread``).
    user_columns : tuple of str
        Per-user features (``user:<column>``).
    recent_days, affinity_half_life, affinity_decay_by, recent_items
        As in :class:`~nextbest.models.recommend.ranker.CandidateRanker`.
    """

    generators: tuple[str, ...] = ()
    item_columns: tuple[str, ...] = ()
    groups: bool = False
    price: bool = False
    user_columns: tuple[str, ...] = ()
    recent_days: float = 30.0
    affinity_half_life: float | None = 0.5
    affinity_decay_by: str = "share"
    recent_items: int = 5

    def as_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CandidateFeatures:
        """The spec written by :meth:`as_dict`."""
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)

    def user_context(self, u: UserRows, items: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """What the features need of the users ``u``: only their interactions.

        ``u`` may be any block of users over the same items (one customer online
        with the session added): the item context ``items`` stays that of the fit.
        Per user: the number of items, days since the latest, mean log popularity;
        with item groups the decayed weight share per group (``group_keys`` are
        user x group), the favourite group and the groups of the latest
        ``recent_items`` items; with prices the log median price and the spread of
        the log prices.
        """
        groups, price = "item_group" in items, "item_log_price" in items
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        values = (
            u.profile(self.affinity_half_life, self.affinity_decay_by, base="weight")
            if groups
            else empty_f
        )
        out = _user_context(
            np.asarray(u.indptr, dtype=np.int64),
            np.asarray(u.indices, dtype=np.int64),
            np.asarray(u.times, dtype=np.float64),
            float(items["now"][0]),
            np.asarray(items["item_log_pop"], dtype=np.float64),
            values,
            np.asarray(items["item_group"], dtype=np.int64) if groups else empty_i,
            int(items["n_groups"][0]) if groups else 0,
            int(self.recent_items),
            np.asarray(items["item_price"], dtype=np.float64) if price else empty_f,
            groups,
            price,
        )
        names = [*_BASIC, *(_GROUPS if groups else ()), *(_PRICES if price else ())]
        arrays = [*out[:4], *(out[4:10] if groups else ()), *(out[10:] if price else ())]
        return dict(zip(names, arrays, strict=True))

    def names(self) -> list[str]:
        """The ranker's inputs, in order, for the generators and options in use."""
        return list(_names(self))

    def _names(self) -> tuple[str, ...]:
        names = [f"{kind}:{n}" for n in self.generators for kind in ("score", "rank")]
        names += [
            "n_generators",
            "item_users",
            "item_recent_users",
            "item_days_since_last",
            "item_days_since_first",
            "user_items",
            "user_days_since_last",
            "user_mean_log_pop",
            "item_log_pop_vs_user",
            "item_events_at_user_time",
            "item_age_at_user_time",
        ]
        names += [f"item:{col}" for col in self.item_columns]
        if self.groups:
            names += ["group_share", "group_is_favourite", "group_recent_items"]
        if self.price:
            names += ["price_log_ratio", "user_price_spread"]
        return (*names, *(f"user:{col}" for col in self.user_columns))

    def features(
        self,
        rows: np.ndarray,
        lists: Sequence[tuple[np.ndarray, np.ndarray]],
        ctx: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every candidate of the users at ``rows`` of the user context ``ctx``.

        ``lists`` holds each generator's top items and scores for those users (rows
        in the order of ``rows``, item ``-1`` for none). Returns the candidates'
        user rows and items, ordered by row then item, and their features
        (columns :meth:`names`).
        """
        rows = np.asarray(rows, dtype=np.int64)
        b, n_gen = len(rows), len(self.generators)
        width = max([items.shape[1] for items, _ in lists], default=0)
        items = np.full((n_gen, b, width), -1, dtype=np.int64)
        scores = np.zeros((n_gen, b, width))
        for g, (it, sc) in enumerate(lists):
            items[g, :, : it.shape[1]] = it
            scores[g, :, : it.shape[1]] = sc
        order = np.argsort(rows, kind="stable")  # the output runs by row
        times = np.asarray(ctx["item_time_keys"], dtype=np.int64)
        coarse = ctx.get("item_time_coarse")
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        f64 = functools.partial(np.asarray, dtype=np.float64)
        i64 = functools.partial(np.asarray, dtype=np.int64)
        groups, price = self.groups, self.price
        n_items, n_extra = len(ctx["item_users"]), len(self.item_columns)
        n_user = len(self.user_columns)
        extra = f64(ctx["extra"])[:, :n_extra] if n_extra else np.zeros((n_items, 0))
        user_extra = f64(ctx["user_extra"])[:, :n_user] if n_user else np.zeros((1, 0))
        return _candidate_rows(
            rows[order],
            np.ascontiguousarray(items[:, order]),
            np.ascontiguousarray(scores[:, order]),
            f64(ctx["item_users"]),
            f64(ctx["item_recent_users"]),
            f64(ctx["item_days_since_last"]),
            f64(ctx["item_days_since_first"]),
            times,
            i64(coarse_keys(times) if coarse is None else coarse),
            np.require(extra, requirements=["C", "W"]),
            f64(ctx["user_items"]),
            f64(ctx["user_days_since_last"]),
            f64(ctx["user_mean_log_pop"]),
            f64(ctx["user_last_time"]),
            int(self.recent_days * _DAY),
            i64(ctx["item_group"]) if groups else empty_i,
            int(ctx["n_groups"][0]) if groups else 0,
            i64(ctx["group_keys"]) if groups else empty_i,
            f64(ctx["group_share"]) if groups else empty_f,
            f64(ctx["user_group_total"]) if groups else empty_f,
            i64(ctx["user_favourite_group"]) if groups else empty_i,
            i64(ctx["recent_keys"]) if groups else empty_i,
            f64(ctx["recent_counts"]) if groups else empty_f,
            groups,
            f64(ctx["item_log_price"]) if price else empty_f,
            f64(ctx["user_log_median_price"]) if price else empty_f,
            f64(ctx["user_price_spread"]) if price else empty_f,
            price,
            np.require(user_extra, requirements=["C", "W"]),
            len(_names(self)),
        )


_MISSING = np.iinfo(np.int64).min
_BASIC = ("user_items", "user_days_since_last", "user_last_time", "user_mean_log_pop")
_GROUPS = (
    "group_keys",
    "group_share",
    "user_group_total",
    "user_favourite_group",
    "recent_keys",
    "recent_counts",
)
_PRICES = ("user_log_median_price", "user_price_spread")


@numba.njit(cache=True, nogil=True)
def _user_context(
    indptr, indices, times, now, item_log_pop, values, item_group, n_groups, recent_items,
    item_price, groups, price,
):  # fmt: skip  # pragma: no cover (compiled)
    """:meth:`CandidateFeatures.user_context` as arrays: the basics, the group context
    and the price context (empty when not asked for). Sums run in entry order."""
    n = len(indptr) - 1
    n_entries = len(indices)
    user_items, days_since = np.zeros(n), np.full(n, np.nan)
    last_time, mean_log_pop = np.full(n, np.nan), np.zeros(n)
    m = n_entries if groups else 0
    group_keys, group_share = np.empty(m, dtype=np.int64), np.empty(m)
    total, favourite = np.zeros(n if groups else 0), np.full(n if groups else 0, -1)
    recent_keys, recent_counts = np.empty(m, dtype=np.int64), np.empty(m)
    median_log, spread = np.full(n if price else 0, np.nan), np.full(n if price else 0, np.nan)
    weight, present = np.zeros(max(n_groups, 1)), np.zeros(max(n_groups, 1), dtype=np.bool_)
    in_recent = np.zeros(max(n_groups, 1), dtype=np.int64)
    chosen = np.zeros(n_entries, dtype=np.bool_)
    prices = np.empty(n_entries)
    n_keys = n_recent = 0
    for u in range(n):
        a, b = indptr[u], indptr[u + 1]
        c = b - a
        latest, pop = -np.inf, 0.0
        for e in range(a, b):
            latest = max(latest, times[e])
            pop += item_log_pop[indices[e]]
        user_items[u] = c
        if c > 0:
            days_since[u] = (now - latest) / _DAY
            last_time[u] = now - days_since[u] * _DAY
            mean_log_pop[u] = pop / c
        if groups:
            for e in range(a, b):
                g = item_group[indices[e]]
                if g >= 0 and values[e] != 0:
                    weight[g] += values[e]
                    present[g] = True
            best = -1
            for g in range(n_groups):
                if present[g]:
                    total[u] += weight[g]
                    if best < 0 or weight[g] > weight[best]:
                        best = g
            favourite[u] = best
            for g in range(n_groups):
                if present[g]:
                    group_keys[n_keys] = u * n_groups + g
                    group_share[n_keys] = weight[g] / total[u] if total[u] > 0 else 0.0
                    n_keys += 1
                    weight[g], present[g] = 0.0, False
            for _ in range(min(recent_items, c)):  # the latest items, ties: lower item first
                pick = -1
                for e in range(a, b):
                    if not chosen[e] and (
                        pick < 0
                        or times[e] > times[pick]
                        or (times[e] == times[pick] and indices[e] < indices[pick])
                    ):
                        pick = e
                chosen[pick] = True
                if item_group[indices[pick]] >= 0:
                    in_recent[item_group[indices[pick]]] += 1
            for g in range(n_groups):
                if in_recent[g] > 0:
                    recent_keys[n_recent] = u * n_groups + g
                    recent_counts[n_recent] = in_recent[g]
                    n_recent += 1
                    in_recent[g] = 0
        if price:
            k = 0
            for e in range(a, b):
                if np.isfinite(item_price[indices[e]]):
                    prices[k] = item_price[indices[e]]
                    k += 1
            if k > 0:
                mean = 0.0
                for j in range(k):
                    mean += np.log(prices[j])
                mean /= k
                var = 0.0
                for j in range(k):
                    d = np.log(prices[j]) - mean
                    var += d * d
                ordered = np.sort(prices[:k])
                median_log[u] = np.log((ordered[(k - 1) // 2] + ordered[k // 2]) / 2)
                spread[u] = np.sqrt(var / k)
    return (
        user_items, days_since, last_time, mean_log_pop,
        group_keys[:n_keys], group_share[:n_keys], total, favourite,
        recent_keys[:n_recent], recent_counts[:n_recent],
        median_log, spread,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _search_one(keys, coarse, q):  # pragma: no cover
    """``np.searchsorted(keys, q, "right")`` through the index ``coarse`` (every
    ``_STRIDE``-th key) and then one block of ``keys``."""
    c = np.searchsorted(coarse, q, side="right")
    if c == 0:
        return 0
    lo = (c - 1) * _STRIDE
    hi = min(lo + _STRIDE, len(keys))
    return lo + np.searchsorted(keys[lo:hi], q, side="right")


@numba.njit(cache=True, nogil=True)
def _union(items, i, pool):  # pragma: no cover (compiled)
    """User ``i``'s items over every generator's list, sorted, each once (``pool``: room)."""
    m = 0
    for g in range(items.shape[0]):
        for p in range(items.shape[2]):
            if items[g, i, p] >= 0:
                pool[m] = items[g, i, p]
                m += 1
    return np.unique(pool[:m])


@numba.njit(cache=True, nogil=True)
def _candidate_rows(
    rows, items, scores,
    item_users, item_recent, item_last, item_first, time_keys, time_coarse, item_extra,
    user_items, user_last, user_log_pop, user_time, recent_seconds,
    item_group, n_groups, group_keys, group_share, group_total, favourite, recent_keys,
    recent_counts, groups, item_log_price, user_log_price, user_spread, price, user_extra,
    n_features,
):  # fmt: skip  # pragma: no cover (compiled)
    """:meth:`CandidateFeatures.features` for ``rows`` in increasing order: each user's
    candidates are the union of the generators' lists, by item number."""
    n_gen, b, width = items.shape
    pool = np.empty(n_gen * width, dtype=np.int64)
    counts = np.zeros(b, dtype=np.int64)
    for i in range(b):  # first the number of candidates of each user
        counts[i] = len(_union(items, i, pool))
    total = counts.sum()
    out_row = np.empty(total, dtype=np.int64)
    out_item = np.empty(total, dtype=np.int64)
    f = np.empty((total, n_features))
    n_extra, n_user = item_extra.shape[1], user_extra.shape[1]
    at = 0
    for i in range(b):
        r = rows[i]
        cand = _union(items, i, pool)
        block = f[at : at + len(cand)]
        block[:, : 2 * n_gen + 1] = np.nan
        block[:, 2 * n_gen] = 0.0
        for g in range(n_gen):
            for p in range(width):
                it = items[g, i, p]
                if it >= 0:
                    j = np.searchsorted(cand, it)
                    block[j, 2 * g] = scores[g, i, p]
                    block[j, 2 * g + 1] = p + 1.0
                    block[j, 2 * n_gen] += 1.0
        t_user = _MISSING if np.isnan(user_time[r]) else np.int64(user_time[r])
        for j in range(len(cand)):
            it = cand[j]
            out_row[at + j], out_item[at + j] = r, it
            row = block[j]
            c = 2 * n_gen + 1
            row[c] = item_users[it]
            row[c + 1] = item_recent[it]
            row[c + 2] = item_last[it]
            row[c + 3] = item_first[it]
            row[c + 4] = user_items[r]
            row[c + 5] = user_last[r]
            row[c + 6] = user_log_pop[r]
            row[c + 7] = np.log1p(item_users[it]) - user_log_pop[r]
            key = it * _KEY + t_user
            hi = _search_one(time_keys, time_coarse, key)
            lo = _search_one(time_keys, time_coarse, key - recent_seconds)
            row[c + 8] = float(hi - lo)
            row[c + 9] = item_first[it] - user_last[r]
            c += 10
            for e in range(n_extra):
                row[c + e] = item_extra[it, e]
            c += n_extra
            if groups:
                grp = item_group[it]
                if grp >= 0:
                    gkey = r * n_groups + grp
                    share = lookup_one(group_keys, group_share, gkey)
                    row[c] = share if group_total[r] > 0 else np.nan
                    row[c + 1] = 1.0 if favourite[r] == grp else 0.0
                    row[c + 2] = lookup_one(recent_keys, recent_counts, gkey)
                else:
                    row[c : c + 3] = np.nan
                c += 3
            if price:
                row[c] = item_log_price[it] - user_log_price[r]
                row[c + 1] = user_spread[r]
                c += 2
            for e in range(n_user):
                row[c + e] = user_extra[r, e]
        at += len(cand)
    return out_row, out_item, f
