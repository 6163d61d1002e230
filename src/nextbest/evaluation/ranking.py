"""Top-k metrics for recommendations: accuracy per user, and catalogue-level properties.

Relevance is binary: an item is relevant to a user when it is in the user's truth
set (e.g. what they bought in the test period). For a list cut at ``k``:

* precision@k = hits / k; recall@k = hits / |truth|; hit rate = 1 if any hit.
* NDCG@k: DCG = sum of 1 / log2(rank + 1) over hits (rank from 1), divided by
  the DCG of an ideal list holding min(|truth|, k) hits at the top.
* AP@k: sum over hit ranks r of precision@r, divided by min(|truth|, k); MAP@k
  is its mean over users.
* novelty: mean self-information ``-log2(share)`` of a user's recommended items,
  ``share`` = the item's popularity count over the summed counts.
* intra-list diversity: mean over item pairs in a list of ``1 - similarity``.
* coverage: share of the catalogue appearing in at least one top-k list.

>>> ndcg_at_k(["a", "b", "c"], {"a", "c"}, k=3)
0.9197207891481876
>>> m = ranking_metrics({"u1": ["a", "b"], "u2": ["c", "a"]}, {"u1": {"b"}, "u2": {"c", "d"}}, k=2)
>>> m["precision"], m["recall"], m["hit_rate"]
(0.5, 0.75, 1.0)
>>> m.per_user("recall").tolist()
[1.0, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from nextbest.evaluation.inputs import EvaluationInputError

__all__ = [
    "RankingMetrics",
    "average_precision_at_k",
    "catalogue_coverage",
    "hit_rate_at_k",
    "intra_list_diversity",
    "map_at_k",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
]

Item: TypeAlias = Hashable
Lists: TypeAlias = Mapping[Any, Sequence[Item]] | Sequence[Sequence[Item]]
Truth: TypeAlias = Mapping[Any, Collection[Item]] | Sequence[Collection[Item]]
Features: TypeAlias = Mapping[Item, Sequence[float]] | pd.DataFrame
Similarity: TypeAlias = Callable[[Item, Item], float]


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise EvaluationInputError(f"k must be a positive integer; got {k!r}.", field="k")
    return int(k)


def _top(items: Sequence[Item], k: int, user: Any = None) -> list[Item]:
    top = list(items)[:k]
    if len(set(top)) != len(top):
        seen: set[Item] = set()
        dup = next(i for i in top if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise EvaluationInputError(
            f"item {dup!r} is recommended twice"
            + (f" to user {user!r}" if user is not None else "")
            + "; each list must hold distinct items.",
            field="recommended",
        )
    return top


def _hit_matrix(
    lists: Sequence[Sequence[Item]], truths: Sequence[Collection[Item]], k: int
) -> np.ndarray:
    hits = np.zeros((len(lists), k), dtype=bool)
    for row, (items, truth) in enumerate(zip(lists, truths, strict=True)):
        relevant = set(truth)
        for col, item in enumerate(items[:k]):
            hits[row, col] = item in relevant
    return hits


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def _accuracy(hits: np.ndarray, sizes: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-user accuracy metrics from the hit matrix and the truth-set sizes."""
    n_hits = hits.sum(axis=1)
    ideal = np.minimum(sizes, k)
    disc = _discounts(k)
    idcg = np.cumsum(disc)[ideal - 1]
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "precision": n_hits / k,
        "recall": n_hits / sizes,
        "ndcg": (hits * disc).sum(axis=1) / idcg,
        "map": (hits * precision_at_rank).sum(axis=1) / ideal,
        "hit_rate": (n_hits > 0).astype(float),
    }


def _one(recommended: Sequence[Item], truth: Collection[Item], k: int, name: str) -> float:
    k = _check_k(k)
    if not truth:
        raise EvaluationInputError(
            "the truth set is empty; the metric is undefined.", field="truth"
        )
    hits = _hit_matrix([_top(recommended, k)], [truth], k)
    return float(_accuracy(hits, np.array([len(set(truth))]), k)[name][0])


def precision_at_k(recommended: Sequence[Item], truth: Collection[Item], k: int = 10) -> float:
    """Share of the top ``k`` slots holding a relevant item (short lists count empty slots).

    >>> precision_at_k(["a", "b", "c"], {"a", "c", "d"}, k=2)
    0.5
    """
    return _one(recommended, truth, k, "precision")


def recall_at_k(recommended: Sequence[Item], truth: Collection[Item], k: int = 10) -> float:
    """Share of the relevant items found in the top ``k``.

    >>> recall_at_k(["a", "b", "c"], {"a", "c", "d", "e"}, k=3)
    0.5
    """
    return _one(recommended, truth, k, "recall")


def ndcg_at_k(recommended: Sequence[Item], truth: Collection[Item], k: int = 10) -> float:
    """Normalised discounted cumulative gain with binary relevance (see the module docstring).

    >>> ndcg_at_k(["x", "a"], {"a"}, k=2)
    0.6309297535714575
    """
    return _one(recommended, truth, k, "ndcg")


