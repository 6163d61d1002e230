"""User x item interactions: a sparse weight matrix with the last time of each pair.

Every recommender fits on an :class:`Interactions`. It holds

* ``users`` and ``items``: the ids behind the row and column numbers (sorted, in
  their own type, so integer ids sort as numbers);
* ``matrix``: a CSR matrix of summed weights per (user, item); each event's
  weight can be decayed by its age, ``2 ** (-age / half_life_days)``;
* ``last_time``: a CSR matrix with the same structure whose values are the last
  time (Unix seconds) the user touched the item;
* ``log``: every event as (``user``, ``item``, ``time``, ``weight``) row numbers,
  ordered by user, then time, then item: what sequence models read.

>>> import pandas as pd
>>> frame = pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["a", "b", "a"],
...                       "time": [10, 20, 30]})
>>> x = Interactions.from_frame(frame, user="user", item="item", time="time")
>>> x.shape, x.users.tolist(), x.items.tolist()
((2, 2), ['u1', 'u2'], ['a', 'b'])
>>> x.matrix.toarray().tolist()
[[1.0, 1.0], [1.0, 0.0]]
>>> x.last_time.toarray().tolist()
[[10.0, 20.0], [30.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nextbest.models.recommend.base import RecommendInputError

__all__ = ["Interactions", "to_seconds"]

_DAY = 86_400.0


def to_seconds(values: Any, field: str = "time") -> np.ndarray:
    """Unix seconds (float) from datetimes (naive ones are taken as UTC) or numbers.

    >>> to_seconds(pd.Series(pd.to_datetime(["1970-01-02"]))).tolist()
    [86400.0]
    >>> to_seconds([5, 7]).tolist()
    [5.0, 7.0]
    """
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        if series.dt.tz is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if series.isna().any():
            raise RecommendInputError(
                f"{int(series.isna().sum())} missing timestamp(s).", field=field
            )
        ns = series.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        return ns.astype(np.float64) / 1e9
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        out = series.to_numpy(dtype=np.float64)
        if not np.isfinite(out).all():
            raise RecommendInputError("timestamps must be finite numbers.", field=field)
        return out
    raise RecommendInputError(
        f"timestamps must be datetimes or Unix seconds; got dtype {series.dtype}.",
        field=field,
        hint="Convert the column with pandas.to_datetime first.",
    )


def _universe(ids: Any, given: Iterable[Any] | None, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted universe of ids and the position of each of ``ids`` in it (by hashing)."""
    values = np.asarray(ids)
    if given is None:
        codes, uniques = pd.factorize(values, sort=True)
        return np.asarray(uniques), codes.astype(np.int32)
    universe = np.unique(np.asarray(list(given)))
    if len(values) and len(universe) == 0:
        raise RecommendInputError(f"the list of {field}s is empty.", field=field)
    pos = pd.Index(universe).get_indexer(values) if len(values) else np.zeros(0, np.int64)
    bad = pos < 0
    if bad.any():
        raise RecommendInputError(
            f"{int(bad.sum())} row(s) name a {field} outside the given {field}s, "
            f"e.g. {values[bad][0]!r}.",
            field=field,
        )
    return universe, pos.astype(np.int32)


