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

import numpy as np

from nextbest.models.recommend.base import sorted_lookup
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.profile import entry_ages, profile_values

__all__ = ["CandidateFeatures", "UserRows"]

_DAY = 86_400.0
_KEY = 10**11  # item number x _KEY + Unix seconds: one sorted key per (item, time)


_STRIDE = 64


def coarse_keys(keys: np.ndarray) -> np.ndarray:
    """Every ``_STRIDE``-th of the sorted ``keys``: the index :func:`_search` starts in."""
    return np.ascontiguousarray(keys[::_STRIDE])


def _search(keys: np.ndarray, query: np.ndarray, coarse: np.ndarray | None = None) -> np.ndarray:
    """``np.searchsorted(keys, query, "right")``, the queries taken in sorted order (each
    search then starts where the last one ended: far fewer cache misses on long keys).

    A few queries with the :func:`coarse_keys` of ``keys`` search those first, then
    count within the one block of ``keys`` each falls in.

    >>> keys = np.arange(0, 1000, 3)
    >>> q = np.array([-1, 0, 1, 500, 998, 2000])
    >>> bool((_search(keys, q, coarse_keys(keys)) == np.searchsorted(keys, q, "right")).all())
    True
    """
    if len(query) < 1024:
        if coarse is None or len(keys) == 0:
            return np.searchsorted(keys, query, side="right")
        block = np.maximum(np.searchsorted(coarse, query, side="right") - 1, 0) * _STRIDE
        at = block[:, None] + np.arange(_STRIDE)
        real = at < len(keys)
        return block + ((keys[np.minimum(at, len(keys) - 1)] <= query[:, None]) & real).sum(axis=1)
    order = np.argsort(query, kind="stable")
    out = np.empty(len(query), dtype=np.int64)
    out[order] = np.searchsorted(keys, query[order], side="right")
    return out


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
        n_items = len(ctx["item_users"])
        rows = np.asarray(rows, dtype=np.int64)
        keys_each = []
        for items, _ in lists:
            keep = items >= 0
            keys_each.append(
                (np.broadcast_to(rows[:, None], items.shape)[keep] * n_items + items[keep], keep)
            )
        keys = np.unique(np.concatenate([k for k, _ in keys_each])) if keys_each else np.zeros(0)
        keys = keys.astype(np.int64)
        row, item = keys // n_items, keys % n_items
        cols: dict[str, np.ndarray] = {}
        found = np.zeros(len(keys))
        named = zip(self.generators, lists, keys_each, strict=True)
        for name, (items, scores), (k, keep) in named:
            pos = np.searchsorted(keys, k)
            score = np.full(len(keys), np.nan)
            rank = np.full(len(keys), np.nan)
            score[pos] = scores[keep]
            rank[pos] = np.broadcast_to(np.arange(1.0, items.shape[1] + 1), items.shape)[keep]
            cols[f"score:{name}"], cols[f"rank:{name}"] = score, rank
            found[pos] += 1
        cols["n_generators"] = found
        for key in ("item_users", "item_recent_users", "item_days_since_last"):
            cols[key] = ctx[key][item]
        cols["item_days_since_first"] = ctx["item_days_since_first"][item]
        for key in ("user_items", "user_days_since_last", "user_mean_log_pop"):
            cols[key] = ctx[key][row]
        cols["item_log_pop_vs_user"] = np.log1p(cols["item_users"]) - cols["user_mean_log_pop"]
        t_user = ctx["user_last_time"][row].astype(np.int64)
        times = ctx["item_time_keys"]
        coarse = ctx.get("item_time_coarse")
        hi = _search(times, item * _KEY + t_user, coarse)
        lo = _search(times, item * _KEY + t_user - int(self.recent_days * _DAY), coarse)
        cols["item_events_at_user_time"] = (hi - lo).astype(float)
        cols["item_age_at_user_time"] = cols["item_days_since_first"] - cols["user_days_since_last"]
        for j, col in enumerate(self.item_columns):
            cols[f"item:{col}"] = ctx["extra"][item, j]
        if "item_group" in ctx:
            group = ctx["item_group"][item]
            gkeys = row * int(ctx["n_groups"][0]) + group
            grouped = group >= 0
            share = sorted_lookup(ctx["group_keys"], ctx["group_share"], gkeys)
            cols["group_share"] = np.where(
                grouped & (ctx["user_group_total"][row] > 0), share, np.nan
            )
            favourite = (ctx["user_favourite_group"][row] == group).astype(np.float64)
            cols["group_is_favourite"] = np.where(grouped, favourite, np.nan)
            recent = sorted_lookup(ctx["recent_keys"], ctx["recent_counts"], gkeys)
            cols["group_recent_items"] = np.where(grouped, recent, np.nan)
        if "item_log_price" in ctx:
            cols["price_log_ratio"] = (
                ctx["item_log_price"][item] - ctx["user_log_median_price"][row]
            )
            cols["user_price_spread"] = ctx["user_price_spread"][row]
        names = _names(self)
        n_user = len(self.user_columns)
        features = np.empty((len(keys), len(names)))
        for j, name in enumerate(names[: len(names) - n_user]):
            features[:, j] = cols[name]
        if n_user:  # the user:<column> features come last, in their order
            features[:, len(names) - n_user :] = ctx["user_extra"][row]
        return row, item, features
