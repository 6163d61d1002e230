"""RFM scoring and naming rules, k selection, personas, stability."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from nextbest.config import SegmentSettings
from nextbest.segments import (
    NO_PURCHASES,
    SEGMENTS,
    BehaviourClusters,
    describe_clusters,
    dunn_index,
    rfm_scores,
    segment_name,
    segment_snapshot,
    stability,
)


def test_every_score_pair_has_exactly_one_segment() -> None:
    names = {segment_name(r, fm) for r, fm in itertools.product(range(1, 6), range(1, 6))}
    assert names == set(SEGMENTS) - {NO_PURCHASES}


@pytest.mark.parametrize(
    ("r", "fm", "name"),
    [
        (5, 5, "Champions"),
        (5, 1, "New Customers"),
        (4, 1, "Promising"),
        (3, 3, "Need Attention"),
        (3, 1, "About to Sleep"),
        (1, 5, "Can't Lose Them"),
        (2, 4, "At Risk"),
        (2, 2, "Hibernating"),
        (1, 1, "Lost"),
        (4, 4, "Loyal Customers"),
        (5, 3, "Potential Loyalists"),
    ],
)
def test_segment_rules(r: int, fm: int, name: str) -> None:
    assert segment_name(r, fm) == name


def test_quintiles_from_ranks_with_shared_ties() -> None:
    snap = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "recency_days": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "frequency": [1, 1, 1, 1, 1, 1, 2, 3, 4, 5],
            "monetary": [10.0, 20, 30, 40, 50, 60, 70, 80, 90, 100],
        }
    )
    out = rfm_scores(snap)
    assert out["r"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert out["m"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out["f"].tolist()[:6] == [1] * 6  # the six one-order customers share a score
    assert out["f"].tolist()[6:] == [4, 4, 5, 5]
    assert out["fm"].tolist()[-1] == 5 and out["rfm_segment"].iloc[-1] == "Can't Lose Them"


def test_customers_without_orders_are_no_purchases() -> None:
    snap = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "recency_days": [None, 3.0],
            "frequency": [0, 2],
            "monetary": [0.0, 9.0],
        }
    )
    out = rfm_scores(snap).set_index("customer_id")
    assert out.loc["a", "rfm_segment"] == NO_PURCHASES and pd.isna(out.loc["a", "r"])


def _blobs(k: int, n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-20, 20, size=(k, 3))
    points = np.vstack([c + rng.normal(0, 0.6, size=(n, 3)) for c in centres])
    return pd.DataFrame(points, columns=["a", "b", "c"])


@pytest.mark.parametrize("k", [3, 4, 6])
def test_k_is_found_on_separated_blobs(k: int) -> None:
    X = _blobs(k)
    model = BehaviourClusters(features=["a", "b", "c"], k_values=range(2, 9)).fit(X)
    # heavy-tail compression is sign-preserving log1p: blobs stay apart
    assert model.k_ == k
    assert set(model.scores_.columns) >= {
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "dunn",
    }
    best = model.scores_.set_index("k").loc[k]
    assert best.davies_bouldin == model.scores_.davies_bouldin.min()
    assert len(set(model.predict(X))) == k


def test_dunn_index_by_hand() -> None:
    X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [5.0, 2.0]])
    assert dunn_index(X, np.array([0, 0, 1, 1])) == pytest.approx(5 / 2)


def test_persona_names_and_uniqueness() -> None:
    snap = pd.DataFrame(
        {
            "monetary": [10.0, 12, 900, 950, 11, 13],
            "discount_share": [0.9, 0.8, 0.0, 0.1, 0.85, 0.9],
            "favourite_category": ["books", "books", "toys", "tv", "books", "garden"],
        }
    )
    personas = describe_clusters(snap, [0, 0, 1, 1, 2, 2], ["monetary", "discount_share"])
    assert personas[1].name.startswith("Big spenders, full-price buyers")
    assert personas[0].name == "Low spenders, deal seekers · books"  # |z| 0.70 vs 0.66
    assert len({p.name for p in personas}) == 3
    assert personas[0].top_categories[0] == {"category": "books", "share": 1.0}


def test_stability() -> None:
    a = pd.Series(["x", "x", "y", "y", "z"], index=list("abcde"))
    same = stability(a, a.map({"x": "p", "y": "q", "z": "r"}))
    assert same["adjusted_rand"] == 1.0
    moved = stability(a, pd.Series(["x", "y", "y", "y"], index=list("abcd")))
    assert moved["customers"] == 4
    assert moved["transitions"]["x"] == {"x": 0.5, "y": 0.5}
    assert moved["adjusted_rand"] < 1


def test_segment_snapshot_is_deterministic() -> None:
    rng = np.random.default_rng(4)
    snap = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(300)],
            "recency_days": rng.exponential(40, 300),
            "frequency": rng.integers(1, 12, 300),
            "monetary": rng.gamma(2, 60, 300),
            "sessions_90d": rng.poisson(5, 300),
        }
    )
    one = segment_snapshot(snap, SegmentSettings(k_max=5))
    two = segment_snapshot(snap, SegmentSettings(k_max=5))
    assert one.table.equals(two.table)
    assert 3 <= one.k <= 5
    assert set(one.table["persona"]) == {p.name for p in one.personas}


def test_optional_pca_keeps_the_variance_asked_for() -> None:
    X = _blobs(3)
    X["d"] = X["a"] * 2 + 0.01  # a redundant column PCA folds away
    model = BehaviourClusters(
        features=["a", "b", "c", "d"], k_values=range(2, 6), pca_components=0.95
    )
    model.fit(X)
    assert model.pca_.explained_variance_ratio_.sum() >= 0.95
    assert model.transform(X).shape[1] < 4
    assert model.k_ == 3