def average_precision_at_k(
    recommended: Sequence[Item], truth: Collection[Item], k: int = 10
) -> float:
    """Precision at each hit rank, summed and divided by min(|truth|, k).

    >>> average_precision_at_k(["a", "x", "b"], {"a", "b"}, k=3)
    0.8333333333333333
    """
    return _one(recommended, truth, k, "map")


def hit_rate_at_k(recommended: Sequence[Item], truth: Collection[Item], k: int = 10) -> float:
    """1.0 when any of the top ``k`` is relevant, else 0.0.

    >>> hit_rate_at_k(["x", "y", "a"], {"a"}, k=2)
    0.0
    """
    return _one(recommended, truth, k, "hit_rate")


def map_at_k(
    recommended: Sequence[Sequence[Item]], truth: Sequence[Collection[Item]], k: int = 10
) -> float:
    """Mean of :func:`average_precision_at_k` over users with a non-empty truth set.

    >>> map_at_k([["a", "x"], ["x", "b"]], [{"a"}, {"b"}], k=2)
    0.75
    """
    return ranking_metrics(list(recommended), list(truth), k)["map"]


def catalogue_coverage(
    recommended: Sequence[Sequence[Item]], catalogue: Collection[Item] | int, k: int = 10
) -> float:
    """Share of the catalogue recommended to at least one user in a top-``k`` list.

    ``catalogue`` is the collection of item ids or just its size.

    >>> catalogue_coverage([["a", "b"], ["b", "c"]], ["a", "b", "c", "d"], k=1)
    0.5
    """
    k = _check_k(k)
    size = catalogue if isinstance(catalogue, int) else len(set(catalogue))
    if size < 1:
        raise EvaluationInputError("the catalogue is empty.", field="catalogue")
    shown = {item for items in recommended for item in list(items)[:k]}
    if not isinstance(catalogue, int):
        shown &= set(catalogue)
    return len(shown) / size


def _self_information(popularity: Mapping[Item, float]) -> Callable[[Item], float]:
    total = float(sum(popularity.values()))
    if total <= 0:
        raise EvaluationInputError("popularity counts sum to zero.", field="item_popularity")

    def info(item: Item) -> float:
        return float(-np.log2(max(float(popularity.get(item, 0.0)), 1.0) / total))

    return info


def novelty(
    recommended: Sequence[Item], item_popularity: Mapping[Item, float], k: int = 10
) -> float:
    """Mean self-information ``-log2(count / total count)`` of the top ``k`` items.

    ``item_popularity`` maps items to counts (interactions or users); an item
    with no count, or a count below 1, counts as seen once, so its
    self-information stays finite. An empty list has novelty ``nan``.

    >>> novelty(["a", "b"], {"a": 2, "b": 1, "c": 1}, k=2)
    1.5
    """
    top = _top(recommended, _check_k(k))
    info = _self_information(item_popularity)
    return float(np.mean([info(i) for i in top])) if top else float("nan")


def _feature_lookup(features: Features) -> Callable[[Sequence[Item]], np.ndarray]:
    if isinstance(features, pd.DataFrame):
        frame = features
    else:
        frame = pd.DataFrame.from_dict(
            {k: list(v) for k, v in features.items()}, orient="index", dtype=float
        )
    matrix = frame.to_numpy(dtype=float)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    position = {item: i for i, item in enumerate(frame.index)}

    def rows(items: Sequence[Item]) -> np.ndarray:
        missing = [i for i in items if i not in position]
        if missing:
            raise EvaluationInputError(
                f"no features for item {missing[0]!r} ({len(missing)} item(s) missing).",
                field="item_features",
            )
        return unit[[position[i] for i in items]]

    return rows


def _diversity(
    items: Sequence[Item],
    rows: Callable[[Sequence[Item]], np.ndarray] | None,
    sim: Similarity | None,
) -> float:
    n = len(items)
    if n < 2:
        return float("nan")
    if sim is not None:
        sims = [sim(items[i], items[j]) for i in range(n) for j in range(i + 1, n)]
        return float(1.0 - np.mean(sims))
    assert rows is not None
    unit = rows(items)
    gram = unit @ unit.T
    upper = gram[np.triu_indices(n, 1)]
    return float(1.0 - upper.mean())


def intra_list_diversity(
    recommended: Sequence[Item],
    item_features: Features | None = None,
    k: int = 10,
    *,
    similarity: Similarity | None = None,
) -> float:
    """Mean ``1 - similarity`` over the pairs of the top ``k`` items.

    Similarity is the cosine of the items' feature vectors (a zero vector is
    dissimilar to everything), or ``similarity(item_a, item_b)`` when given.
    Lists with fewer than two items have diversity ``nan``.

    >>> feats = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 0.0]}
    >>> round(intra_list_diversity(["a", "b", "c"], feats, k=3), 4)
    0.6667
    """
    top = _top(recommended, _check_k(k))
    if item_features is None and similarity is None:
        raise EvaluationInputError(
            "diversity needs item_features or a similarity function.", field="item_features"
        )
    rows = _feature_lookup(item_features) if item_features is not None else None
    return _diversity(top, rows, similarity)


