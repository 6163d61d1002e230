"""What comes next: item-to-item transitions from each user's sequence, time-decayed.

Each user's events are taken in time order (ties by item). For every pair of
events ``d`` steps apart, ``1 <= d <= window``, the transition ``i -> j`` gains
``2 ** (-(d - 1) / gap_half_life)``; repeats of the same item are skipped. Row
``i`` is then divided by ``(transitions out of i) ** alpha`` so that very common
items do not drown the rest. A user is scored from their ``recent`` latest items,
each weighted ``2 ** (-age / half_life)`` by how many of their items came later,
times the transition matrix.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"],
...                       "time": [0, 1, 0, 1, 5]})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> seq = Transitions(window=1, alpha=1.0).fit(x)
>>> seq.transitions_.toarray().tolist()
[[0.0, 1.0], [0.0, 0.0]]
>>> seq.recommend_frame([3], k=1)["item_id"].tolist()
['b']
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.profile import check_decay, decayed_profile

__all__ = ["Transitions"]


class Transitions(Recommender):
    """Sequential item-to-item model; see the module docstring.

    Parameters
    ----------
    window : int
        How many steps ahead count as "next".
    gap_half_life : float
        Decay of a transition's weight with its distance in steps.
    alpha : float
        Row normalisation exponent (0: raw sums, 1: probabilities).
    recent : int or None
        How many of the user's latest items score them.
    half_life : float or None
        Decay of the scoring items by age (``decay_by`` units).
    decay_by : {"interactions", "days"}
        Age unit of the scoring decay.

    Attributes
    ----------
    transitions_ : scipy.sparse.csr_matrix
        Row ``i``: the items that follow ``i`` and their normalised weight.
    """

    def __init__(
        self,
        window: int = 5,
        gap_half_life: float = 2.0,
        alpha: float = 0.5,
        recent: int | None = 20,
        half_life: float | None = 5.0,
        decay_by: str = "interactions",
    ) -> None:
        self.window = window
        self.gap_half_life = gap_half_life
        self.alpha = alpha
        self.recent = recent
        self.half_life = half_life
        self.decay_by = decay_by

    def _check(self) -> None:
        if int(self.window) != self.window or self.window < 1:
            raise RecommendInputError(
                f"must be a positive integer; got {self.window!r}.", field="window"
            )
        if not self.gap_half_life > 0:
            raise RecommendInputError(
                f"must be positive; got {self.gap_half_life!r}.", field="gap_half_life"
            )
        if not 0 <= self.alpha <= 1:
            raise RecommendInputError(f"must lie in [0, 1]; got {self.alpha!r}.", field="alpha")
        check_decay(self.half_life, self.decay_by)

    def fit(self, interactions: Interactions) -> Transitions:
        x = self._check_interactions(interactions)
        self._check()
        log = x.log
        users = log["user"].to_numpy()
        items = log["item"].to_numpy()
        src, dst, wts = [], [], []
        for d in range(1, int(self.window) + 1):
            same = users[d:] == users[:-d] if d < len(users) else np.zeros(0, dtype=bool)
            a, b = items[:-d][same], items[d:][same]
            keep = a != b
            src.append(a[keep])
            dst.append(b[keep])
            wts.append(np.full(int(keep.sum()), np.exp2(-(d - 1) / self.gap_half_life)))
        n = x.n_items
        t = sp.csr_matrix(
            (np.concatenate(wts), (np.concatenate(src), np.concatenate(dst))), shape=(n, n)
        )
        t.sum_duplicates()
        out = np.asarray(t.sum(axis=1)).ravel()
        scale = np.divide(1.0, out**self.alpha, out=np.zeros_like(out), where=out > 0)
        self.transitions_ = sp.csr_matrix(sp.diags(scale) @ t)
        self.profile_ = decayed_profile(x, self.half_life, self.decay_by, max_items=self.recent)
        self.interactions_ = x
        return self

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.profile_[rows] @ self.transitions_).todense())
