"""Shared plumbing for the ``implicit`` library's factorisation models."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions

__all__ = ["FactorModel"]


def _positive(name: str, value: Any, integer: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    if integer:
        ok = ok and int(value) == value
    if not ok:
        kind = "a positive integer" if integer else "a positive number"
        raise RecommendInputError(f"must be {kind}; got {value!r}.", field=name)


class FactorModel(Recommender):
    """A user x factor and an item x factor matrix learnt by ``implicit``; score = dot product."""

    threads: int
    binary: bool

    def _model(self) -> Any:
        raise NotImplementedError

    def _train_matrix(self, x: Interactions) -> sp.csr_matrix:
        m = x.binary() if self.binary else x.matrix
        # implicit writes through buffers: hand it arrays of its own
        data = np.array(m.data, dtype=np.float32)
        return sp.csr_matrix((data, m.indices.copy(), m.indptr.copy()), shape=m.shape)

    def fit(self, interactions: Interactions) -> FactorModel:
        x = self._check_interactions(interactions)
        _positive("threads", self.threads, integer=True)
        # implicit wants a single BLAS thread: its own threads do the parallel work
        with threadpool_limits(limits=1, user_api="blas"):
            model = self._model()
            model.fit(self._train_matrix(x), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float64)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float64)
        self.interactions_ = x
        return self

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows] @ self.item_factors_.T
