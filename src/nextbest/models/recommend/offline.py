"""Offline evaluation of every candidate generator and the ranker on held-out truth.

:func:`generator_grids` names every generator with the hyper-parameter grid
searched on validation: ``size="full"`` is the benchmark's grid, ``"small"`` a
subset of it (about a quarter of the fits) that holds the values chosen most
often, for a quick evaluation of a store.

:func:`compare_with_ranker` takes the four parts of a holdout (``fit`` and its
validation truth, ``train`` and its test truth). Each generator's grid is fitted
on ``fit`` and scored on validation; the best by NDCG@k is refitted on
``train`` and scored once on test (:func:`~nextbest.models.recommend.evaluate.compare`).
The :class:`~nextbest.models.recommend.ranker.CandidateRanker` over every chosen
generator but trending then learns from the validation truth with the
generators fitted on ``fit``, has its candidates refitted on ``train`` and
scores test once. Every row holds Precision, Recall, NDCG, MAP and hit rate at
``k``, catalogue coverage, novelty and intra-list diversity, with a paired
bootstrap 95% interval over customers of the NDCG@k difference against
popularity.

:func:`evaluate_warehouse` runs it on a project's warehouse with the temporal
holdout of :mod:`nextbest.models.recommend.holdout` (diversity by product
category). The ranker also sees each product's price and category and each
customer's features read at each cutoff
(:func:`~nextbest.models.recommend.customer_context.customer_features`: recency,
frequency, value, price sensitivity, engagement), with the customer's affinity to
the candidate's category and its price against the customer's usual price.

>>> sorted(generator_grids(size="small"))[:4]
['ALS', 'BPR', 'co-occurrence', 'content']
>>> from nextbest.models.recommend.evaluate import _combinations
>>> small, full = generator_grids(size="small"), generator_grids(size="full")
>>> all(c in _combinations(full[n][1]) for n in small for c in _combinations(small[n][1]))
True
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nextbest.evaluation.bootstrap import paired_bootstrap
from nextbest.evaluation.ranking import RankingMetrics
from nextbest.models.recommend.als import ALS
from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.bpr import BPR
from nextbest.models.recommend.content import ContentSimilarity
from nextbest.models.recommend.cooccurrence import CoOccurrence
from nextbest.models.recommend.customer_context import catalogue, customer_features
from nextbest.models.recommend.ease import EASE
from nextbest.models.recommend.evaluate import Comparison, Grid, compare, evaluate
from nextbest.models.recommend.holdout import TemporalHoldout, warehouse_holdout
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.itemknn import ItemKNN
from nextbest.models.recommend.popularity import Popularity
from nextbest.models.recommend.ranker import CandidateRanker
from nextbest.models.recommend.sequential import Transitions
from nextbest.reporting.jsonready import json_ready

if TYPE_CHECKING:
    from nextbest.config import RecommendSettings
    from nextbest.warehouse import Warehouse

__all__ = [
    "BASELINE",
    "METRICS",
    "RANKER",
    "OfflineEvaluation",
    "compare_with_ranker",
    "evaluate_warehouse",
    "generator_grids",
    "shortlist_size",
]

METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage", "novelty", "diversity")
"""The metrics of every row, as :func:`~nextbest.evaluation.ranking.ranking_metrics` names them."""
BASELINE = "popularity"
RANKER = "LightGBM ranker"

Progress = Callable[[str, int, int], None]
Generators = dict[str, tuple[Callable[..., Recommender], Grid]]


def generator_grids(
    weighted: bool = True,
    size: str = "full",
    content: Callable[..., Recommender] | None = ContentSimilarity,
) -> Generators:
    """Every generator with the grid searched on validation (see the module docstring).

    A list of grids is searched one after the other (half-lives in different units).

    Parameters
    ----------
    weighted : bool
        The interactions carry weights (event types), so 0/1 or weighted input is
        searched too.
    size : {"full", "small"}
        The benchmark's grids or a subset of them.
    content : callable, optional
        Makes the content generator (its ``fit`` wants the item attributes);
        ``None`` leaves content out.
    """
    if size not in ("full", "small"):
        raise RecommendInputError(f"must be 'full' or 'small'; got {size!r}.", field="size")
    binary: dict[str, list[Any]] = {"binary": [True, False]} if weighted else {}
    content_grid: Grid = {"half_life": [None, 5.0, 20.0]}
    gens: Generators
    if size == "small":
        l2s = [200.0, 1000.0]
        gens = {
            "popularity": (Popularity, {}),
            "trending": (Popularity, {"window_days": [7.0, 28.0, 90.0]}),
            "ease": (EASE, {"l2": [50.0, 200.0, 1000.0], **binary}),
            "ease, decayed profile": (
                EASE,
                [
                    {"l2": l2s, "half_life": [5.0, 20.0], "decay_by": ["interactions"]},
                    {"l2": l2s, "half_life": [0.05, 0.2], "decay_by": ["share"]},
                ],
            ),
            "transitions": (
                Transitions,
                {"window": [1, 10], "alpha": [0.5], "recent": [20, 100], "half_life": [2.0, 10.0]},
            ),
            "co-occurrence": (
                CoOccurrence,
                [
                    {"normalize": ["count", "jaccard"], "half_life": [None, 10.0]},
                    {"normalize": ["jaccard"], "half_life": [0.05], "decay_by": ["share"]},
                ],
            ),
            "item-kNN": (
                ItemKNN,
                [
                    {"neighbors": [50, 200], "shrinkage": [20.0], "half_life": [None, 20.0]},
                    {
                        "neighbors": [200],
                        "shrinkage": [20.0],
                        "half_life": [0.05],
                        "decay_by": ["share"],
                    },
                ],
            ),
            "ALS": (
                ALS,
                {"factors": [32, 64], "regularization": [20.0], "alpha": [2.0], **binary},
            ),
            "BPR": (
                BPR,
                {"factors": [64], "learning_rate": [0.01, 0.05], "regularization": [0.01]},
            ),
        }
    else:
        l2s = [50.0, 200.0, 500.0, 1000.0]
        by_rank: dict[str, list[Any]] = {"half_life": [None, 2.0, 5.0, 10.0, 20.0]}
        by_share: dict[str, list[Any]] = {"half_life": [0.05, 0.1, 0.2], "decay_by": ["share"]}
        gens = {
            "popularity": (Popularity, {}),
            "trending": (Popularity, {"window_days": [7.0, 28.0, 90.0]}),
            "ease": (EASE, {"l2": [10.0, 50.0, 200.0, 500.0, 1000.0, 2000.0], **binary}),
            "ease, decayed profile": (
                EASE,
                [
                    {
                        "l2": l2s,
                        "half_life": [2.0, 5.0, 10.0, 20.0, 40.0],
                        "decay_by": ["interactions"],
                    },
                    {"l2": l2s, "half_life": [1.0, 7.0, 30.0, 90.0], "decay_by": ["days"]},
                    {"l2": l2s, "half_life": [0.02, 0.05, 0.1, 0.2, 0.4], "decay_by": ["share"]},
                ],
            ),
            "transitions": (
                Transitions,
                {
                    "window": [1, 3, 10],
                    "alpha": [0.5, 1.0],
                    "recent": [5, 20, 100],
                    "half_life": [2.0, 10.0],
                },
            ),
            "co-occurrence": (
                CoOccurrence,
                [{"normalize": ["count", "jaccard"], **g} for g in (by_rank, by_share)],
            ),
            "item-kNN": (
                ItemKNN,
                [
                    {"neighbors": [50, 200], "shrinkage": [0.0, 20.0], **g}
                    for g in (by_rank, by_share)
                ],
            ),
            "ALS": (
                ALS,
                {
                    "factors": [32, 64],
                    "regularization": [1.0, 5.0, 20.0],
                    "alpha": [1.0, 2.0, 5.0],
                    **binary,
                },
            ),
            "BPR": (
                BPR,
                {"factors": [64], "learning_rate": [0.01, 0.05], "regularization": [0.01, 0.03]},
            ),
        }
    if content is not None:
        gens["content"] = (content, content_grid)
    return gens


def shortlist_size(n_items: int, k: int = 10) -> int:
    """Candidates per generator for the ranker: a tenth of the catalogue, from ``2k`` to 50.

    Beyond a tenth, the union of several generators' candidates is most of a small
    catalogue and the ranker's training time grows with the square of it.

    >>> shortlist_size(200), shortlist_size(9_000), shortlist_size(60)
    (20, 50, 20)
    """
    return int(min(50, max(2 * k, math.ceil(n_items / 10))))


@dataclass
class OfflineEvaluation:
    """One row per generator and one for the ranker, with what produced them.

    Attributes
    ----------
    k : int
        The list length evaluated.
    rows : list of dict
        Per model: ``generator``, every name in :data:`METRICS`, ``validation_ndcg``,
        ``ndcg_vs_popularity`` (difference, low, high), ``params`` (chosen on
        validation), ``fit_s``, ``grid_size`` and ``search_s``; the ranker's row
        also has ``best_single`` (the generator best on validation) and its NDCG
        and Recall difference against it.
    protocol : dict
        How the truth was cut (:meth:`TemporalHoldout.summary`), when known.
    comparison : Comparison
        The grid searches and test metrics of the generators.
    ranker : CandidateRanker, optional
        The ranker with its candidates fitted on ``train`` (``None`` when it
        could not learn; ``ranker_skipped`` says why).
    """

    k: int
    rows: list[dict[str, Any]]
    comparison: Comparison
    ranker: CandidateRanker | None = None
    ranker_skipped: str | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def table(self) -> pd.DataFrame:
        """One row per model: the metrics, validation NDCG and the interval against popularity."""
        records = []
        for r in self.rows:
            diff = r["ndcg_vs_popularity"]
            records.append(
                {
                    "generator": r["generator"],
                    **{m: r[m] for m in METRICS},
                    "ndcg_vs_popularity": diff[0],
                    "ndcg_vs_popularity_low": diff[1],
                    "ndcg_vs_popularity_high": diff[2],
                    "validation_ndcg": r["validation_ndcg"],
                }
            )
        return pd.DataFrame(records)

    def best(self) -> dict[str, list[str]]:
        """Per metric in :data:`METRICS`, the models with the highest value (ties: all)."""
        table = self.table().set_index("generator")
        out = {}
        for m in METRICS:
            values = table[m].astype(float)
            if values.notna().any():
                top = values.max()
                out[m] = [str(n) for n in values.index[np.isclose(values, top, rtol=0, atol=1e-12)]]
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (missing values as ``None``)."""
        return json_ready(
            {
                "k": self.k,
                "protocol": self.protocol,
                "baseline": BASELINE,
                "metrics": list(METRICS),
                "models": self.rows,
                "best": self.best(),
                "ranker_skipped": self.ranker_skipped,
                "seconds": round(self.seconds, 3),
            }
        )


