"""Cell-wise TreeSHAP equals LightGBM's own ``pred_contrib`` on every kind of split."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from nextbest.models import treeshap
from nextbest.models.treeshap import tree_contributions


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 3] = rng.integers(0, 4, n)  # few distinct values: many rows sit on thresholds
    X[:, 4] = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(2.0, n))  # many zeros
    # zeros behave like large values, so a split that sets zeros apart sends them right
    odd = (X[:, 4] == 0) | (X[:, 4] > 2)
    y = X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] + 2.0 * odd - 1 + rng.normal(0, 0.5, n)
    return X, y


def _on_thresholds(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    """``X`` plus rows whose values sit exactly on the model's thresholds."""
    rows = []
    stack = [t["tree_structure"] for t in booster.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_index" in node:
            stack += [node["left_child"], node["right_child"]]
            if node["decision_type"] != "<=":
                continue
            row = X[len(rows) % len(X)].copy()
            row[node["split_feature"]] = float(node["threshold"])
            rows.append(row)
    return np.vstack([X, *rows]) if rows else X


def _fit(X: np.ndarray, y: np.ndarray, classify: bool = True, **params: object) -> lgb.Booster:
    base = {"n_estimators": 30, "num_leaves": 7, "verbose": -1, "n_jobs": 1, **params}
    if classify:
        return lgb.LGBMClassifier(**base).fit(X, (y > 0).astype(int)).booster_
    return lgb.LGBMRegressor(**base).fit(X, y).booster_


def _check(booster: lgb.Booster, X: np.ndarray, **kw: object) -> None:
    X = _on_thresholds(booster, X)
    ours = tree_contributions(booster, X, **kw)
    theirs = booster.predict(X, pred_contrib=True)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("leaves", [4, 7, 31])
def test_equals_pred_contrib_small_and_large_trees(leaves: int) -> None:
    X, y = _data()
    _check(_fit(X, y, num_leaves=leaves), X)


def test_regression_and_rows_in_chunks_on_threads() -> None:
    X, y = _data(seed=1)
    booster = _fit(X, y, classify=False, num_leaves=15)
    _check(booster, X, chunk=257, num_threads=2)


def test_missing_values_learned_and_unseen() -> None:
    X, y = _data(seed=2)
    holes = X.copy()
    holes[::7, 0] = np.nan
    # trained with missing values: splits send them their own way
    _check(_fit(holes, y), holes)
    # trained without: LightGBM reads a missing value as zero
    _check(_fit(X, y), holes)


def test_zero_as_missing() -> None:
    X, y = _data(seed=3)
    booster = _fit(X, y, zero_as_missing=True)
    zero_right = [
        node
        for t in booster.dump_model()["tree_info"]
        for node in _nodes(t["tree_structure"])
        if node.get("missing_type") == "Zero" and not node["default_left"]
    ]
    assert zero_right, "no split sends zeros right: the case is not exercised"
    _check(booster, X)
    tiny = X.copy()
    tiny[:5, 4] = 1e-40  # zero to LightGBM, not 0.0: computed the plain way, still exact
    _check(booster, tiny)


def _nodes(node: dict) -> list[dict]:
    if "split_index" not in node:
        return []
    return [node, *_nodes(node["left_child"]), *_nodes(node["right_child"])]


def test_single_leaf_trees_add_to_the_bias() -> None:
    X, y = _data(seed=4)
    booster = _fit(X, y, min_split_gain=1e9)  # no split is worth it
    assert all("split_index" not in t["tree_structure"] for t in booster.dump_model()["tree_info"])
    _check(booster, X)


def test_categorical_splits_use_lightgbm_directly() -> None:
    X, y = _data(seed=5)
    booster = (
        lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1, n_jobs=1)
        .fit(X, (y > 0).astype(int), categorical_feature=[3])
        .booster_
    )
    assert treeshap._parse(booster.dump_model()) is None
    _check(booster, X)


def test_enumerated_and_observed_cells_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data(seed=6)
    booster = _fit(X, y, num_leaves=7)
    enumerated = tree_contributions(booster, X)
    monkeypatch.setattr(treeshap, "_ENUMERATE", 0)  # every tree from the rows' own cells
    observed = tree_contributions(booster, X)
    np.testing.assert_allclose(enumerated, observed, rtol=0, atol=1e-12)
