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


def _price_context(
    indices: np.ndarray, rows: np.ndarray, n: int, item_price: np.ndarray
) -> dict[str, np.ndarray]:
    """Per user of ``m`` the log of the median price of their priced items and the
    spread (standard deviation) of those items' log prices; missing without any."""
    price = item_price[indices]
    ok = np.isfinite(price)
    r, p = rows[ok], price[ok]
    counts = np.bincount(r, minlength=n)
    order = np.lexsort((p, r))
    p_sorted = p[order]
    start = np.cumsum(counts) - counts
    has = counts > 0
    median = np.full(n, np.nan)
    lo, hi = start[has] + (counts[has] - 1) // 2, start[has] + counts[has] // 2
    median[has] = (p_sorted[lo] + p_sorted[hi]) / 2
    logs = np.log(p)
    mean = np.divide(np.bincount(r, logs, minlength=n), counts, out=np.zeros(n), where=has)
    var = np.bincount(r, (logs - mean[r]) ** 2, minlength=n)
    spread = np.where(has, np.sqrt(np.divide(var, counts, out=np.zeros(n), where=has)), np.nan)
    return {"user_log_median_price": np.log(median), "user_price_spread": spread}


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
        """Per entry its :func:`~nextbest.models.recommend.profile.decayed_profile` value."""
        return profile_values(
            self.indptr,
            self.weights,
            self.times,
            half_life,
            decay_by,
            base=base,
            max_items=max_items,
            ages=self.ages,
        )

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
        """
        now = float(items["now"][0])
        n = u.n_users
        counts = np.diff(u.indptr)
        rows = np.repeat(np.arange(n), counts)
        latest = np.full(n, -np.inf)
        np.maximum.at(latest, rows, u.times)
        user_last = np.where(counts > 0, (now - latest) / _DAY, np.nan)
        n_user = counts.astype(float)
        pop_sum = np.bincount(rows, items["item_log_pop"][u.indices], minlength=n)
        out = {
            "user_items": n_user,
            "user_days_since_last": user_last,
            "user_last_time": now - user_last * _DAY,
            "user_mean_log_pop": np.divide(pop_sum, n_user, out=np.zeros(n), where=n_user > 0),
        }
        if "item_group" in items:
            out.update(self._group_context(u, items, rows))
        if "item_log_price" in items:
            out.update(_price_context(u.indices, rows, n, items["item_price"]))
        return out

    def _group_context(
        self, u: UserRows, items: Mapping[str, np.ndarray], rows: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Per user: decayed weight share per group, favourite group, latest items' groups."""
        codes, n_groups = items["item_group"], int(items["n_groups"][0])
        n = u.n_users
        values = u.profile(self.affinity_half_life, self.affinity_decay_by, base="weight")
        g = codes[u.indices]
        has = (g >= 0) & (values != 0)
        if n == 1:  # one customer: the same sums (in entry order) over the group codes
            keys = np.flatnonzero(np.bincount(g[has], minlength=n_groups))
            weights = np.bincount(g[has], values[has], minlength=n_groups)[keys]
        else:
            keys, where = np.unique(rows[has] * n_groups + g[has], return_inverse=True)
            weights = np.bincount(where.ravel(), values[has], minlength=len(keys))
        key_rows, cols = keys // n_groups, keys % n_groups
        total = np.bincount(key_rows, weights, minlength=n)
        favourite = np.full(n, -1, dtype=np.int64)
        order = np.lexsort((cols, -weights, key_rows))
        if len(order):
            first = order[np.r_[True, key_rows[order][1:] != key_rows[order][:-1]]]
            favourite[key_rows[first]] = cols[first]
        # the user's latest items (ties: the lower item number first) and their groups
        latest = np.lexsort((u.indices, -u.times, rows))
        rank = np.arange(len(latest)) - u.indptr[rows[latest]]
        chosen = latest[rank < int(self.recent_items)]
        gc = codes[u.indices[chosen]]
        recent_keys, recent_counts = np.unique(
            rows[chosen][gc >= 0].astype(np.int64) * n_groups + gc[gc >= 0], return_counts=True
        )
        return {
            "group_keys": keys.astype(np.int64),
            "group_share": np.divide(
                weights, total[key_rows], out=np.zeros_like(weights), where=total[key_rows] > 0
            ),
            "user_group_total": total,
            "user_favourite_group": favourite,
            "recent_keys": recent_keys,
            "recent_counts": recent_counts.astype(np.float64),
        }

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
            items[:, order],
            scores[:, order],
            f64(ctx["item_users"]),
            f64(ctx["item_recent_users"]),
            f64(ctx["item_days_since_last"]),
            f64(ctx["item_days_since_first"]),
            times,
            i64(coarse_keys(times) if coarse is None else coarse),
            np.ascontiguousarray(extra),
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
            np.ascontiguousarray(user_extra),
            len(_names(self)),
        )


_MISSING = np.iinfo(np.int64).min


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
def _lookup(keys, values, q):  # pragma: no cover
    """:func:`~nextbest.models.recommend.base.sorted_lookup` of one key."""
    if len(keys) == 0:
        return 0.0
    pos = min(np.searchsorted(keys, q), len(keys) - 1)
    return values[pos] if keys[pos] == q else 0.0


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
        m = 0
        for g in range(n_gen):
            for p in range(width):
                if items[g, i, p] >= 0:
                    pool[m] = items[g, i, p]
                    m += 1
        got = np.unique(pool[:m])
        counts[i] = len(got)
    total = counts.sum()
    out_row = np.empty(total, dtype=np.int64)
    out_item = np.empty(total, dtype=np.int64)
    f = np.empty((total, n_features))
    n_extra, n_user = item_extra.shape[1], user_extra.shape[1]
    at = 0
    for i in range(b):
        r = rows[i]
        m = 0
        for g in range(n_gen):
            for p in range(width):
                if items[g, i, p] >= 0:
                    pool[m] = items[g, i, p]
                    m += 1
        cand = np.unique(pool[:m])
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
                    share = _lookup(group_keys, group_share, gkey)
                    row[c] = share if group_total[r] > 0 else np.nan
                    row[c + 1] = 1.0 if favourite[r] == grp else 0.0
                    row[c + 2] = _lookup(recent_keys, recent_counts, gkey)
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