def _params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}


def _diff(a: RankingMetrics, b: RankingMetrics, metric: str, n_boot: int, seed: int) -> list[float]:
    d = paired_bootstrap(a.per_user(metric), b.per_user(metric), n_boot=n_boot, seed=seed)
    return [d.difference, d.low, d.high]


def compare_with_ranker(
    generators: Mapping[str, tuple[Callable[..., Recommender], Grid]],
    fit: Interactions,
    validation_truth: Mapping[Any, Collection[Any]],
    train: Interactions,
    test_truth: Mapping[Any, Collection[Any]],
    *,
    k: int = 10,
    diversity_features: pd.DataFrame | None = None,
    fit_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    ranker_features: pd.DataFrame | None = None,
    ranker_options: Mapping[str, Any] | None = None,
    test_user_features: pd.DataFrame | None = None,
    candidates: int = 50,
    n_boot: int = 1000,
    seed: int = 0,
    threads: int = 1,
    progress: Progress | None = None,
) -> OfflineEvaluation:
    """Tune, test and compare every generator and the ranker (see the module docstring).

    Parameters
    ----------
    generators : dict of name to (maker, grid)
        As :func:`generator_grids` gives them; must hold ``"popularity"``.
    fit, validation_truth, train, test_truth
        The parts of the holdout.
    diversity_features : DataFrame, optional
        Item vectors indexed by item id for intra-list diversity (e.g. one-hot
        categories); without them diversity is missing.
    fit_kwargs : dict of name to dict, optional
        Extra ``fit`` arguments per generator (``{"content": {"item_attributes": ...}}``).
    ranker_features : DataFrame, optional
        Numeric item attributes the ranker sees (price, ...).
    ranker_options : dict, optional
        Further :class:`CandidateRanker` arguments (``item_groups``,
        ``price_column``, ``user_features`` read at the validation cut, ...).
    test_user_features : DataFrame, optional
        The same user features read at the test cut, for the refit.
    candidates : int
        Candidates per generator the ranker re-scores.
    n_boot, seed : int
        Paired bootstrap resamples and seed (the ranker's seed too).
    threads : int
        LightGBM threads of the ranker.
    progress : callable, optional
        ``progress(step, done, total)`` before each step.
    """
    if BASELINE not in generators:
        raise RecommendInputError(
            f"the generators must include {BASELINE!r}, the baseline every row is compared with.",
            field="generators",
        )
    t_start = time.perf_counter()
    say = progress or (lambda step, done, total: None)
    total = len(generators) + 2
    result = Comparison()
    for i, (name, spec) in enumerate(generators.items()):
        say(f"tuning {name}", i, total)
        one = compare(
            {name: spec},
            fit,
            validation_truth,
            train,
            test_truth,
            k=k,
            item_features=diversity_features,
            fit_kwargs={name: (fit_kwargs or {}).get(name, {})},
        )
        for part in ("params", "validation", "test", "fit_seconds", "grids"):
            getattr(result, part).update(getattr(one, part))
    base = result.test[BASELINE]
    rows = []
    for name, m in result.test.items():
        values = m.to_dict()
        rows.append(
            {
                "generator": name,
                **{key: values.get(key, float("nan")) for key in METRICS},
                "validation_ndcg": result.validation[name],
                "ndcg_vs_popularity": _diff(base, m, "ndcg", n_boot, seed),
                "params": _params(result.params[name]),
                "fit_s": result.fit_seconds[name],
                "grid_size": len(result.grids[name]),
                "search_s": float(result.grids[name]["seconds"].sum()),
            }
        )
    out = OfflineEvaluation(k=k, rows=rows, comparison=result)
    say("learning the ranker on validation", len(generators), total)
    chosen = {
        name: make(**result.params[name])
        for name, (make, _) in generators.items()
        if name != "trending"
    }
    t0 = time.perf_counter()
    try:
        ranker = CandidateRanker(
            chosen,
            n_candidates=candidates,
            k=k,
            fit_kwargs=fit_kwargs,
            item_features=ranker_features,
            seed=seed,
            threads=threads,
            **dict(ranker_options or {}),
        ).fit(fit, validation_truth)
    except RecommendInputError as err:
        out.ranker_skipped = err.message
        out.seconds = time.perf_counter() - t_start
        return out
    learn_s = time.perf_counter() - t0
    say("scoring the ranker on test", len(generators) + 1, total)
    t0 = time.perf_counter()
    ranker.refit_candidates(train, user_features=test_user_features)
    refit_s = time.perf_counter() - t0
    m = evaluate(ranker, test_truth, k, item_features=diversity_features)
    best = max(result.validation, key=lambda n: result.validation[n])
    values = m.to_dict()
    rows.append(
        {
            "generator": RANKER,
            **{key: values.get(key, float("nan")) for key in METRICS},
            "validation_ndcg": float("nan"),
            "ndcg_vs_popularity": _diff(base, m, "ndcg", n_boot, seed),
            "params": {"candidates": candidates, "rounds": ranker.n_estimators_},
            "fit_s": learn_s + refit_s,
            "learn_s": learn_s,
            "cv_ndcg": ranker.cv_ndcg_,
            "queries": ranker.training_queries_,
            "best_single": best,
            "ndcg_vs_best": _diff(result.test[best], m, "ndcg", n_boot, seed),
            "recall_vs_best": _diff(result.test[best], m, "recall", n_boot, seed),
        }
    )
    out.ranker = ranker
    out.seconds = time.perf_counter() - t_start
    return out


