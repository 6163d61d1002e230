"""Exact LightGBM TreeSHAP for many rows, computed once per decision cell of each tree.

A tree's SHAP values for a row depend on the row only through the side it takes at
each of the tree's splits. Rows that take the same side everywhere (the same *cell*:
the same interval between the tree's thresholds on every feature it splits on, with
missing values and, where the tree treats them apart, zeros in their own interval)
get the same values. So for each tree the rows are grouped by cell, LightGBM's own
TreeSHAP (``pred_contrib`` for that one tree) is run on one row per cell, and the
cell's values are given to all its rows. The sum over trees is exactly
``booster.predict(X, pred_contrib=True)``, with a cost that grows with the number of
cells rather than with rows times the size of the trees.

Small trees have few possible cells; those are enumerated from the thresholds alone,
without looking at the rows. Models this does not cover (categorical splits, linear
leaves, random-forest averaging, several trees per iteration) go straight to
``pred_contrib``.

>>> import lightgbm as lgb, numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(2000, 4))
>>> y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
>>> booster = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(X, y).booster_
>>> fast = tree_contributions(booster, X)
>>> bool(np.allclose(fast, booster.predict(X, pred_contrib=True), rtol=0, atol=1e-12))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["tree_contributions"]

_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at or below it is zero
_ENUMERATE = 4096  # trees with at most this many possible cells are enumerated


@dataclass
class _Tree:
    features: list[int]  # the features the tree splits on
    thresholds: dict[int, np.ndarray]  # per feature, the tree's sorted thresholds
    zero_apart: set[int]  # features with a split that sends zeros their own way


def _parse(dump: dict[str, Any]) -> list[_Tree] | None:
    """The split structure of every tree, or None when the model is not covered."""
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output"):
        return None
    trees = []
    for info in dump["tree_info"]:
        found: dict[int, set[float]] = {}
        zero: set[int] = set()
        stack = [info["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_index" not in node:
                if "leaf_features" in node:  # a linear leaf depends on the values
                    return None
                continue
            if node["decision_type"] != "<=":
                return None
            feature = int(node["split_feature"])
            found.setdefault(feature, set()).add(float(node["threshold"]))
            if node["missing_type"] == "Zero":
                zero.add(feature)
            stack += [node["left_child"], node["right_child"]]
        features = sorted(found)
        trees.append(_Tree(features, {f: np.array(sorted(found[f])) for f in features}, zero))
    return trees


class _Buckets:
    """Each row's interval per feature among all the model's thresholds on it.

    Interval ``b`` holds the values above the ``b``-th threshold and at or below the
    next; code ``len + 1`` is a missing value, ``len + 2`` a zero (where some split
    treats zeros apart).
    """

    def __init__(self, X: np.ndarray, trees: list[_Tree]) -> None:
        every: dict[int, set[float]] = {}
        zero: set[int] = set()
        for tree in trees:
            for f, values in tree.thresholds.items():
                every.setdefault(f, set()).update(values.tolist())
            zero |= tree.zero_apart
        self.thresholds = {f: np.array(sorted(v)) for f, v in every.items()}
        self.missing: dict[int, bool] = {}
        self.codes: dict[int, np.ndarray] = {}
        self.exact = True  # False: a value LightGBM calls zero is not 0.0 (see below)
        for f, values in self.thresholds.items():
            x = X[:, f]
            codes = np.searchsorted(values, x, side="left").astype(np.int32)
            gaps = np.isnan(x)
            self.missing[f] = bool(gaps.any())
            codes[gaps] = len(values) + 1
            if f in zero:
                zeros = np.abs(x) <= _ZERO
                # such a value sits in one interval of trees that do not treat zeros
                # apart only when it is 0.0 itself
                self.exact &= not bool((zeros & (x != 0)).any())
                codes[zeros] = len(values) + 2
            self.codes[f] = codes

    def local(self, tree: _Tree, f: int) -> tuple[np.ndarray, int]:
        """Map the model-wide intervals of ``f`` to the tree's own, and their count."""
        mine, every = tree.thresholds[f], self.thresholds[f]
        inner = np.searchsorted(mine, np.append(every, np.inf), side="left")
        radix = len(mine) + 1
        zero = int(np.searchsorted(mine, 0.0, side="left"))  # where 0.0 falls otherwise
        table = np.append(inner, [radix, zero]).astype(np.intp)
        if self.missing[f]:
            radix += 1
        if f in tree.zero_apart:
            table[-1] = radix
            radix += 1
        return table, radix


