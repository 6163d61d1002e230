"""Content-based similarity from product attributes, for new products and new customers.

Each item becomes a vector of attribute blocks, each block scaled to unit length
and weighted (``weights``, default 1 each):

* one block per ``categorical`` column, one-hot (a value holding ``separator``,
  like ``"Action|Comedy"``, sets several entries);
* the ``price`` column's band: ``price_bands`` quantile bands over the catalogue;
* one block per ``text`` column: TF-IDF over its words.

Two items' similarity is the cosine of their vectors; a user is scored by the
cosine of each item to their decayed profile (the weighted sum of the vectors of
what they touched). An item nobody has interacted with yet is scored like any
other, which is what new products need; :meth:`ContentSimilarity.similar_items`
serves a product page or a new customer's first view.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> products = pd.DataFrame({"product_id": ["p1", "p2", "p3"],
...                          "category": ["toys", "toys", "books"],
...                          "brand": ["acme", "acme", "pulp"], "price": [5.0, 6.0, 30.0],
...                          "name": ["red car", "blue car", "novel"]})
>>> frame = pd.DataFrame({"user": ["u"], "item": ["p1"], "time": [0]})
>>> x = Interactions.from_frame(frame, "user", "item", "time", items=products["product_id"])
>>> model = ContentSimilarity(price_bands=2).fit(x, products)
>>> model.recommend_frame(["u"], k=2)["item_id"].tolist()
['p2', 'p3']
>>> [item for item, _ in model.similar_items("p3", k=1)]
['p2']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.profile import check_decay, decayed_profile

__all__ = ["ContentSimilarity", "content_scores", "item_vectors"]


def _unit_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ m)


def _one_hot(values: pd.Series, separator: str | None) -> sp.csr_matrix:
    text = values.fillna("").astype(str)
    lists = text.str.split(separator) if separator else text.map(lambda v: [v])
    lists = lists.map(lambda vs: sorted({v.strip() for v in vs if v.strip()}))
    vocab = sorted({v for vs in lists for v in vs})
    pos = {v: i for i, v in enumerate(vocab)}
    rows = np.repeat(np.arange(len(lists)), [len(vs) for vs in lists])
    cols = np.array([pos[v] for vs in lists for v in vs], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(lists), max(len(vocab), 1)))


def item_vectors(
    attributes: pd.DataFrame,
    categorical: Sequence[str] = (),
    price: str | None = None,
    price_bands: int = 5,
    text: Sequence[str] = (),
    weights: Mapping[str, float] | None = None,
    separator: str | None = "|",
) -> sp.csr_matrix:
    """Unit-length attribute vectors, one row per row of ``attributes`` (see the module)."""
    weights = dict(weights or {})
    blocks = []
    for column in [*categorical, *([price] if price else []), *text]:
        if column not in attributes.columns:
            raise RecommendInputError(
                f"attribute column {column!r} not found; have {list(attributes.columns)}.",
                field=column,
            )
    for column in categorical:
        blocks.append((column, _one_hot(attributes[column], separator)))
    if price:
        values = pd.to_numeric(attributes[price], errors="coerce")
        ranks = values.rank(method="average", pct=True)
        band = np.ceil(ranks * price_bands).clip(1, price_bands)
        blocks.append(
            (price, _one_hot(band.map(lambda b: "" if pd.isna(b) else str(int(b))), None))
        )
    if text:
        from sklearn.feature_extraction.text import TfidfVectorizer

        for column in text:
            docs = attributes[column].fillna("").astype(str)
            if docs.str.strip().eq("").all():
                continue
            blocks.append((column, sp.csr_matrix(TfidfVectorizer().fit_transform(docs))))
    if not blocks:
        raise RecommendInputError(
            "no attributes to compare items by.",
            field="attributes",
            hint="Name at least one categorical, price or text column.",
        )
    scaled = [_unit_rows(m) * np.sqrt(float(weights.get(name, 1.0))) for name, m in blocks]
    return _unit_rows(sp.hstack(scaled, format="csr"))


class ContentSimilarity(Recommender):
    """Attribute-based recommender; see the module docstring.

    ``fit(interactions, item_attributes)`` takes a frame with one row per item
    (ids in ``id_column`` or in the index); items without a row get a zero vector.

    Attributes
    ----------
    vectors_ : scipy.sparse.csr_matrix
        Unit attribute vector per item column.
    """

    def __init__(
        self,
        categorical: Sequence[str] = ("category", "brand"),
        price: str | None = "price",
        price_bands: int = 5,
        text: Sequence[str] = ("name",),
        weights: Mapping[str, float] | None = None,
        separator: str | None = "|",
        id_column: str = "product_id",
        half_life: float | None = None,
        decay_by: str = "interactions",
    ) -> None:
        self.categorical = categorical
        self.price = price
        self.price_bands = price_bands
        self.text = text
        self.weights = weights
        self.separator = separator
        self.id_column = id_column
        self.half_life = half_life
        self.decay_by = decay_by

    def fit(
        self, interactions: Interactions, item_attributes: pd.DataFrame | None = None
    ) -> ContentSimilarity:
        x = self._check_interactions(interactions)
        if not isinstance(item_attributes, pd.DataFrame):
            raise RecommendInputError(
                "content similarity needs the item attributes.",
                field="item_attributes",
                hint="Call fit(interactions, products_frame).",
            )
        if int(self.price_bands) != self.price_bands or self.price_bands < 1:
            raise RecommendInputError(
                f"must be a positive integer; got {self.price_bands!r}.", field="price_bands"
            )
        check_decay(self.half_life, self.decay_by)
        attrs = item_attributes
        if self.id_column in attrs.columns:
            attrs = attrs.set_index(self.id_column)
        attrs = attrs[~attrs.index.duplicated(keep="first")]
        known = attrs.reindex(pd.Index(x.items))
        present = attrs.index.isin(x.items)
        if not present.any():
            raise RecommendInputError(
                "no item of the interactions has attributes.",
                field="item_attributes",
                hint=f"Check that {self.id_column!r} holds the same ids as the interactions.",
            )
        vectors = item_vectors(
            attrs,
            self.categorical,
            self.price,
            int(self.price_bands),
            self.text,
            self.weights,
            self.separator,
        )
        pos = attrs.index.get_indexer(known.index)
        take = np.where(pos >= 0, pos, 0)
        mask = sp.diags((pos >= 0).astype(float))
        self.vectors_ = sp.csr_matrix(mask @ vectors[take])
        self.profile_ = decayed_profile(x, self.half_life, self.decay_by)
        self.interactions_ = x
        return self

    def similar_items(self, item: Any, k: int = 10) -> list[tuple[Any, float]]:
        """The ``k`` items most similar to ``item`` (itself left out), with their cosine."""
        self._check_fitted()
        x = self.interactions_
        i = int(x.item_index([item])[0])
        sims = np.asarray((self.vectors_ @ self.vectors_[i].T).todense()).ravel()
        sims[i] = -np.inf
        order = np.lexsort((np.arange(len(sims)), -sims))[:k]
        return [(v, float(s)) for v, s in zip(x.items[order].tolist(), sims[order], strict=True)]

    def _score(self, rows: np.ndarray) -> np.ndarray:
        p = self.profile_[rows]
        return content_scores(self.vectors_, p.indptr, p.indices, p.data)


def content_scores(
    vectors: sp.csr_matrix, indptr: np.ndarray, items: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Cosine of every item's vector to each user's profile vector: ``(n_users, n_items)``.

    The users are CSR rows (``indptr``) of ``items`` with ``weights``; a user's profile
    vector is the sum of the weights times the vectors of their items. Each user's
    sums run over their own entries only, so one user scored alone gets exactly the
    scores of a batch.
    """
    vectors = (
        vectors if sp.issparse(vectors) and vectors.format == "csr" else sp.csr_matrix(vectors)
    )
    out = np.zeros((len(indptr) - 1, vectors.shape[0]))
    _content_scores(
        np.asarray(indptr, dtype=np.int64),
        np.asarray(items, dtype=np.int64),
        np.asarray(weights, dtype=np.float64),
        np.asarray(vectors.indptr, dtype=np.int64),
        np.asarray(vectors.indices, dtype=np.int64),
        np.asarray(vectors.data, dtype=np.float64),
        vectors.shape[1],
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _content_scores(
    indptr, items, weights, v_indptr, v_indices, v_data, width, out
):  # pragma: no cover
    """:func:`content_scores` into ``out``: per user the profile vector, its unit
    length, and each item's dot product with it (sums in entry order)."""
    vec = np.zeros(width)
    for u in range(len(indptr) - 1):
        vec[:] = 0.0
        for e in range(indptr[u], indptr[u + 1]):
            w = weights[e]
            if w != 0:
                i = items[e]
                for q in range(v_indptr[i], v_indptr[i + 1]):
                    vec[v_indices[q]] += w * v_data[q]
        norm = 0.0
        for c in range(width):
            norm += vec[c] * vec[c]
        norm = np.sqrt(norm)
        if not norm > 0:
            continue
        vec /= norm
        for i in range(out.shape[1]):
            s = 0.0
            for q in range(v_indptr[i], v_indptr[i + 1]):
                s += v_data[q] * vec[v_indices[q]]
            out[u, i] = s
