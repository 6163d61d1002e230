"""Bayesian personalised ranking (Rendle et al., 2009) through the ``implicit`` library.

BPR learns user and item vectors by stochastic gradient steps that push each
user's observed items above sampled unobserved ones, with an L2 penalty
``regularization``; a user's score for an item is the dot product. The seed
fixes the sampling and the initialisation (with one thread the result is
reproducible).

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"],
...                       "time": range(5)})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> bpr = BPR(factors=4, iterations=20).fit(x)
>>> bpr.item_factors_.shape[0]
2
"""

from __future__ import annotations

from typing import Any

from nextbest.models.recommend._implicit import FactorModel, _positive

__all__ = ["BPR"]


class BPR(FactorModel):
    """Bayesian personalised ranking; see the module docstring.

    Parameters
    ----------
    factors : int
        Latent dimensions (``implicit`` adds one for the item bias).
    learning_rate : float
        SGD step size.
    regularization : float
        L2 penalty.
    iterations : int
        Passes over the interactions.
    seed : int
        Random sampling and initialisation.
    threads : int
        Threads ``implicit`` uses.

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray
        The learnt vectors.
    """

    binary = True

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.seed = seed
        self.threads = threads

    def _model(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        _positive("factors", self.factors, integer=True)
        _positive("iterations", self.iterations, integer=True)
        _positive("learning_rate", self.learning_rate)
        _positive("regularization", self.regularization)
        return BayesianPersonalizedRanking(
            factors=int(self.factors),
            learning_rate=float(self.learning_rate),
            regularization=float(self.regularization),
            iterations=int(self.iterations),
            random_state=int(self.seed),
            num_threads=int(self.threads),
        )