def _representatives(tree: _Tree, radices: list[int], missing: dict[int, bool]) -> np.ndarray:
    """One value per feature for every possible cell of ``tree`` (cells x features)."""
    size = int(np.prod(radices))
    cells = np.arange(size)
    out = np.empty((size, len(tree.features)))
    for i in range(len(tree.features) - 1, -1, -1):
        f, radix = tree.features[i], radices[i]
        code = cells % radix
        cells //= radix
        mine = tree.thresholds[f]
        # interval b: its upper threshold (above the last threshold: just above it)
        choices = [*mine.tolist(), float(np.nextafter(mine[-1], np.inf))]
        if missing[f]:
            choices.append(np.nan)
        if f in tree.zero_apart:
            choices.append(0.0)
        out[:, i] = np.asarray(choices)[code]
    return out


def _cell_values(
    booster: Any,
    tree: _Tree,
    t: int,
    radices: list[int],
    buckets: _Buckets,
    p: int,
    kw: dict[str, Any],
) -> np.ndarray:
    """Every possible cell's values (cells x the tree's features + bias)."""
    rows = np.zeros((int(np.prod(radices)), p))
    rows[:, tree.features] = _representatives(tree, radices, buckets.missing)
    values = booster.predict(rows, **kw, start_iteration=t, num_iteration=1)
    return np.ascontiguousarray(np.asarray(values, dtype=float)[:, [*tree.features, p]].T)


def tree_contributions(
    booster: Any, X: np.ndarray, num_threads: int | None = None, *, chunk: int = 32768
) -> np.ndarray:
    """``booster.predict(X, pred_contrib=True)`` (rows x features + bias), computed by cell.

    ``X`` is the booster's input as a 2-D float array; rows are processed ``chunk`` at
    a time (so the working arrays stay in the processor's cache), on ``num_threads``
    threads.
    """
    X = np.asarray(X, dtype=float)
    kw: dict[str, Any] = {"pred_contrib": True}
    if num_threads is not None:
        kw["num_threads"] = num_threads
    trees = _parse(booster.dump_model())
    if trees is None or len(X) < 2:
        return np.asarray(booster.predict(X, **kw), dtype=float)
    n, p = X.shape
    buckets = _Buckets(X, trees)
    if not buckets.exact:
        return np.asarray(booster.predict(X, **kw), dtype=float)
    out = np.zeros((p + 1, n))  # one row per column: every update is contiguous
    small: list[tuple[list[int], list[np.ndarray], list[int], np.ndarray]] = []
    for t, tree in enumerate(trees):
        if not tree.features:  # a single leaf: only the bias
            out[p] += float(booster.predict(X[:1], **kw, start_iteration=t, num_iteration=1)[0, -1])
            continue
        tables, radices = map(
            list, zip(*(buckets.local(tree, f) for f in tree.features), strict=True)
        )
        if float(np.prod(np.asarray(radices, dtype=float))) <= _ENUMERATE:
            values = _cell_values(booster, tree, t, radices, buckets, p, kw)
            small.append((tree.features, tables, radices, values))
            continue
        # many possible cells: find the ones the rows occupy
        key = np.zeros(n, dtype=np.int64)
        for f, table, radix in zip(tree.features, tables, radices, strict=True):
            if int(key.max()) * radix >= 2**62:
                key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            key = key * radix + table[buckets.codes[f]]
        where, cells = pd.factorize(key)  # hashing beats sorting here
        first = np.empty(len(cells), dtype=np.intp)
        first[where[::-1]] = np.arange(n - 1, -1, -1)  # the first row of each cell
        values = np.asarray(
            booster.predict(X[first], **kw, start_iteration=t, num_iteration=1), dtype=float
        )
        for j in [*tree.features, p]:
            out[j] += np.take(values[:, j], where, mode="clip")

    def run(lo: int) -> None:
        hi = min(lo + chunk, n)
        # indices as the platform's index type: numpy would convert them on every gather
        codes = {f: c[lo:hi].astype(np.intp) for f, c in buckets.codes.items()}
        part = out[:, lo:hi]
        key = np.empty(hi - lo, dtype=np.intp)
        step = np.empty(hi - lo, dtype=np.intp)
        gathered = np.empty(hi - lo)
        for features, tables, radices, values in small:
            key[:] = 0
            for f, table, radix in zip(features, tables, radices, strict=True):
                key *= radix
                key += np.take(table, codes[f], out=step, mode="clip")
            for i, j in enumerate([*features, p]):
                part[j] += np.take(values[i], key, out=gathered, mode="clip")

    starts = range(0, n, chunk)
    threads = max(1, num_threads or 1)
    if threads == 1 or len(starts) == 1:
        for lo in starts:
            run(lo)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, starts))
    return out.T
