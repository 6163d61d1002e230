"""Most popular and trending items: the fallback every other generator must beat.

``Popularity()`` scores each item by the number of distinct users who interacted
with it. ``Popularity(window_days=7)`` ("trending") counts only the users in the
last ``window_days`` before the latest interaction (or ``as_of``), and
``half_life_days`` weighs each user's latest touch by ``2 ** (-age / half_life)``.
Every user gets the same ranking, minus what they have already seen.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 2, 3, 3, 1], "item": ["a", "a", "a", "b", "c"],
...                       "time": [0, 0, 0, 9, 10]})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> Popularity().fit(x).recommend_frame([2], k=2)["item_id"].tolist()
['b', 'c']
>>> Popularity(window_days=1 / 86400 * 2).fit(x).item_scores_.tolist()
[0.0, 1.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions, to_seconds

__all__ = ["Popularity"]

_DAY = 86_400.0


class Popularity(Recommender):
    """Items ranked by distinct users (optionally recent and decayed); see the module docstring.

    Parameters
    ----------
    window_days : float, optional
        Count only interactions in the last ``window_days`` (trending).
    half_life_days : float, optional
        Weigh each (user, item) by the age of its latest interaction.
    as_of : datetime or Unix seconds, optional
        The time windows and ages count back from (default: the latest interaction).

    Attributes
    ----------
    item_scores_ : ndarray
        The score of every item.
    """

    def __init__(
        self,
        window_days: float | None = None,
        half_life_days: float | None = None,
        as_of: Any = None,
    ) -> None:
        self.window_days = window_days
        self.half_life_days = half_life_days
        self.as_of = as_of

    def fit(self, interactions: Interactions) -> Popularity:
        x = self._check_interactions(interactions)
        for name in ("window_days", "half_life_days"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise RecommendInputError(f"must be positive; got {value!r}.", field=name)
        last = x.last_time.tocoo()
        now = float(last.data.max()) if self.as_of is None else float(to_seconds([self.as_of])[0])
        age = np.maximum(now - last.data, 0.0)
        weight = np.ones_like(age)
        if self.window_days is not None:
            # the latest touch in the window, or any touch in it: use the log
            log = x.log
            recent = log[(log["time"] > now - self.window_days * _DAY) & (log["time"] <= now)]
            pairs = recent.groupby(["user", "item"], sort=False)["time"].max().reset_index()
            age = now - pairs["time"].to_numpy()
            cols = pairs["item"].to_numpy()
            weight = np.ones(len(pairs))
        else:
            cols = last.col
        if self.half_life_days is not None:
            weight = weight * np.exp2(-age / (self.half_life_days * _DAY))
        self.item_scores_ = np.bincount(cols, weights=weight, minlength=x.n_items).astype(float)
        self.interactions_ = x
        return self

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores_, (len(rows), len(self.item_scores_))).copy()