def evaluate_warehouse(
    wh: Warehouse,
    settings: RecommendSettings | None = None,
    k: int = 10,
    holdout_days: float = 28.0,
    as_of: dt.datetime | None = None,
    progress: Progress | None = None,
    *,
    grids: str = "small",
    candidates: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    threads: int = 1,
    registry: Any = None,
) -> OfflineEvaluation:
    """Every generator and the ranker on the warehouse's temporal holdout.

    Interactions are weighted by ``settings.weights`` (``recommend.weights``);
    ``as_of`` defaults to midnight after the latest data. The grids are
    :func:`generator_grids` of ``grids`` size; ``candidates`` defaults to
    :func:`shortlist_size`; the other arguments are those of
    :func:`compare_with_ranker`. With a model ``registry`` the ranker also sees the
    propensity scores stored at each cutoff by models trained before it
    (:func:`~nextbest.models.recommend.customer_context.customer_features`).
    :attr:`OfflineEvaluation.protocol` says how the truth was cut.
    """
    from nextbest.config import RecommendSettings

    t0 = time.perf_counter()
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise RecommendInputError(f"must be a positive integer; got {k!r}.", field="k")
    settings = settings or RecommendSettings()
    weighted = len({w for w in settings.weights.values() if w > 0}) > 1
    gens = generator_grids(weighted=weighted, size=grids)
    say = progress or (lambda step, done, total: None)
    say("reading interactions", 0, len(gens) + 3)
    holdout: TemporalHoldout = warehouse_holdout(wh, as_of, holdout_days, weights=settings.weights)
    products = catalogue(wh)
    category = products.set_index("product_id")["category"]
    diversity = None
    if category.notna().any():  # a product without a category is unlike every other
        dummies = pd.get_dummies(category.dropna().astype(str)).astype(float)
        diversity = dummies.reindex(pd.Index(holdout.train.items), fill_value=0.0)
    if candidates is None:
        candidates = shortlist_size(holdout.train.n_items, int(k))
    options: dict[str, Any] = {
        "price_column": "price",
        "user_features": customer_features(wh, holdout.validation_cut, registry=registry),
    }
    if category.notna().any():
        options["item_groups"] = category.dropna().astype(str)
    result = compare_with_ranker(
        gens,
        holdout.fit,
        holdout.validation_truth,
        holdout.train,
        holdout.test_truth,
        k=int(k),
        diversity_features=diversity,
        fit_kwargs={"content": {"item_attributes": products}},
        ranker_features=products.set_index("product_id")[["price"]],
        ranker_options=options,
        test_user_features=customer_features(wh, holdout.test_cut, registry=registry),
        candidates=candidates,
        n_boot=n_boot,
        seed=seed,
        threads=threads,
        progress=lambda step, done, total: say(step, done + 1, total + 1),
    )
    result.protocol = {
        **holdout.summary(),
        "weights": dict(settings.weights),
        "grids": grids,
        "candidates": candidates,
        "n_boot": n_boot,
        "seed": seed,
    }
    result.seconds = time.perf_counter() - t0
    return result
