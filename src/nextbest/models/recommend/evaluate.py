"""Offline evaluation: score generators on held-out truth, tune on validation, test once.

:func:`evaluate` recommends the top ``k`` to every user with truth (items the
user already has are excluded) and returns
:func:`~nextbest.evaluation.ranking.ranking_metrics`: precision, recall, NDCG,
MAP and hit rate at ``k``, novelty against the training popularity, catalogue
coverage of the training items and, given item features, intra-list diversity.
A user with truth but no training interactions gets an empty list (all misses).

:func:`grid_search` fits every combination of a grid on the ``fit`` part and
keeps the best by a validation metric; :func:`compare` does that for several
generators, refits each winner on the whole training part and scores it once
on the test truth.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> from nextbest.models.recommend.popularity import Popularity
>>> frame = pd.DataFrame({"user": [1, 2, 2, 3], "item": ["a", "a", "b", "b"],
...                       "time": [0, 0, 1, 2]})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> m = evaluate(Popularity().fit(x), {1: {"b"}, 3: {"a"}}, k=1)
>>> m["hit_rate"], m["coverage"]
(1.0, 1.0)
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nextbest.evaluation.ranking import RankingMetrics, ranking_metrics
from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions

__all__ = ["Comparison", "GridResult", "compare", "evaluate", "grid_search", "recommend_lists"]

ACCURACY = ("precision", "recall", "ndcg", "map", "hit_rate")


def recommend_lists(
    model: Recommender, users: Collection[Any], k: int = 10
) -> dict[Any, list[Any]]:
    """Top-``k`` item ids per user id; users the model does not know get an empty list."""
    x = model.interactions_
    known = [u for u in users if _has(x, u)]
    rows = x.user_index(known) if known else np.zeros(0, dtype=np.int64)
    items, _ = model.recommend(rows, k)
    out: dict[Any, list[Any]] = {u: [] for u in users}
    for u, row in zip(known, items, strict=True):
        out[u] = x.items[row[row >= 0]].tolist()
    return out


def _has(x: Interactions, user: Any) -> bool:
    pos = np.searchsorted(x.users, user)
    return bool(pos < len(x.users) and x.users[pos] == user)


def evaluate(
    model: Recommender,
    truth: Mapping[Any, Collection[Any]],
    k: int = 10,
    *,
    item_features: pd.DataFrame | Mapping[Any, Sequence[float]] | None = None,
) -> RankingMetrics:
    """Ranking metrics of a fitted ``model`` against ``truth`` (see the module docstring)."""
    model._check_fitted()
    if not truth:
        raise RecommendInputError("the truth is empty: nobody to evaluate.", field="truth")
    x = model.interactions_
    lists = recommend_lists(model, list(truth), k)
    popularity = dict(zip(x.items.tolist(), x.item_counts().tolist(), strict=True))
    return ranking_metrics(
        lists,
        truth,
        k,
        item_popularity=popularity,
        item_features=item_features,
        catalogue=x.n_items,
    )


@dataclass
class GridResult:
    """Every tried combination with its validation metric; the best first."""

    best_params: dict[str, Any]
    best_score: float
    table: pd.DataFrame


Grid = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]]


def _combinations(grid: Grid) -> list[dict[str, Any]]:
    """Every combination of a grid, or of each grid in a list (in order).

    >>> _combinations([{"a": [1, 2]}, {"a": [9], "b": ["x"]}])
    [{'a': 1}, {'a': 2}, {'a': 9, 'b': 'x'}]
    """
    grids = [grid] if isinstance(grid, Mapping) else list(grid)
    out = []
    for g in grids:
        names = list(g)
        for values in itertools.product(*(g[n] for n in names)):
            out.append(dict(zip(names, values, strict=True)))
    return out


def grid_search(
    make: Callable[..., Recommender],
    grid: Grid,
    interactions: Interactions,
    truth: Mapping[Any, Collection[Any]],
    *,
    metric: str = "ndcg",
    k: int = 10,
    fit_kwargs: Mapping[str, Any] | None = None,
) -> GridResult:
    """Fit ``make(**params)`` for each combination of ``grid`` and keep the best ``metric``.

    ``grid`` maps parameter names to the values to try (every combination is
    fitted), or is a list of such mappings (each searched in turn), for
    parameters whose ranges depend on each other. Equal scores go to the first.
    """
    if metric not in ACCURACY:
        raise RecommendInputError(f"must be one of {ACCURACY}; got {metric!r}.", field="metric")
    rows, combos = [], []
    for params in _combinations(grid):
        t0 = time.perf_counter()
        model = make(**params).fit(interactions, **(fit_kwargs or {}))
        score = evaluate(model, truth, k)[metric]
        rows.append({**params, metric: score, "seconds": time.perf_counter() - t0})
        combos.append(params)
    scores = np.array([r[metric] for r in rows])
    best = int(np.argmax(scores))  # the first of equal scores: grid order
    table = pd.DataFrame(rows).sort_values(metric, ascending=False, kind="stable")
    return GridResult(combos[best], float(scores[best]), table)


@dataclass
class Comparison:
    """Per generator: chosen parameters, validation score, test metrics and per-user values."""

    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    validation: dict[str, float] = field(default_factory=dict)
    test: dict[str, RankingMetrics] = field(default_factory=dict)
    fit_seconds: dict[str, float] = field(default_factory=dict)
    grids: dict[str, pd.DataFrame] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per generator with its test metrics."""
        rows = []
        for name, m in self.test.items():
            rows.append(
                {
                    "generator": name,
                    "validation_ndcg": self.validation.get(name, float("nan")),
                    **m.to_dict(),
                    "fit_s": self.fit_seconds.get(name, float("nan")),
                }
            )
        return pd.DataFrame(rows)


def compare(
    generators: Mapping[str, tuple[Callable[..., Recommender], Grid]],
    fit: Interactions,
    validation_truth: Mapping[Any, Collection[Any]],
    train: Interactions,
    test_truth: Mapping[Any, Collection[Any]],
    *,
    k: int = 10,
    metric: str = "ndcg",
    item_features: pd.DataFrame | None = None,
    fit_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Tune each generator on validation, refit on ``train``, score once on test."""
    out = Comparison()
    for name, (make, grid) in generators.items():
        kwargs = dict((fit_kwargs or {}).get(name, {}))
        result = grid_search(
            make, grid, fit, validation_truth, metric=metric, k=k, fit_kwargs=kwargs
        )
        t0 = time.perf_counter()
        model = make(**result.best_params).fit(train, **kwargs)
        out.fit_seconds[name] = time.perf_counter() - t0
        out.params[name] = result.best_params
        out.validation[name] = result.best_score
        out.grids[name] = result.table
        out.test[name] = evaluate(model, test_truth, k, item_features=item_features)
        if progress is not None:
            progress(name)
    return out
