"""Ranking metrics: hand-computed lists, scikit-learn's NDCG, and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from nextbest.evaluation import (
    EvaluationInputError,
    average_precision_at_k,
    catalogue_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    map_at_k,
    ndcg_at_k,
    novelty,
    paired_bootstrap,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)


def test_single_list_by_hand() -> None:
    rec, truth = ["a", "b", "c"], {"a", "c"}
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal holds 2 hits: 1 + 1/log2(3)
    assert ndcg_at_k(rec, truth, k=3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert precision_at_k(rec, truth, k=3) == pytest.approx(2 / 3)
    assert recall_at_k(rec, truth, k=3) == 1.0
    # hits at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision_at_k(rec, truth, k=3) == pytest.approx(5 / 6)
    assert hit_rate_at_k(rec, truth, k=1) == 1.0
    assert hit_rate_at_k(["b", "a"], truth, k=1) == 0.0
    # k cuts the list: only "a" counts; ideal DCG from min(|truth|, k) = 1
    assert ndcg_at_k(rec, truth, k=1) == 1.0
    assert precision_at_k(rec, truth, k=1) == 1.0 and recall_at_k(rec, truth, k=1) == 0.5


def test_normalisation_by_min_truth_k_and_short_lists() -> None:
    truth = {"a", "b", "c", "d"}
    assert average_precision_at_k(["a", "b"], truth, k=2) == 1.0
    assert ndcg_at_k(["a", "b", "x"], truth, k=2) == 1.0
    # a one-item list for k = 3: precision counts the empty slots
    assert precision_at_k(["a"], {"a"}, k=3) == pytest.approx(1 / 3)
    assert ndcg_at_k(["x", "a"], {"a"}, k=2) == pytest.approx(1 / math.log2(3))
    # hit at rank 2 only, two relevant, k = 3: (1/2) / 2
    assert average_precision_at_k(["x", "a", "y"], {"a", "b"}, k=3) == 0.25


def test_ranking_metrics_dict_users_skipping_and_per_user() -> None:
    rec = {"u1": ["a", "b", "c"], "u2": ["c", "d", "e"], "u3": ["a"], "u4": ["x"]}
    truth = {"u1": {"b"}, "u2": {"c", "e"}, "u3": set(), "u5": {"a"}}
    m = ranking_metrics(rec, truth, k=3)
    # u3 (empty truth) and u4 (no truth) are skipped; u5 has no list and scores 0
    assert m.users == ["u1", "u2", "u5"]
    np.testing.assert_allclose(m.per_user("precision"), [1 / 3, 2 / 3, 0])
    np.testing.assert_allclose(m.per_user("recall"), [1, 1, 0])
    np.testing.assert_allclose(m.per_user("hit_rate"), [1, 1, 0])
    ideal2 = 1 + 1 / math.log2(3)
    np.testing.assert_allclose(m.per_user("ndcg"), [1 / math.log2(3), 1.5 / ideal2, 0])
    np.testing.assert_allclose(m.per_user("map"), [0.5, (1 + 2 / 3) / 2, 0])
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["map"] == pytest.approx((0.5 + 5 / 6) / 3)
    assert set(m) == {"precision", "recall", "ndcg", "map", "hit_rate"}
    with pytest.raises(EvaluationInputError, match="novelty"):
        m.per_user("novelty")


def test_lists_of_lists_and_map() -> None:
    assert map_at_k([["a", "x"], ["x", "b"]], [{"a"}, {"b"}], k=2) == pytest.approx(0.75)
    m = ranking_metrics([["a", "x"], ["x", "b"], ["z"]], [{"a"}, {"b"}, set()], k=2)
    assert m.users == [0, 1] and m["hit_rate"] == 1.0


def test_novelty_coverage_diversity_by_hand() -> None:
    popularity = {"a": 4, "b": 2, "c": 2, "d": 0}
    # shares 1/2, 1/4, 1/4; "d" counts as seen once: 1/8
    assert novelty(["a", "b"], popularity, k=2) == pytest.approx((1 + 2) / 2)
    assert novelty(["d"], popularity) == pytest.approx(3.0)
    assert novelty(["new"], popularity) == pytest.approx(3.0)
    assert catalogue_coverage([["a", "b"], ["b", "c"]], 4, k=2) == 0.75
    assert catalogue_coverage([["a", "zz"]], ["a", "b"], k=2) == 0.5
    feats = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]}
    # cosines: a-b 0, a-c and b-c 1/sqrt(2)
    expected = 1 - (2 / math.sqrt(2)) / 3
    assert intra_list_diversity(["a", "b", "c"], feats, k=3) == pytest.approx(expected)
    frame = pd.DataFrame(feats).T
    assert intra_list_diversity(["a", "b", "c"], frame, k=3) == pytest.approx(expected)
    same = intra_list_diversity(["a", "b"], similarity=lambda i, j: 0.25 if i != j else 1.0)
    assert same == 0.75
    assert math.isnan(intra_list_diversity(["a"], feats))
    m = ranking_metrics(
        {"u": ["a", "b", "c"], "v": ["c"], "w": ["d", "a"]},
        {"u": {"a"}, "v": {"c"}},
        k=3,
        item_popularity=popularity,
        item_features=feats | {"d": [0.0, 0.0]},
    )
    np.testing.assert_allclose(m.per_user("novelty"), [5 / 3, 2])
    assert m["novelty"] == pytest.approx((5 / 3 + 2) / 2)
    # "v" has one item, so its diversity is left out of the mean
    assert m["diversity"] == pytest.approx(expected)
    assert m["coverage"] == 1.0


def test_errors() -> None:
    with pytest.raises(EvaluationInputError, match="twice"):
        ranking_metrics({"u": ["a", "a"]}, {"u": {"a"}}, k=2)
    with pytest.raises(EvaluationInputError, match="empty"):
        ndcg_at_k(["a"], set())
    with pytest.raises(EvaluationInputError) as info:
        ranking_metrics([["a"]], [{"a"}], k=0)
    assert info.value.field == "k"
    with pytest.raises(EvaluationInputError, match="features"):
        ranking_metrics([["a", "b"]], [{"a"}], item_features={"a": [1.0]})


@pytest.mark.parametrize("seed", range(4))
def test_ndcg_matches_scikit_learn_on_full_rankings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 20, 12, 5
    scores = rng.random((n_users, n_items))
    relevant = rng.random((n_users, n_items)) < 0.25
    relevant[:, 0] = True
    rec = [list(np.argsort(-row)) for row in scores]
    truth = [set(np.flatnonzero(r)) for r in relevant]
    m = ranking_metrics(rec, truth, k=k)
    expected = [
        ndcg_score([r.astype(int)], [s], k=k) for r, s in zip(relevant, scores, strict=True)
    ]
    np.testing.assert_allclose(m.per_user("ndcg"), expected)


items = st.lists(st.integers(0, 30), min_size=1, max_size=15, unique=True)


@settings(max_examples=80, deadline=None)
@given(rec=items, truth=items, k=st.integers(1, 12))
def test_metrics_in_unit_interval_and_ideal_ordering_scores_one(rec, truth, k) -> None:
    m = ranking_metrics([rec], [set(truth)], k=k)
    for name in ("precision", "recall", "ndcg", "map", "hit_rate"):
        assert 0.0 <= m[name] <= 1.0 + 1e-12, name
    ideal = truth + [i for i in rec if i not in set(truth)]
    best = ranking_metrics([ideal], [set(truth)], k=k)
    assert best["ndcg"] == pytest.approx(1.0)
    assert best["map"] == pytest.approx(1.0)
    assert best["ndcg"] >= m["ndcg"] - 1e-12


def test_per_user_arrays_feed_the_paired_bootstrap() -> None:
    rng = np.random.default_rng(0)
    truth = {u: set(rng.choice(50, 5, replace=False).tolist()) for u in range(200)}
    good = {u: [*list(t)[:3], 90, 91] for u, t in truth.items()}
    poor = {u: [90, 91, 92, *list(t)[:1]] for u, t in truth.items()}
    a = ranking_metrics(poor, truth, k=5)
    b = ranking_metrics(good, truth, k=5)
    r = paired_bootstrap(a.per_user("ndcg"), b.per_user("ndcg"), n_boot=300)
    assert r.difference == pytest.approx(b["ndcg"] - a["ndcg"])
    assert r.low > 0 and r.share_b_better == 1.0
