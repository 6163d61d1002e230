"""Model-ready preprocessing built from the feature registry.

Numeric features are imputed (median by default; mean, most frequent, a constant,
k-nearest neighbours or iterative regression per feature where configured) and
scaled; text features get 'unknown' for missing values and are one-hot or target
encoded. The result is a scikit-learn ``ColumnTransformer`` that outputs pandas.

>>> import pandas as pd
>>> from nextbest.features import Feature
>>> feats = [Feature("spend", "spend"), Feature("tier", "tier", dtype="string")]
>>> X = pd.DataFrame({"spend": [1.0, None, 3.0], "tier": ["gold", None, "gold"]})
>>> pre = build_preprocessor(feats, scale=False).fit(X)
>>> pre.transform(X).to_dict("list")
{'spend': [1.0, 2.0, 3.0], 'tier_gold': [1.0, 0.0, 1.0], 'tier_unknown': [0.0, 1.0, 0.0]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sklearn.compose import ColumnTransformer
from sklearn.experimental import enable_iterative_imputer  # noqa: F401 (enables the import)
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from nextbest.features.registry import Feature

__all__ = ["NUMERIC_STRATEGIES", "build_preprocessor"]

NUMERIC_STRATEGIES = ("median", "mean", "most_frequent", "constant", "knn", "iterative")
UNKNOWN = "unknown"


def _imputer(strategy: str, random_state: int) -> object:
    if strategy == "knn":
        return KNNImputer(n_neighbors=5)
    if strategy == "iterative":
        return IterativeImputer(random_state=random_state, max_iter=10)
    if strategy.startswith("constant"):
        _, _, value = strategy.partition(":")
        return SimpleImputer(strategy="constant", fill_value=float(value or 0))
    if strategy not in NUMERIC_STRATEGIES:
        raise ValueError(f"unknown imputation {strategy!r}; use one of {NUMERIC_STRATEGIES}")
    return SimpleImputer(strategy=strategy)


def build_preprocessor(
    features: Sequence[Feature],
    *,
    impute: dict[str, str] | None = None,
    default_impute: str = "median",
    scale: bool = True,
    encode: Literal["onehot", "target"] = "onehot",
    random_state: int = 0,
) -> ColumnTransformer:
    """A ``ColumnTransformer`` for ``features`` (numeric vs text decided by their dtype).

    ``impute`` maps a feature to its strategy: ``median``, ``mean``, ``most_frequent``,
    ``constant:<value>``, ``knn`` or ``iterative``; the rest use ``default_impute``.
    Features with the same strategy are imputed together (KNN and iterative imputers
    use each other's columns).
    """
    impute = impute or {}
    numeric = [f.name for f in features if f.dtype != "string"]
    text = [f.name for f in features if f.dtype == "string"]
    groups: dict[str, list[str]] = {}
    for name in numeric:
        groups.setdefault(impute.get(name, default_impute), []).append(name)
    steps: list[tuple[str, object, list[str]]] = []
    for strategy, columns in groups.items():
        parts: list[object] = [_imputer(strategy, random_state)]
        if scale:
            parts.append(StandardScaler())
        steps.append((f"numeric_{strategy.split(':')[0]}", make_pipeline(*parts), columns))
    if text:
        encoder = (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            if encode == "onehot"
            else TargetEncoder(cv=KFold(5, shuffle=True, random_state=random_state))
        )
        fill = SimpleImputer(strategy="constant", fill_value=UNKNOWN)
        steps.append(("text", Pipeline([("fill", fill), ("encode", encoder)]), text))
    transformer = ColumnTransformer(steps, verbose_feature_names_out=False)
    return transformer.set_output(transform="pandas")