class RankingMetrics(Mapping[str, float]):
    """Mean metrics over evaluated users, with the per-user values behind them.

    Behaves as a read-only dict of means (``m["ndcg"]``); :meth:`per_user` gives
    the array for one metric, aligned with :attr:`users`, for
    :func:`nextbest.evaluation.bootstrap.paired_bootstrap`.
    """

    def __init__(self, k: int, users: list[Any], frame: pd.DataFrame, extra: dict[str, float]):
        self.k = k
        self.users = users
        self.frame = frame
        self._means = {
            c: float(np.nanmean(frame[c])) if len(frame) else float("nan") for c in frame
        }
        self._means.update(extra)

    def __getitem__(self, key: str) -> float:
        return self._means[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._means)

    def __len__(self) -> int:
        return len(self._means)

    def __repr__(self) -> str:
        return f"RankingMetrics(k={self.k}, users={len(self.users)}, {self._means})"

    def per_user(self, metric: str) -> np.ndarray:
        """The metric for each evaluated user, in the order of :attr:`users`."""
        if metric not in self.frame:
            raise EvaluationInputError(
                f"no per-user values for {metric!r}; have {list(self.frame.columns)}.",
                field="metric",
            )
        return self.frame[metric].to_numpy(dtype=float)

    def to_dict(self) -> dict[str, float]:
        return dict(self._means)


def _as_mapping(value: Any, field: str) -> Mapping[Any, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str):
        return dict(enumerate(value))
    raise EvaluationInputError(
        f"expected a dict per user or a list of lists; got {type(value).__name__}.", field=field
    )


def ranking_metrics(
    recommended: Lists,
    truth: Truth,
    k: int = 10,
    *,
    item_popularity: Mapping[Item, float] | None = None,
    item_features: Features | None = None,
    similarity: Similarity | None = None,
    catalogue: Collection[Item] | int | None = None,
) -> RankingMetrics:
    """Mean precision, recall, NDCG, MAP and hit rate at ``k``, plus beyond-accuracy metrics.

    Parameters
    ----------
    recommended : dict of user -> list, or list of lists
        Ranked recommendations per user, best first; a list of lists is keyed by
        position. Only the first ``k`` of each list count; they must be distinct.
    truth : dict of user -> set, or list of sets
        The relevant items per user. **Users whose truth set is empty (or who
        are absent from it) are skipped**: no metric is defined for them. A user
        with truth but no recommendations scores 0.
    k : int
        List length evaluated.
    item_popularity : dict of item -> count, optional
        Adds ``novelty`` (see :func:`novelty`).
    item_features : dict of item -> vector or DataFrame indexed by item, optional
        Adds ``diversity`` (intra-list, cosine); or give ``similarity``.
    similarity : callable, optional
        ``similarity(item_a, item_b)`` for ``diversity`` instead of features.
    catalogue : collection of items or int, optional
        Adds ``coverage`` over every list in ``recommended`` (evaluated or not).
        Defaults to the items of ``item_popularity`` when that is given.

    Returns
    -------
    RankingMetrics
        A mapping of the means; ``per_user(name)`` gives the values per user.
        ``novelty`` and ``diversity`` ignore users whose list is empty (or has
        fewer than two items, for diversity).

    Examples
    --------
    >>> popularity = {"a": 4, "b": 2, "c": 2}
    >>> m = ranking_metrics([["a", "b", "c"]], [{"c"}], k=3, item_popularity=popularity)
    >>> m["ndcg"], m["map"], round(m["novelty"], 3), m["coverage"]
    (0.5, 0.3333333333333333, 1.667, 1.0)
    """
    k = _check_k(k)
    recs = _as_mapping(recommended, "recommended")
    truths = _as_mapping(truth, "truth")
    users = [u for u, t in truths.items() if len(t) > 0]
    lists = [_top(recs.get(u, ()), k, u) for u in users]
    sets = [set(truths[u]) for u in users]
    hits = _hit_matrix(lists, sets, k)
    sizes = np.array([len(t) for t in sets], dtype=np.int64)
    columns: dict[str, Any] = (
        _accuracy(hits, sizes, k)
        if users
        else {name: np.array([]) for name in ("precision", "recall", "ndcg", "map", "hit_rate")}
    )
    if item_popularity is not None:
        info = _self_information(item_popularity)
        columns["novelty"] = [
            float(np.mean([info(i) for i in items])) if items else float("nan") for items in lists
        ]
    if item_features is not None or similarity is not None:
        rows = _feature_lookup(item_features) if item_features is not None else None
        columns["diversity"] = [_diversity(items, rows, similarity) for items in lists]
    extra: dict[str, float] = {}
    if catalogue is None and item_popularity is not None:
        catalogue = list(item_popularity)
    if catalogue is not None:
        extra["coverage"] = catalogue_coverage(
            [_top(items, k, u) for u, items in recs.items()], catalogue, k
        )
    return RankingMetrics(
        k, users, pd.DataFrame(columns, index=pd.Index(users, dtype=object)), extra
    )
