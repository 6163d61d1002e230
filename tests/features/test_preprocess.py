"""The preprocessing pipeline built from the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nextbest.features import REGISTRY, Context, Feature
from nextbest.features.preprocess import build_preprocessor

FEATS = [
    Feature("a", "a"),
    Feature("b", "b"),
    Feature("c", "c"),
    Feature("tier", "tier", dtype="string"),
]
X = pd.DataFrame(
    {
        "a": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
        "b": [2.0, 4.0, 6.0, np.nan, 10.0, 12.0],
        "c": [np.nan, 1.0, 1.0, 1.0, 1.0, 9.0],
        "tier": ["gold", "silver", None, "gold", "gold", "silver"],
    }
)
y = np.array([1, 0, 0, 1, 1, 0])


def test_median_scaling_and_onehot() -> None:
    out = build_preprocessor(FEATS).fit_transform(X)
    assert list(out.columns) == ["a", "b", "c", "tier_gold", "tier_silver", "tier_unknown"]
    assert not out.isna().any().any()
    assert out[["a", "b", "c"]].mean().abs().max() < 1e-12  # standardised
    assert out["tier_unknown"].tolist() == [0, 0, 1, 0, 0, 0]


def test_per_feature_strategies() -> None:
    pre = build_preprocessor(
        FEATS,
        impute={"a": "mean", "b": "knn", "c": "constant:-1"},
        scale=False,
    )
    out = pre.fit_transform(X)
    assert out.loc[2, "a"] == pytest.approx(np.nanmean(X["a"]))
    assert out.loc[0, "c"] == -1
    assert out.loc[3, "b"] == pytest.approx(np.mean([2.0, 4.0, 6.0, 10.0, 12.0]))  # 5 neighbours


def test_iterative_imputation_uses_the_other_columns() -> None:
    frame = pd.DataFrame({"a": np.arange(20.0), "b": 2 * np.arange(20.0)})
    frame.loc[7, "b"] = np.nan
    pre = build_preprocessor(
        [Feature("a", "a"), Feature("b", "b")], default_impute="iterative", scale=False
    )
    assert pre.fit_transform(frame).loc[7, "b"] == pytest.approx(14.0, abs=0.5)


def test_target_encoding() -> None:
    big = pd.concat([X] * 10, ignore_index=True)
    target = np.tile(y, 10)
    out = build_preprocessor(FEATS, encode="target").fit_transform(big, target)
    assert "tier" in out.columns and out["tier"].notna().all()
    gold = out.loc[big.tier == "gold", "tier"].mean()
    silver = out.loc[big.tier == "silver", "tier"].mean()
    assert gold > silver  # gold customers have the higher target rate here


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown imputation"):
        build_preprocessor(FEATS, impute={"a": "magic"})


def test_builds_from_the_registry() -> None:
    features = [f for f in REGISTRY.declared(Context.empty()) if "<" not in f.name]
    pre = build_preprocessor(features)
    names = {c for _, _, cols in pre.transformers for c in cols}
    assert {"recency_days", "loyalty_tier", "favourite_category"} <= names
