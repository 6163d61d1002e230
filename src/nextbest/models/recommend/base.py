"""What every candidate generator shares: fit on interactions, score, take the top K.

A generator implements ``fit(interactions)`` (returning ``self``) and
``_score(rows)``: a dense ``(len(rows), n_items)`` array of scores for the users
at those row numbers, higher is better. :meth:`Recommender.recommend` turns
scores into top-K item numbers with their scores, leaving out what the user has
already interacted with (``exclude_seen``) and items scored ``-inf`` (those a
generator cannot score). Ties are broken by item number, so results are
deterministic.

>>> import numpy as np
>>> top_k(np.array([[0.1, 0.9, 0.5], [3.0, 1.0, 3.0]]), 2)
(array([[1, 2],
       [0, 2]]), array([[0.9, 0.5],
       [3. , 3. ]]))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import pandas as pd

from nextbest.errors import NextBestError

if TYPE_CHECKING:
    from nextbest.models.recommend.interactions import Interactions

__all__ = [
    "NotFittedError",
    "RecommendInputError",
    "Recommender",
    "csr_rows",
    "lookup_one",
    "top_k",
]


class RecommendInputError(NextBestError, ValueError):
    """Bad input to a recommender: wrong data, an unknown id, a bad hyper-parameter."""


class NotFittedError(NextBestError, RuntimeError):
    """A recommender was used before ``fit``."""

    http_status = 409


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column numbers and values of the ``k`` highest scores per row, best first.

    Entries equal to ``-inf`` (or NaN) are never returned: such a row's tail is padded
    with item ``-1`` and score ``-inf``. Ties go to the lower column number.
    """
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise RecommendInputError(f"scores must be 2-D; got shape {scores.shape}.", field="scores")
    items = np.full((scores.shape[0], k), -1, dtype=np.int64)
    values = np.full((scores.shape[0], k), -np.inf)
    if k > 0:
        _top_rows(scores, items, values)
    return items, values


@numba.njit(cache=True, nogil=True)
def _top_rows(
    scores: np.ndarray, items: np.ndarray, values: np.ndarray
) -> None:  # pragma: no cover
    """Fill each row's ``items`` / ``values`` with its best entries: one pass over the row
    keeping the best so far in order (a later column enters only when strictly better)."""
    k = items.shape[1]
    for r in range(scores.shape[0]):
        row, top, val = scores[r], items[r], values[r]
        filled = 0
        for c in range(row.shape[0]):
            v = row[c]
            if not v > -np.inf or (filled == k and v <= val[k - 1]):
                continue
            p = filled if filled < k else k - 1
            while p > 0 and val[p - 1] < v:
                val[p] = val[p - 1]
                top[p] = top[p - 1]
                p -= 1
            val[p] = v
            top[p] = c
            if filled < k:
                filled += 1


def csr_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For CSR rows ``rows``: each stored entry's position in ``rows`` and in the arrays.

    >>> csr_rows(np.array([0, 2, 2, 3]), np.array([2, 0]))
    (array([0, 1, 1]), array([2, 0, 1]))
    >>> csr_rows(np.array([0, 2, 2, 3]), np.array([0]))
    (array([0, 0]), array([0, 1]))
    """
    if len(rows) == 1:  # one row: its slice
        a, b = int(indptr[rows[0]]), int(indptr[rows[0] + 1])
        return np.zeros(b - a, dtype=np.int64), np.arange(a, b, dtype=np.int64)
    start, stop = indptr[rows], indptr[rows + 1]
    counts = stop - start
    block = np.repeat(np.arange(len(rows)), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return block, np.repeat(start, counts) + offset


@numba.njit(cache=True, nogil=True)
def lookup_one(keys, values, q):  # pragma: no cover (compiled)
    """``values`` at the sorted ``keys`` equal to the key ``q``; 0 where none is."""
    if len(keys) == 0:
        return 0.0
    pos = min(np.searchsorted(keys, q), len(keys) - 1)
    return values[pos] if keys[pos] == q else 0.0


class Recommender:
    """Base class of the candidate generators (see the module docstring)."""

    interactions_: Interactions

    def _check_fitted(self) -> None:
        if not hasattr(self, "interactions_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet.",
                hint="Call fit(interactions) first.",
            )

    def _check_interactions(self, interactions: Any) -> Interactions:
        from nextbest.models.recommend.interactions import Interactions

        if not isinstance(interactions, Interactions):
            raise RecommendInputError(
                f"fit expects an Interactions; got {type(interactions).__name__}.",
                field="interactions",
                hint="Build one with Interactions.from_frame(...).",
            )
        if interactions.n_items == 0 or interactions.n_users == 0:
            raise RecommendInputError("there are no interactions to fit on.", field="interactions")
        return interactions

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (hyper-parameters)."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def fit(self, interactions: Interactions) -> Recommender:
        raise NotImplementedError

    def _score(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score(self, rows: Iterable[int] | np.ndarray) -> np.ndarray:
        """Dense scores ``(len(rows), n_items)`` for users at row numbers ``rows``."""
        self._check_fitted()
        idx = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype=np.int64)
        n = self.interactions_.n_users
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise RecommendInputError(
                f"user row numbers must lie in [0, {n}); got {int(idx.min())}..{int(idx.max())}.",
                field="rows",
            )
        return np.asarray(self._score(idx), dtype=np.float64)

    def recommend(
        self,
        rows: Iterable[int] | np.ndarray | None = None,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        batch_size: int = 1024,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item numbers and scores for users at ``rows`` (default: all users).

        Returns two ``(len(rows), k)`` arrays; a row with fewer than ``k``
        scorable items is padded with item ``-1`` and score ``-inf``.
        """
        self._check_fitted()
        if int(k) != k or k < 1:
            raise RecommendInputError(f"k must be a positive integer; got {k!r}.", field="k")
        x = self.interactions_
        idx = (
            np.arange(x.n_users)
            if rows is None
            else np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, np.int64)
        )
        items, values = [], []
        for start in range(0, len(idx), batch_size):
            batch = idx[start : start + batch_size]
            scores = self.score(batch)
            if exclude_seen:
                seen = x.matrix[batch].tocoo()
                scores[seen.row, seen.col] = -np.inf
            it, val = top_k(scores, int(k))
            items.append(it)
            values.append(val)
        if not items:
            return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
        return np.vstack(items), np.vstack(values)

    def recommend_frame(
        self, users: Iterable[Any] | None = None, k: int = 10, *, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Top-``k`` per user as a frame: ``user_id``, ``rank`` (from 1), ``item_id``, ``score``."""
        self._check_fitted()
        x = self.interactions_
        rows = np.arange(x.n_users) if users is None else x.user_index(users)
        items, values = self.recommend(rows, k, exclude_seen=exclude_seen)
        n, width = items.shape
        keep = (items >= 0).ravel()
        return pd.DataFrame(
            {
                "user_id": np.repeat(x.users[rows], width)[keep],
                "rank": np.tile(np.arange(1, width + 1), n)[keep],
                "item_id": x.items[np.maximum(items, 0)].ravel()[keep],
                "score": values.ravel()[keep],
            }
        )
