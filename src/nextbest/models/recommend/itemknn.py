"""Item-kNN: cosine similarity between item columns with shrinkage, top neighbours kept.

The similarity of items ``i`` and ``j`` is ``c_ij / (sqrt(n_i n_j) + shrinkage)``
where ``c_ij`` counts the users who touched both and ``n_i`` those who touched
``i`` (on 0/1 interactions). Shrinkage pulls pairs seen by few users towards 0.
Each item keeps its ``neighbors`` most similar items. A user is scored by their
:func:`~nextbest.models.recommend.profile.decayed_profile` times the similarity.

Similarities are computed in column blocks, so memory stays near
``n_items x block`` whatever the catalogue.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4], "item": list("abababa"),
...                       "time": range(7)})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> knn = ItemKNN(shrinkage=0.0).fit(x)
>>> knn.recommend_frame([4], k=1)["item_id"].tolist()
['b']
>>> round(float(knn.similarity_[0, 1]), 3)
0.866
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.profile import check_decay, decayed_profile

__all__ = ["ItemKNN", "top_neighbors"]

_BLOCK_VALUES = 8_000_000


def top_neighbors(
    X: sp.csr_matrix,
    neighbors: int | None,
    normalize: str = "cosine",
    shrinkage: float = 0.0,
) -> sp.csr_matrix:
    """Item x item similarity (row = item, columns = its neighbours), top ``neighbors`` per row.

    ``normalize``: ``"cosine"`` (with ``shrinkage``), ``"jaccard"``, or ``"count"``
    (raw co-occurrence). The diagonal is zero.
    """
    if normalize not in ("cosine", "jaccard", "count"):
        raise RecommendInputError(
            f"must be 'cosine', 'jaccard' or 'count'; got {normalize!r}.", field="normalize"
        )
    neighbors = None if neighbors is None else int(neighbors)
    Xc = sp.csc_matrix(X, dtype=np.float64)
    n_items = Xc.shape[1]
    counts = np.diff(Xc.indptr).astype(np.float64)
    block = max(1, _BLOCK_VALUES // max(n_items, 1))
    XT = sp.csr_matrix(Xc.T)
    rows_out, cols_out, vals_out = [], [], []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        co = np.asarray((XT[start:stop] @ Xc).todense())  # (block, n_items)
        ids = np.arange(start, stop)
        co[ids - start, ids] = 0.0
        if normalize == "cosine":
            denom = np.sqrt(counts[ids, None] * counts[None, :]) + shrinkage
            sim = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0)
        elif normalize == "jaccard":
            denom = counts[ids, None] + counts[None, :] - co
            sim = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0)
        else:
            sim = co
        if neighbors is not None and neighbors < n_items:
            part = np.argpartition(-sim, neighbors - 1, axis=1)[:, :neighbors]
            r = np.repeat(np.arange(len(ids)), neighbors)
            c = part.ravel()
        else:
            r, c = np.nonzero(sim)
        v = sim[r, c]
        keep = v > 0
        rows_out.append(r[keep] + start)
        cols_out.append(c[keep])
        vals_out.append(v[keep])
    return sp.csr_matrix(
        (np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))),
        shape=(n_items, n_items),
    )


class ItemKNN(Recommender):
    """Item-based collaborative filtering; see the module docstring.

    Parameters
    ----------
    neighbors : int or None
        Neighbours kept per item (``None``: all).
    shrinkage : float
        Added to the cosine denominator.
    half_life, decay_by
        The scoring profile's decay (see :mod:`~nextbest.models.recommend.profile`).

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix
        Row ``i`` holds item ``i``'s neighbours and their similarity.
    """

    def __init__(
        self,
        neighbors: int | None = 100,
        shrinkage: float = 10.0,
        half_life: float | None = None,
        decay_by: str = "interactions",
    ) -> None:
        self.neighbors = neighbors
        self.shrinkage = shrinkage
        self.half_life = half_life
        self.decay_by = decay_by

    def _check(self) -> None:
        if self.neighbors is not None and (
            int(self.neighbors) != self.neighbors or self.neighbors < 1
        ):
            raise RecommendInputError(
                f"must be a positive integer or None; got {self.neighbors!r}.", field="neighbors"
            )
        if not self.shrinkage >= 0:
            raise RecommendInputError(
                f"must not be negative; got {self.shrinkage!r}.", field="shrinkage"
            )
        check_decay(self.half_life, self.decay_by)

    def fit(self, interactions: Interactions) -> ItemKNN:
        x = self._check_interactions(interactions)
        self._check()
        self.similarity_ = top_neighbors(x.binary(), self.neighbors, "cosine", self.shrinkage)
        self.profile_ = decayed_profile(x, self.half_life, self.decay_by)
        self.interactions_ = x
        return self

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.profile_[rows] @ self.similarity_).todense())
