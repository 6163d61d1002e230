"""EASE: a closed-form item x item linear model (Steck, 2019), scored with decayed profiles.

EASE learns ``B`` minimising ``||X - X B||^2 + l2 ||B||^2`` with ``diag(B) = 0``.
With ``P = (X'X + l2 I)^-1`` the solution is ``B = I - P diag(P)^-1``. ``P`` is
found through the smaller inverse:

* ``solver="items"``: invert the ``n_items x n_items`` Gram matrix directly;
* ``solver="users"``: by the Woodbury identity
  ``P = (I - X' (l2 I + X X')^-1 X) / l2``, inverting ``n_users x n_users``.
  ``B`` is then never formed: a profile ``p`` scores ``p B = p - (p P) / diag(P)``.

``solver="auto"`` picks the smaller side. Users are scored with their
:func:`~nextbest.models.recommend.profile.decayed_profile`, so with a
``half_life`` the latest interactions weigh most.

>>> import numpy as np, pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"],
...                       "time": [0, 1, 0, 1, 0]})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> ease = EASE(l2=1.0).fit(x)
>>> ease.recommend_frame([3], k=1)["item_id"].tolist()
['b']
>>> bool(np.allclose(EASE(l2=1.0, solver="users").fit(x).coefficients(), ease.coefficients()))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.profile import check_decay, decayed_profile

__all__ = ["EASE"]

SOLVERS = ("auto", "items", "users")


def _gram_inverse(g: np.ndarray, l2: float) -> np.ndarray:
    g[np.diag_indices_from(g)] += l2
    return sla.inv(g, overwrite_a=True, check_finite=False)


class EASE(Recommender):
    """Embarrassingly shallow autoencoder; see the module docstring.

    Parameters
    ----------
    l2 : float
        Ridge penalty on ``B``.
    half_life : float, optional
        Half-life of the scoring profile, in ``decay_by`` units; ``None``: no decay.
    decay_by : {"days", "interactions"}
        Age unit of the profile decay.
    binary : bool
        Fit on 0/1 interactions (True) or on the interaction weights.
    solver : {"auto", "items", "users"}
        Which inverse to compute (see above).

    Attributes
    ----------
    solver_ : str
        The side actually inverted.
    B_ : ndarray or None
        The item x item weights (``solver_ == "items"`` only; see :meth:`coefficients`).
    """

    def __init__(
        self,
        l2: float = 500.0,
        half_life: float | None = None,
        decay_by: str = "interactions",
        binary: bool = True,
        solver: str = "auto",
    ) -> None:
        self.l2 = l2
        self.half_life = half_life
        self.decay_by = decay_by
        self.binary = binary
        self.solver = solver

    def fit(self, interactions: Interactions) -> EASE:
        x = self._check_interactions(interactions)
        if not (isinstance(self.l2, int | float) and self.l2 > 0):
            raise RecommendInputError(f"must be a positive number; got {self.l2!r}.", field="l2")
        if self.solver not in SOLVERS:
            raise RecommendInputError(
                f"must be one of {SOLVERS}; got {self.solver!r}.", field="solver"
            )
        check_decay(self.half_life, self.decay_by)
        X = (x.binary() if self.binary else x.matrix).astype(np.float64)
        solver = self.solver
        if solver == "auto":
            solver = "users" if x.n_users < x.n_items else "items"
        l2 = float(self.l2)
        if solver == "items":
            P = _gram_inverse(np.asarray((X.T @ X).todense()), l2)
            B = np.ascontiguousarray(-P / np.diag(P)[None, :])  # row-major: sparse @ B is fast
            B[np.diag_indices_from(B)] = 0.0
            self.B_: np.ndarray | None = B
        else:
            K = _gram_inverse(np.asarray((X @ X.T).todense()), l2)
            self._X = sp.csr_matrix(X)
            self._K = K
            # diag(P) = (1 - diag(X' K X)) / l2
            XtK = np.asarray(X.T @ K)  # n_items x n_users
            diag = (1.0 - np.asarray(X.T.multiply(XtK).sum(axis=1)).ravel()) / l2
            self._diag = diag
            self.B_ = None
        self.solver_ = solver
        self.profile_ = decayed_profile(x, self.half_life, self.decay_by)
        self.interactions_ = x
        return self

    def _times_b(self, p: np.ndarray | sp.csr_matrix) -> np.ndarray:
        """``p B`` for profiles ``p`` (dense or sparse rows; sparse is far cheaper)."""
        if self.B_ is not None:
            return np.asarray(p @ self.B_)
        X, K, l2 = self._X, self._K, float(self.l2)
        product: Any = X @ p.T  # (n_users, rows)
        q = product.toarray() if sp.issparse(product) else np.asarray(product)
        dense = p.toarray() if isinstance(p, sp.spmatrix | sp.sparray) else np.asarray(p)
        pP = (dense - np.asarray(X.T @ (K @ q)).T) / l2
        return dense - pP / self._diag[None, :]

    def coefficients(self) -> np.ndarray:
        """The dense ``n_items x n_items`` matrix ``B`` (formed on demand for the user side)."""
        self._check_fitted()
        if self.B_ is not None:
            return self.B_
        return self._times_b(np.eye(self.interactions_.n_items))

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self._times_b(self.profile_[rows])
