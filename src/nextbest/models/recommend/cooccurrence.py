"""Item-to-item co-occurrence: "bought together", "viewed also viewed".

Two items co-occur when the same user touched both (on 0/1 interactions). The
score of ``j`` given ``i`` is the number of such users, or that count divided
by the users of either (``normalize="jaccard"``). Each item keeps its
``neighbors`` strongest partners, which are also what :meth:`CoOccurrence.related`
returns for a product page. A user is scored by their decayed profile times the
co-occurrence matrix, so partners of the latest items weigh most.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4], "item": list("abababc"),
...                       "time": range(7)})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> cooc = CoOccurrence(normalize="count").fit(x)
>>> cooc.related("a", k=2)
[('b', 3.0)]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.itemknn import top_neighbors
from nextbest.models.recommend.profile import check_decay, decayed_profile

__all__ = ["CoOccurrence"]


class CoOccurrence(Recommender):
    """Co-occurrence counts between items; see the module docstring.

    Parameters
    ----------
    normalize : {"count", "jaccard"}
        Raw counts or Jaccard overlap.
    neighbors : int or None
        Partners kept per item.
    half_life, decay_by
        The scoring profile's decay.

    Attributes
    ----------
    cooccurrence_ : scipy.sparse.csr_matrix
        Row ``i``: item ``i``'s partners and their strength.
    """

    def __init__(
        self,
        normalize: str = "jaccard",
        neighbors: int | None = 200,
        half_life: float | None = None,
        decay_by: str = "interactions",
    ) -> None:
        self.normalize = normalize
        self.neighbors = neighbors
        self.half_life = half_life
        self.decay_by = decay_by

    def fit(self, interactions: Interactions) -> CoOccurrence:
        x = self._check_interactions(interactions)
        if self.normalize not in ("count", "jaccard"):
            raise RecommendInputError(
                f"must be 'count' or 'jaccard'; got {self.normalize!r}.", field="normalize"
            )
        if self.neighbors is not None and (
            int(self.neighbors) != self.neighbors or self.neighbors < 1
        ):
            raise RecommendInputError(
                f"must be a positive integer or None; got {self.neighbors!r}.", field="neighbors"
            )
        check_decay(self.half_life, self.decay_by)
        self.cooccurrence_ = top_neighbors(x.binary(), self.neighbors, self.normalize)
        self.profile_ = decayed_profile(x, self.half_life, self.decay_by)
        self.interactions_ = x
        return self

    def related(self, item: Any, k: int = 10) -> list[tuple[Any, float]]:
        """The ``k`` strongest partners of ``item`` with their strength."""
        self._check_fitted()
        x = self.interactions_
        row = self.cooccurrence_[int(x.item_index([item])[0])]
        order = np.lexsort((row.indices, -row.data))[:k]
        ids = x.items[row.indices[order]].tolist()
        return [(i, float(v)) for i, v in zip(ids, row.data[order], strict=True)]

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.profile_[rows] @ self.cooccurrence_).todense())
