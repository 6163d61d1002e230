"""A LightGBM model's trees as flat arrays, walked by compiled code.

:class:`Forest` reads a LightGBM model (its text form) into one array per node
attribute and predicts the raw score (the sum of the trees' leaf values, tree by
tree, as LightGBM sums them) with the split rules of LightGBM's numerical
decisions: a missing value goes the node's default way where the node learnt
one (``missing_type`` NaN or Zero), else counts as 0. It gives LightGBM's
numbers exactly, without the call and conversion cost LightGBM's ``predict``
has on the few rows of one customer.

>>> import lightgbm as lgb
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3))
>>> X[::7, 1] = np.nan
>>> y = X[:, 0] + np.nan_to_num(X[:, 1]) > 0
>>> booster = lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 4},
...                     lgb.Dataset(X, y.astype(float)), num_boost_round=5)
>>> forest = Forest.from_model(booster.model_to_string())
>>> bool(np.array_equal(forest.predict(X), booster.predict(X)))
True
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from nextbest.models.recommend.base import RecommendInputError

__all__ = ["Forest"]

_RAW = ("lambdarank", "rank_xendcg", "regression", "regression_l2", "l2", "mse")
"""Objectives whose prediction is the raw score."""
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold: values this small are 0


class Forest:
    """The trees of a LightGBM model as arrays; see the module docstring.

    Attributes
    ----------
    feature, threshold, default_left, missing, left, right, value : ndarray
        Per node: the split feature (-1 at a leaf), the threshold, whether missing
        values go left, the missing type (0 none, 1 zero, 2 NaN), the children
        and the leaf value.
    roots : ndarray
        The root node of each tree, in order.
    """

    def __init__(self, nodes: dict[str, np.ndarray], roots: np.ndarray) -> None:
        self.feature = nodes["feature"]
        self.threshold = nodes["threshold"]
        self.default_left = nodes["default_left"]
        self.missing = nodes["missing"]
        self.left = nodes["left"]
        self.right = nodes["right"]
        self.value = nodes["value"]
        self.roots = roots

    @classmethod
    def from_model(cls, text: str) -> Forest:
        """The forest of a LightGBM model in its text form (``model_to_string``)."""
        import lightgbm as lgb

        model = lgb.Booster(model_str=text).dump_model()
        objective = str(model.get("objective", "")).split(" ")[0]
        if objective not in _RAW or int(model.get("num_tree_per_iteration", 1)) != 1:
            raise RecommendInputError(
                f"the served re-ranker takes a LightGBM model that predicts the raw score "
                f"with one tree per iteration; this one has objective {objective!r}.",
                field="objective",
                hint=f"Train the re-ranker with one of: {', '.join(_RAW)}.",
            )
        columns: dict[str, list[Any]] = {k: [] for k in _COLUMNS}

        def add(node: dict[str, Any]) -> int:
            at = len(columns["feature"])
            if "split_feature" not in node:  # a leaf
                for k, v in {**_LEAF, "value": float(node["leaf_value"])}.items():
                    columns[k].append(v)
                return at
            if node.get("decision_type") != "<=":
                raise RecommendInputError(
                    "the served re-ranker takes numerical splits only; this model has a "
                    f"{node.get('decision_type')!r} split.",
                    field="trees",
                    hint="Encode categorical features as numbers before training.",
                )
            columns["feature"].append(int(node["split_feature"]))
            columns["threshold"].append(float(node["threshold"]))
            columns["default_left"].append(bool(node["default_left"]))
            columns["missing"].append(_MISSING[str(node["missing_type"])])
            columns["left"].append(-1)
            columns["right"].append(-1)
            columns["value"].append(0.0)
            columns["left"][at] = add(node["left_child"])
            columns["right"][at] = add(node["right_child"])
            return at

        roots = np.asarray([add(t["tree_structure"]) for t in model["tree_info"]], dtype=np.int64)
        dtypes = (np.int64, np.float64, np.bool_, np.int64, np.int64, np.int64, np.float64)
        nodes: dict[str, np.ndarray] = {
            k: np.asarray(columns[k], dtype=d) for k, d in zip(_COLUMNS, dtypes, strict=True)
        }
        return cls(nodes, roots)

    def predict(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """The raw score of each row of ``X`` (``threads`` > 1: rows spread over threads,
        0: every core)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        out = np.zeros(len(X))
        args = (self.feature, self.threshold, self.default_left, self.missing)
        nodes = (*args, self.left, self.right, self.value, self.roots)
        if threads == 1 or len(X) < 1024:
            _walk(X, *nodes, out)
        else:
            before = numba.get_num_threads()
            numba.set_num_threads(min(threads, before) if threads > 0 else before)
            try:
                _walk_parallel(X, *nodes, out)
            finally:
                numba.set_num_threads(before)
        return out


_COLUMNS = ("feature", "threshold", "default_left", "missing", "left", "right", "value")
_LEAF = {
    "feature": -1,
    "threshold": 0.0,
    "default_left": False,
    "missing": 0,
    "left": -1,
    "right": -1,
}


def _walk_rows(X, feature, threshold, default_left, missing, left, right, value, roots, out):
    """Each row down every tree, the leaf values summed tree by tree."""
    for i in numba.prange(X.shape[0]):
        s = 0.0
        for t in range(len(roots)):
            n = roots[t]
            while feature[n] >= 0:
                v = X[i, feature[n]]
                m = missing[n]
                if np.isnan(v):
                    if m == 2:
                        n = left[n] if default_left[n] else right[n]
                        continue
                    v = 0.0
                elif -_ZERO <= v <= _ZERO:
                    v = 0.0
                if m == 1 and v == 0.0:
                    n = left[n] if default_left[n] else right[n]
                else:
                    n = left[n] if v <= threshold[n] else right[n]
            s += value[n]
        out[i] = s


_walk = numba.njit(cache=True, nogil=True)(_walk_rows)
_walk_parallel = numba.njit(cache=True, nogil=True, parallel=True)(_walk_rows)
