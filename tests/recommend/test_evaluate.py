"""The evaluation runner on a hand-computed case; tuning picks by validation only."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from recommend.planted import planted_blocks

from nextbest.models.recommend import (
    EASE,
    Interactions,
    ItemKNN,
    Popularity,
    RecommendInputError,
    compare,
    evaluate,
    grid_search,
    recommend_lists,
)


def small():
    rows = [("u1", "a"), ("u2", "a"), ("u2", "b"), ("u3", "a"), ("u3", "b"), ("u3", "c")]
    frame = pd.DataFrame(rows, columns=["u", "i"]).assign(t=range(6))
    return Interactions.from_frame(frame, "u", "i", "t", items=["a", "b", "c", "d"])


def test_metrics_on_a_hand_computed_case():
    model = Popularity().fit(small())  # a: 3 users, b: 2, c: 1, d: 0
    truth = {"u1": {"c"}, "u2": {"d"}, "u3": {"z"}}  # z: never seen in training, a miss
    assert recommend_lists(model, truth, k=2) == {
        "u1": ["b", "c"],
        "u2": ["c", "d"],
        "u3": ["d"],  # a, b, c already seen
    }
    m = evaluate(model, truth, k=2)
    hit2 = 1 / math.log2(3)
    assert m["precision"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["ndcg"] == pytest.approx(2 * hit2 / 3)
    assert m["map"] == pytest.approx((0.5 + 0.5) / 3)
    assert m["hit_rate"] == pytest.approx(2 / 3)
    assert m["coverage"] == pytest.approx(3 / 4)  # b, c, d of a..d
    info = {"b": -math.log2(2 / 6), "c": -math.log2(1 / 6), "d": -math.log2(1 / 6)}
    assert m["novelty"] == pytest.approx(
        ((info["b"] + info["c"]) / 2 + (info["c"] + info["d"]) / 2 + info["d"]) / 3
    )
    assert m.per_user("hit_rate").tolist() == [1.0, 1.0, 0.0]


def test_unknown_users_score_zero_and_empty_truth_is_an_error():
    model = Popularity().fit(small())
    m = evaluate(model, {"stranger": {"a"}, "u1": {"b"}}, k=1)
    assert m.per_user("hit_rate").tolist() == [0.0, 1.0]
    with pytest.raises(RecommendInputError, match="truth is empty"):
        evaluate(model, {}, k=1)


def test_diversity_with_item_features():
    model = Popularity().fit(small())
    features = {"a": [1.0, 0.0], "b": [1.0, 0.0], "c": [0.0, 1.0], "d": [0.0, 1.0]}
    m = evaluate(model, {"u1": {"c"}, "u2": {"d"}}, k=2, item_features=features)
    assert m.per_user("diversity").tolist() == [1.0, 0.0]  # [b, c] differ; [c, d] alike


def test_grid_search_keeps_the_best_validation_score():
    x, held = planted_blocks(seed=2)
    result = grid_search(ItemKNN, {"neighbors": [1, 9], "shrinkage": [0.0]}, x, held, k=1)
    assert len(result.table) == 2
    assert result.best_score == result.table["ndcg"].max()
    assert result.best_params == {
        "neighbors": int(result.table.iloc[0]["neighbors"]),
        "shrinkage": 0.0,
    }
    with pytest.raises(RecommendInputError):
        grid_search(ItemKNN, {}, x, held, metric="auc")
    grids = [{"neighbors": [1]}, {"neighbors": [9], "shrinkage": [5.0, 0.0]}]
    result = grid_search(ItemKNN, grids, x, held, k=1)
    assert len(result.table) == 3
    assert result.best_params in (
        {"neighbors": 1},
        {"neighbors": 9, "shrinkage": 5.0},
        {"neighbors": 9, "shrinkage": 0.0},
    )


def test_compare_tunes_on_validation_and_scores_test_once():
    fit, validation = planted_blocks(seed=3)
    train, test = planted_blocks(seed=4)
    out = compare(
        {"popularity": (Popularity, {}), "ease": (EASE, {"l2": [1.0, 100.0]})},
        fit,
        validation,
        train,
        test,
        k=3,
    )
    table = out.table().set_index("generator")
    assert table.loc["ease", "ndcg"] > table.loc["popularity", "ndcg"]
    assert set(out.grids["ease"]["l2"]) == {1.0, 100.0}
    assert out.params["ease"]["l2"] in (1.0, 100.0)