@dataclass(frozen=True, eq=False)
class Interactions:
    """A user x item interaction matrix with times; build it with :meth:`from_frame`."""

    users: np.ndarray
    items: np.ndarray
    matrix: sp.csr_matrix
    last_time: sp.csr_matrix
    log: pd.DataFrame

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.users), len(self.items))

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        user: str = "user_id",
        item: str = "item_id",
        time: str = "timestamp",
        weight: str | None = None,
        *,
        users: Iterable[Any] | None = None,
        items: Iterable[Any] | None = None,
        half_life_days: float | None = None,
        as_of: Any = None,
    ) -> Interactions:
        """Interactions from one row per event.

        Parameters
        ----------
        frame : DataFrame
            One row per event (a rating, a view, an order line).
        user, item, time : str
            Column names; ``time`` holds datetimes or Unix seconds.
        weight : str, optional
            Column with each event's weight (default 1 per event); weights of the
            same (user, item) are summed.
        users, items : iterable, optional
            Fixed id universes (e.g. the whole catalogue, so items nobody touched
            yet still get a column). Rows naming other ids are an error.
        half_life_days : float, optional
            Decay each event's weight by ``2 ** (-age / half_life_days)``, age
            counted back from ``as_of``.
        as_of : datetime or number, optional
            The time ages count from (default: the latest event).
        """
        if not isinstance(frame, pd.DataFrame):
            raise RecommendInputError(
                f"expected a pandas DataFrame; got {type(frame).__name__}.", field="frame"
            )
        for column in (user, item, time, *([weight] if weight else [])):
            if column not in frame.columns:
                raise RecommendInputError(
                    f"column {column!r} not found; the frame has {list(frame.columns)}.",
                    field=column,
                )
        for column in (user, item):
            if frame[column].isna().any():
                raise RecommendInputError(
                    f"{int(frame[column].isna().sum())} row(s) have no {column}.", field=column
                )
        seconds = to_seconds(frame[time], field=time)
        if weight is None:
            w = np.ones(len(frame), dtype=np.float64)
        else:
            w = pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=np.float64)
            if not np.isfinite(w).all() or (w < 0).any():
                raise RecommendInputError("weights must be finite and not negative.", field=weight)
        if half_life_days is not None:
            if not half_life_days > 0:
                raise RecommendInputError(
                    f"must be positive; got {half_life_days!r}.", field="half_life_days"
                )
            now = float(seconds.max()) if as_of is None else float(to_seconds([as_of], "as_of")[0])
            w = w * np.exp2(-np.maximum(now - seconds, 0.0) / (half_life_days * _DAY))
        user_ids, u = _universe(frame[user].to_numpy(), users, "user")
        item_ids, i = _universe(frame[item].to_numpy(), items, "item")
        return cls.from_codes(user_ids, item_ids, u, i, seconds, w)

    @classmethod
    def from_codes(
        cls,
        users: Sequence[Any] | np.ndarray,
        items: Sequence[Any] | np.ndarray,
        user_codes: np.ndarray,
        item_codes: np.ndarray,
        seconds: np.ndarray,
        weights: np.ndarray,
    ) -> Interactions:
        """Interactions from row and column numbers into ``users`` and ``items``."""
        log = pd.DataFrame(
            {
                "user": np.asarray(user_codes, dtype=np.int32),
                "item": np.asarray(item_codes, dtype=np.int32),
                "time": np.asarray(seconds, dtype=np.float64),
                "weight": np.asarray(weights, dtype=np.float64),
            }
        )
        log = log.sort_values(["user", "time", "item"], kind="stable", ignore_index=True)
        shape = (len(users), len(items))
        pairs = log.groupby(["user", "item"], sort=True).agg(
            weight=("weight", "sum"), time=("time", "max")
        )
        rows = pairs.index.get_level_values(0).to_numpy()
        cols = np.array(pairs.index.get_level_values(1), dtype=np.int32)
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.add.at(indptr, rows + 1, 1)
        indptr = np.cumsum(indptr)
        weight = np.array(pairs["weight"], dtype=np.float64)
        matrix = sp.csr_matrix((weight, cols, indptr), shape=shape)
        last_t = np.array(pairs["time"], dtype=np.float64)
        last = sp.csr_matrix((last_t, cols.copy(), indptr.copy()), shape=shape)
        return cls(np.asarray(users), np.asarray(items), matrix, last, log)

    def user_index(self, ids: Iterable[Any]) -> np.ndarray:
        """Row numbers of user ids (an error names the first unknown id)."""
        return self._index(self.users, ids, "user")

    def item_index(self, ids: Iterable[Any]) -> np.ndarray:
        """Column numbers of item ids (an error names the first unknown id)."""
        return self._index(self.items, ids, "item")

    @staticmethod
    def _index(universe: np.ndarray, ids: Iterable[Any], field: str) -> np.ndarray:
        _, pos = _universe(np.asarray(list(ids)), universe, field)
        return pos.astype(np.int64)

    def binary(self) -> sp.csr_matrix:
        """The matrix with every stored weight set to 1."""
        out = self.matrix.copy()
        out.data = np.ones_like(out.data)
        return out

    def item_counts(self) -> np.ndarray:
        """Users per item."""
        return np.diff(self.matrix.tocsc().indptr).astype(np.float64)
