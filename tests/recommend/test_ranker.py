"""The LightGBM re-ranker: learns which generator to trust, refits candidates, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from recommend.planted import planted_blocks

from nextbest.models.recommend import (
    EASE,
    CandidateRanker,
    NotFittedError,
    Popularity,
    RecommendInputError,
    evaluate,
)

SMALL = {"min_child_samples": 5, "num_leaves": 4}


def ranker(**kw):
    gens = {"popularity": Popularity(), "ease": EASE(l2=10.0)}
    return CandidateRanker(gens, n_candidates=8, params=SMALL, n_estimators=30, **kw)


def test_learns_to_follow_the_generator_that_finds_the_truth():
    x, truth = planted_blocks(seed=5, users_per_group=40)
    model = ranker(cv_folds=0).fit(x, truth)
    assert set(model.feature_names_) >= {"score:ease", "rank:popularity", "n_generators"}
    # candidates and the ranker come from the same period here: a fit check
    got = evaluate(model, truth, k=3)["ndcg"]
    pop = evaluate(Popularity().fit(x), truth, k=3)["ndcg"]
    ease = evaluate(EASE(l2=10.0).fit(x), truth, k=3)["ndcg"]
    assert got > pop + 0.1
    assert got >= ease - 0.05


def test_refit_keeps_the_ranker_and_is_deterministic():
    x, truth = planted_blocks(seed=6, users_per_group=30)
    later, _ = planted_blocks(seed=7, users_per_group=30)
    a = ranker(cv_folds=2).fit(x, truth)
    booster = a.ranker_
    a.refit_candidates(later)
    assert a.ranker_ is booster and a.interactions_ is later
    assert 1 <= a.n_estimators_ <= 30
    b = ranker(cv_folds=2).fit(x, truth).refit_candidates(later)
    items_a, scores_a = a.recommend(k=3)
    items_b, scores_b = b.recommend(k=3)
    assert (items_a == items_b).all() and np.allclose(scores_a, scores_b)
    seen = later.matrix.toarray() > 0
    assert not seen[np.arange(later.n_users)[:, None], items_a].any()


def test_bad_input():
    x, truth = planted_blocks(seed=1)
    with pytest.raises(RecommendInputError, match="truth"):
        ranker().fit(x)
    with pytest.raises(RecommendInputError, match="generators"):
        CandidateRanker({}).fit(x, truth)
    with pytest.raises(RecommendInputError) as err:
        ranker().fit(x, {"nobody": {"g0i01"}})
    assert err.value.field == "truth"
    with pytest.raises(NotFittedError):
        ranker().refit_candidates(x)
