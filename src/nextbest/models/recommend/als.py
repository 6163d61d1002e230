"""Implicit-feedback ALS (Hu, Koren and Volinsky, 2008) through the ``implicit`` library.

Each observed (user, item) has preference 1 and confidence ``1 + alpha * w``
(``w`` the interaction weight, or 1 with ``binary=True``); unobserved pairs have
preference 0 and confidence 1. Alternating least squares with an L2 penalty
``regularization`` learns ``factors``-dimensional user and item vectors; a user's
score for an item is their dot product. The seed fixes the result.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"],
...                       "time": range(5)})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> als = ALS(factors=2, iterations=10, regularization=0.01).fit(x)
>>> als.user_factors_.shape, als.recommend_frame([3], k=1)["item_id"].tolist()
((3, 2), ['b'])
"""

from __future__ import annotations

from typing import Any

from nextbest.models.recommend._implicit import FactorModel, _positive

__all__ = ["ALS"]


class ALS(FactorModel):
    """Alternating least squares on implicit feedback; see the module docstring.

    Parameters
    ----------
    factors : int
        Latent dimensions.
    regularization : float
        L2 penalty on the factors.
    alpha : float
        Confidence slope.
    iterations : int
        ALS sweeps.
    binary : bool
        Use 0/1 interactions instead of the weights.
    seed : int
        Random initialisation.
    threads : int
        Threads ``implicit`` uses.

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray
        The learnt vectors.
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        binary: bool = True,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.binary = binary
        self.seed = seed
        self.threads = threads

    def _model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        _positive("factors", self.factors, integer=True)
        _positive("iterations", self.iterations, integer=True)
        _positive("regularization", self.regularization)
        _positive("alpha", self.alpha)
        return AlternatingLeastSquares(
            factors=int(self.factors),
            regularization=float(self.regularization),
            alpha=float(self.alpha),
            iterations=int(self.iterations),
            random_state=int(self.seed),
            num_threads=int(self.threads),
        )
