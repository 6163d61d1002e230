"""Time-decayed user profiles: which items a user touched, weighted towards the latest.

A profile is a sparse user x item matrix with the same entries as the
interactions. Each entry's base value is 1 (``base="binary"``) or the summed
interaction weight (``base="weight"``), multiplied by ``2 ** (-age / half_life)``.
The age of an item is counted back from the user's own latest interaction:

* ``decay_by="days"``: the days between the item's last touch and the user's latest;
* ``decay_by="interactions"``: how many of the user's items were touched strictly
  later (items touched at the same moment share their age);
* ``decay_by="share"``: that count as a share of the user's items, so a half-life
  of 0.1 halves the weight every tenth of a history, long or short.

``max_items`` keeps only the user's most recent items (ties at the cut kept).
Generators score a user by multiplying the profile with an item x item model.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 1, 1], "item": ["a", "b", "c"], "time": [0, 5, 5]})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> decayed_profile(x, half_life=1.0, decay_by="interactions").toarray().tolist()
[[0.25, 1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.interactions import Interactions

__all__ = [
    "DECAY_BY",
    "check_decay",
    "decayed_profile",
    "entry_ages",
    "profile_values",
    "recency_age",
]

DECAY_BY = ("days", "interactions", "share")
_DAY = 86_400.0


def check_decay(half_life: float | None, decay_by: str) -> None:
    """Raise a clear error for a bad half-life or decay unit."""
    if half_life is not None and not (isinstance(half_life, int | float) and half_life > 0):
        raise RecommendInputError(
            f"must be a positive number or None; got {half_life!r}.", field="half_life"
        )
    if decay_by not in DECAY_BY:
        raise RecommendInputError(f"must be one of {DECAY_BY}; got {decay_by!r}.", field="decay_by")


def recency_age(interactions: Interactions, decay_by: str = "days") -> np.ndarray:
    """Per stored entry (CSR order) its age in ``decay_by`` units (see the module docstring)."""
    last = interactions.last_time
    return entry_ages(last.indptr, last.data, decay_by)


def entry_ages(indptr: np.ndarray, t: np.ndarray, decay_by: str = "days") -> np.ndarray:
    """:func:`recency_age` from the CSR row pointers and last times of the entries."""
    counts = np.diff(indptr)
    n = len(counts)
    if len(t) == 0:
        return np.zeros(0)
    if n == 1:  # one user: the same ages with fewer steps
        if decay_by == "days":
            return (t.max() - t) / _DAY
        later = len(t) - np.searchsorted(np.sort(t), t, side="right")
        return later / len(t) if decay_by == "share" else later.astype(np.float64)
    rows = np.repeat(np.arange(n), counts)
    if decay_by == "share":
        return entry_ages(indptr, t, "interactions") / counts[rows]
    if decay_by == "days":
        latest = np.full(n, -np.inf)
        np.maximum.at(latest, rows, t)
        return (latest[rows] - t) / _DAY
    # count of the user's entries with a strictly later time: sort by (row, -t)
    order = np.lexsort((-t, rows))
    r, ts = rows[order], t[order]
    start = np.r_[0, np.flatnonzero(np.diff(r) != 0) + 1]
    first = np.zeros(len(r), dtype=np.int64)
    first[start] = start
    first = np.maximum.accumulate(first)  # first position of each row's run
    new_time = np.r_[True, (ts[1:] != ts[:-1]) | (r[1:] != r[:-1])]
    # position of the first entry of each equal-time run within its row
    run_start = np.where(new_time, np.arange(len(r)), 0)
    run_start = np.maximum.accumulate(run_start)
    age = np.empty(len(r), dtype=np.float64)
    age[order] = run_start - first
    return age


def profile_values(
    indptr: np.ndarray,
    weights: np.ndarray,
    times: np.ndarray,
    half_life: float | None = None,
    decay_by: str = "days",
    *,
    base: str = "binary",
    max_items: int | None = None,
    ages: Callable[[str], np.ndarray] | None = None,
) -> np.ndarray:
    """The values of :func:`decayed_profile` from the CSR arrays (zeros kept in place).

    ``ages(decay_by)`` gives the entries' ages (default :func:`entry_ages`), for a
    caller that scores several profiles of the same users.
    """
    check_decay(half_life, decay_by)
    age = ages or (lambda unit: entry_ages(indptr, times, unit))
    if base not in ("binary", "weight"):
        raise RecommendInputError(f"must be 'binary' or 'weight'; got {base!r}.", field="base")
    values = np.ones_like(weights) if base == "binary" else np.array(weights, dtype=np.float64)
    if half_life is not None:
        values *= np.exp2(-age(decay_by) / half_life)
    if max_items is not None:
        if int(max_items) != max_items or max_items < 1:
            raise RecommendInputError(
                f"must be a positive integer or None; got {max_items!r}.", field="max_items"
            )
        values = np.where(age("interactions") < max_items, values, 0.0)
    return values


def decayed_profile(
    interactions: Interactions,
    half_life: float | None = None,
    decay_by: str = "days",
    *,
    base: str = "binary",
    max_items: int | None = None,
) -> sp.csr_matrix:
    """The profile matrix described in the module docstring."""
    m = interactions.matrix
    values = profile_values(
        m.indptr,
        m.data,
        interactions.last_time.data,
        half_life,
        decay_by,
        base=base,
        max_items=max_items,
    )
    out = sp.csr_matrix((values, m.indices.copy(), m.indptr.copy()), shape=m.shape)
    out.eliminate_zeros()
    return out
