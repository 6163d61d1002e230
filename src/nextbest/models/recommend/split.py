"""Per-user temporal holdout: the last share of each user's interactions is the truth.

For each user with at least ``min_interactions`` interactions, the last
``max(1, floor(fraction * n))`` of them, ordered by time and then by item id
(so ties at the same second are cut reproducibly), are held out; everything
else, including every interaction of users with fewer, is training data.

:func:`holdout_protocol` cuts twice: test from all of the data, then validation
from each user's training part the same way. Hyper-parameters are chosen by
fitting on ``fit`` and scoring ``validation``; the chosen model is refitted on
``train`` and scored once on ``test``. Truth holds the held-out items a user had
not already interacted with in the data the model sees (those are excluded
from recommendations anyway); items nobody interacted with in training stay in
the truth and count as misses.

>>> import pandas as pd
>>> frame = pd.DataFrame({"user": ["u"] * 5, "item": [5, 4, 3, 2, 1],
...                       "time": [1, 2, 3, 3, 4]})
>>> train, held = last_fraction_split(frame, "user", "item", "time", fraction=0.4)
>>> train["item"].tolist(), held["item"].tolist()
([5, 4, 2], [3, 1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.interactions import to_seconds

__all__ = ["HoldoutProtocol", "holdout_protocol", "last_fraction_split", "truth_sets"]


def last_fraction_split(
    frame: pd.DataFrame,
    user: str = "user_id",
    item: str = "item_id",
    time: str = "timestamp",
    *,
    fraction: float = 0.2,
    min_interactions: int = 5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, held_out)``: each eligible user's last ``fraction`` of rows held out.

    Rows keep their columns and original index; both parts are ordered by user,
    time and item.
    """
    if not 0.0 < fraction < 1.0:
        raise RecommendInputError(
            f"must lie strictly between 0 and 1; got {fraction!r}.", field="fraction"
        )
    if int(min_interactions) != min_interactions or min_interactions < 2:
        raise RecommendInputError(
            f"must be an integer >= 2; got {min_interactions!r}.", field="min_interactions"
        )
    for column in (user, item, time):
        if column not in frame.columns:
            raise RecommendInputError(
                f"column {column!r} not found; the frame has {list(frame.columns)}.",
                field=column,
            )
    seconds = to_seconds(frame[time], field=time)
    ordered = frame.assign(_t=seconds).sort_values([user, "_t", item], kind="stable")
    n = ordered.groupby(user, sort=False)[item].transform("size").to_numpy()
    position = ordered.groupby(user, sort=False).cumcount().to_numpy()
    n_out = np.where(n >= min_interactions, np.maximum(1, np.floor(n * fraction + 1e-9)), 0)
    held = position >= n - n_out
    ordered = ordered.drop(columns="_t")
    return ordered[~held], ordered[held]


def truth_sets(
    held_out: pd.DataFrame,
    user: str = "user_id",
    item: str = "item_id",
    seen: pd.DataFrame | None = None,
) -> dict[Any, set[Any]]:
    """Held-out items per user, without those the user already has in ``seen``.

    >>> held = pd.DataFrame({"u": [1, 1, 2], "i": ["a", "b", "a"]})
    >>> truth_sets(held, "u", "i", seen=pd.DataFrame({"u": [1], "i": ["b"]}))
    {1: {'a'}, 2: {'a'}}
    """
    pairs = held_out[[user, item]].drop_duplicates()
    if seen is not None and len(seen):
        known = seen[[user, item]].drop_duplicates().assign(_seen=True)
        pairs = pairs.merge(known, on=[user, item], how="left")
        pairs = pairs[pairs["_seen"].isna()]
    out: dict[Any, set[Any]] = {}
    for u, i in zip(pairs[user].tolist(), pairs[item].tolist(), strict=True):
        out.setdefault(u, set()).add(i)
    return out


@dataclass(frozen=True)
class HoldoutProtocol:
    """The frames and truth sets of a validation + test holdout (see the module docstring)."""

    train: pd.DataFrame
    test_truth: dict[Any, set[Any]]
    fit: pd.DataFrame
    validation_truth: dict[Any, set[Any]]
    columns: tuple[str, str, str]

    def summary(self) -> dict[str, int]:
        """Row and user counts of each part."""
        return {
            "train_rows": len(self.train),
            "test_users": len(self.test_truth),
            "test_items": sum(len(v) for v in self.test_truth.values()),
            "fit_rows": len(self.fit),
            "validation_users": len(self.validation_truth),
            "validation_items": sum(len(v) for v in self.validation_truth.values()),
        }


def holdout_protocol(
    frame: pd.DataFrame,
    user: str = "user_id",
    item: str = "item_id",
    time: str = "timestamp",
    *,
    fraction: float = 0.2,
    min_interactions: int = 5,
) -> HoldoutProtocol:
    """Test cut from ``frame``, validation cut the same way from each user's training part.

    >>> frame = pd.DataFrame({"u": [1] * 10, "i": list(range(10)), "t": list(range(10))})
    >>> p = holdout_protocol(frame, "u", "i", "t")
    >>> sorted(p.test_truth[1]), sorted(p.validation_truth[1]), len(p.fit)
    ([8, 9], [7], 7)
    """
    kw: dict[str, Any] = {"fraction": fraction, "min_interactions": min_interactions}
    train, test = last_fraction_split(frame, user, item, time, **kw)
    fit, validation = last_fraction_split(train, user, item, time, **kw)
    return HoldoutProtocol(
        train=train,
        test_truth=truth_sets(test, user, item, seen=train),
        fit=fit,
        validation_truth=truth_sets(validation, user, item, seen=fit),
        columns=(user, item, time),
    )
