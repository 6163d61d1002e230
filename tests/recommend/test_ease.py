"""EASE: the closed form against a direct constrained solve; both inverse paths agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.ease import EASE
from nextbest.models.recommend.interactions import Interactions


def random_interactions(n_users: int, n_items: int, density: float = 0.4, seed: int = 0):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # nobody empty
    dense[rng.integers(0, n_users, n_items), np.arange(n_items)] = True
    u, i = np.nonzero(dense)
    frame = pd.DataFrame({"u": u, "i": i, "t": rng.random(len(u)) * 1e6})
    return Interactions.from_frame(frame, "u", "i", "t"), dense.astype(float)


def direct_solve(X: np.ndarray, l2: float) -> np.ndarray:
    """min ||X - XB||^2 + l2 ||B||^2 with diag(B) = 0, one ridge regression per column."""
    n = X.shape[1]
    B = np.zeros((n, n))
    for j in range(n):
        others = [c for c in range(n) if c != j]
        A = X[:, others]
        B[others, j] = np.linalg.solve(A.T @ A + l2 * np.eye(n - 1), A.T @ X[:, j])
    return B


@pytest.mark.parametrize(("n_users", "n_items"), [(12, 6), (5, 9)])
def test_closed_form_equals_the_direct_solve(n_users, n_items):
    x, X = random_interactions(n_users, n_items)
    for solver in ("items", "users"):
        B = EASE(l2=2.5, solver=solver).fit(x).coefficients()
        assert np.allclose(B, direct_solve(X, 2.5), atol=1e-10), solver
        assert np.allclose(np.diag(B), 0.0)


def test_auto_picks_the_smaller_side():
    wide, _ = random_interactions(5, 9)
    tall, _ = random_interactions(12, 6)
    assert EASE().fit(wide).solver_ == "users"
    assert EASE().fit(tall).solver_ == "items"


def test_both_paths_score_the_same():
    x, _ = random_interactions(8, 11, seed=3)
    a = EASE(l2=1.0, half_life=2.0, solver="items").fit(x)
    b = EASE(l2=1.0, half_life=2.0, solver="users").fit(x)
    assert np.allclose(a.score(range(8)), b.score(range(8)))
    assert (a.recommend(k=3)[0] == b.recommend(k=3)[0]).all()


def test_decayed_profile_follows_the_latest_interaction():
    # items a..d: a and b are always co-consumed, c and d too; the user's latest is c
    rows = []
    for u in range(10):
        rows += [(f"p{u}", "a", 0), (f"p{u}", "b", 1)]
        rows += [(f"q{u}", "c", 0), (f"q{u}", "d", 1)]
    rows += [("me", "a", 0), ("me", "c", 100)]
    x = Interactions.from_frame(pd.DataFrame(rows, columns=["u", "i", "t"]), "u", "i", "t")
    me = x.user_index(["me"])
    plain = EASE(l2=1.0).fit(x).score(me)[0]
    decayed = EASE(l2=1.0, half_life=1.0, decay_by="interactions").fit(x).score(me)[0]
    b, d = x.item_index(["b", "d"])
    assert np.isclose(plain[b], plain[d])  # no decay: a tie
    assert decayed[d] > decayed[b]  # decay: what goes with the latest wins
    assert EASE(l2=1.0, half_life=1.0).fit(x).recommend(me, k=1)[0][0, 0] == d


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"l2": 0}, "l2"),
        ({"solver": "x"}, "solver"),
        ({"half_life": -1}, "half_life"),
        ({"decay_by": "weeks"}, "decay_by"),
    ],
)
def test_bad_hyper_parameters(kwargs, field):
    x, _ = random_interactions(4, 4)
    with pytest.raises(RecommendInputError) as err:
        EASE(**kwargs).fit(x)
    assert err.value.field == field
