"""The serving recommender: one fitted state for the batch run and for one customer online.

:class:`RecommendEngine` is fitted once on a store's interactions and catalogue
and then answers two calls with the same code: :meth:`~RecommendEngine.recommend`
for one customer (optionally with the live session as context) and
:meth:`~RecommendEngine.recommend_many` for a batch. Every answer says which
path served the customer:

* ``personal``: EASE scores from the customer's decayed profile (the latest
  interactions weigh most), the session's products added as the latest;
* ``session``: the customer's whole history is one session (or, online, only the
  session given as context is known): the same model, from that session;
* ``category``: no products touched, but a favourite category from browsing (or
  the category being browsed): that category's most popular products first;
* ``segment``: nothing known but the customer's segment (``segment_by``, e.g.
  country): what is popular in that segment, shrunk towards overall popularity;
* ``popular``: nothing known at all: overall popularity over ``popular_days``.

The :mod:`~nextbest.models.recommend.rules` (``recommend.rules``) then apply: only
allowed products, nothing already purchased (due consumables come back first),
the customer's price band, campaign boosts, at most ``max_per_category`` per
category. Each item has a reason: "bought together with X", "viewed together
with X", "time to restock", "popular in your favourite category Y", ...

The state is a set of arrays, stored with :meth:`~RecommendEngine.save` as an
``.npz`` file (no pickle) and read back with :meth:`~RecommendEngine.load`.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> log = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3"],
...                     "item": ["a", "b", "a", "b", "a"], "time": range(5)})
>>> x = Interactions.from_frame(log, "user", "item", "time", items=["a", "b", "c"])
>>> products = pd.DataFrame({"product_id": ["a", "b", "c"], "name": ["Tea", "Mug", "Pot"],
...                          "category": ["food", "home", "home"]})
>>> engine = RecommendEngine().fit(x, products)
>>> [(r["product_id"], r["path"], r["reason"]) for r in engine.recommend("u3", k=1)]
[('b', 'personal', 'viewed together with Tea')]
>>> session = engine.recommend("new", k=1, context={"products": ["a"]})
>>> [(r["product_id"], r["path"]) for r in session]
[('b', 'session')]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from nextbest.errors import NotFoundError
from nextbest.models.recommend.base import RecommendInputError, csr_rows, lookup_one
from nextbest.models.recommend.candidate_features import UserRows
from nextbest.models.recommend.cooccurrence import CoOccurrence
from nextbest.models.recommend.ease import EASE
from nextbest.models.recommend.interactions import Interactions, to_seconds
from nextbest.models.recommend.rules import apply_boost, best_first, compile_rules
from nextbest.models.recommend.serving import ServingRanker

if TYPE_CHECKING:
    from nextbest.config import RecommendSettings
    from nextbest.models.recommend.ranker import CandidateRanker

__all__ = ["COLUMNS", "PATHS", "Context", "RecommendEngine", "parse_context"]

COLUMNS = ["customer_id", "rank", "product_id", "score", "generator", "reason", "path"]
PATHS = ("personal", "session", "category", "segment", "popular")
_DAY = 86_400.0
_PRIOR = 20.0  # segment popularity: pseudo-customers of overall popularity
_FORMAT = 2


@dataclass(frozen=True)
class Context:
    """What the customer is doing right now: products in the session, a category browsed."""

    products: tuple[str, ...] = ()
    category: str | None = None


def parse_context(value: Context | Mapping[str, Any] | Iterable[str] | None) -> Context:
    """A :class:`Context` from a mapping (``products``, ``category``) or ``key=value`` strings.

    >>> parse_context(["product=p1", "product=p2,p3", "category=home"])
    Context(products=('p1', 'p2', 'p3'), category='home')
    """
    if value is None:
        return Context()
    if isinstance(value, Context):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"products", "category"}
        if unknown:
            raise RecommendInputError(
                f"unknown context key(s) {sorted(unknown)}; use products and category.",
                field="context",
            )
        given = value.get("products") or ()
        chosen = [given] if isinstance(given, str) else list(given)
        category = value.get("category")
        return Context(tuple(str(p) for p in chosen), None if category is None else str(category))
    products: list[str] = []
    category = None
    for item in value:
        key, sep, text = str(item).partition("=")
        key = key.strip().lower()
        if not sep or not text.strip() or key not in ("product", "category"):
            raise RecommendInputError(
                f"cannot read context {item!r}.",
                field="--context",
                hint="Write product=ID (several: product=A,B) or category=NAME.",
            )
        if key == "product":
            products.extend(p.strip() for p in text.split(",") if p.strip())
        else:
            category = text.strip()
    return Context(tuple(products), category)


# -- small array helpers ----------------------------------------------------------------------
def _csr_keys(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``row * n_cols + col`` keys of the stored entries and their values."""
    m = sp.csr_matrix(m)
    m.sort_indices()
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return rows * m.shape[1] + m.indices.astype(np.int64), m.data.astype(np.float64)


def _codes(values: Any, universe: np.ndarray) -> np.ndarray:
    """Position of each value (as text) in ``universe``; -1 where absent or missing."""
    text = [str(v) if v is not None and v == v else None for v in values]
    return pd.Index(universe).get_indexer(pd.Index(text, dtype=object)).astype(np.int64)


def _text(values: Any) -> np.ndarray:
    """Strings for storage ('' for missing)."""
    return np.asarray(["" if v is None or v != v else str(v) for v in values], dtype=str)


@dataclass
class _Block:
    """Customers scored together: ids, path, scores and tiers over every item."""

    customers: np.ndarray
    path: np.ndarray
    scores: np.ndarray  # (b, n) float64
    tier: np.ndarray  # (b, n) int8: 2 due restock, 1 category first, 0 the rest
    rows: np.ndarray  # engine user row or -1
    recent: np.ndarray  # (b, R) item numbers for reasons, context first; -1 pads
    browse: np.ndarray  # category code browsed (context) or -1
    favourite: np.ndarray  # favourite category code or -1
    segment: np.ndarray  # segment code or -1
    generator: str
    overdue: dict[tuple[int, int], float] = field(default_factory=dict)


class RecommendEngine:
    """Fitted serving state; see the module docstring.

    Parameters
    ----------
    settings : RecommendSettings, optional
        The ``recommend`` settings (model, paths and rules); the defaults without.

    Attributes
    ----------
    items_, users_ : ndarray of str
        The catalogue and the customers with history (sorted).
    as_of_ : float
        Unix seconds the state describes (restock ages count from it).
    """

    def __init__(self, settings: RecommendSettings | None = None) -> None:
        from nextbest.config import RecommendSettings

        self.settings = settings or RecommendSettings()

    # -- fitting --------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Interactions,
        products: pd.DataFrame,
        *,
        purchases: pd.DataFrame | None = None,
        customers: pd.DataFrame | None = None,
        favourite: Mapping[Any, Any] | None = None,
        single_session: Iterable[Any] = (),
        as_of: Any = None,
        ranker: CandidateRanker | None = None,
    ) -> RecommendEngine:
        """Learn from ``interactions`` and the catalogue.

        Parameters
        ----------
        interactions : Interactions
            Every customer's weighted product interactions (user ids = customer ids).
        products : DataFrame
            ``product_id`` and optionally ``name``, ``category``, ``price``, ``in_stock``.
        purchases : DataFrame, optional
            Order lines: ``customer_id``, ``product_id``, ``time`` and optionally
            ``unit_price`` (exclusion, restocks, price band, "bought together").
        customers : DataFrame, optional
            ``customer_id`` and the ``segment_by`` column, for cold customers.
        favourite : mapping, optional
            Customer id to the category they browse most (customers without products).
        single_session : iterable, optional
            Customers whose whole history is one session (served by path ``session``).
        as_of : datetime or number, optional
            The time of the state (default: the latest interaction).
        ranker : CandidateRanker, optional
            A re-ranker whose candidates are fitted on ``interactions``: it then
            orders the ``personal`` and ``session`` paths (products it did not
            propose follow in EASE's order).
        """
        s = self.settings
        x = interactions
        if not isinstance(x, Interactions) or x.n_items == 0 or x.n_users == 0:
            raise RecommendInputError("there are no interactions to fit on.", field="interactions")
        if "product_id" not in products.columns:
            raise RecommendInputError("products need a product_id column.", field="products")
        items = _text(x.items)
        info = products.drop_duplicates("product_id").copy()
        info["product_id"] = info["product_id"].astype(str)
        info = info.set_index("product_id").reindex(pd.Index(items, dtype=object))
        get = lambda col: info[col] if col in info else pd.Series(None, index=info.index)  # noqa: E731
        name = get("name").astype(object)
        name = name.where(name.notna(), pd.Series(items, index=info.index, dtype=object))
        category = get("category").astype(object).to_numpy()
        categories = np.unique(_text([c for c in category if c is not None and c == c]))
        now = (
            float(x.last_time.data.max())
            if as_of is None
            else float(to_seconds([as_of], "as_of")[0])
        )
        self.items_ = items
        self.names_ = _text(name)
        self.categories_ = categories
        self.category_ = _codes(category, categories)
        self.price_ = pd.to_numeric(get("price"), errors="coerce").to_numpy(dtype=np.float64)
        self.as_of_ = now
        users = _text(x.users)
        self.users_ = users

        ease = EASE(l2=s.l2, half_life=s.half_life, decay_by="share", solver="items").fit(x)
        assert ease.B_ is not None
        self.B_ = ease.B_.astype(np.float32)
        profile = sp.csr_matrix(ease.profile_, dtype=np.float32)
        profile.sort_indices()
        self.profile_ = profile
        self.recent_ = _latest_items(x, s.recent_items)
        single = set(map(str, single_session))
        self.single_ = np.asarray([u in single for u in users], dtype=bool)
        self.history_favourite_ = self._history_favourite(x)

        buys = self._purchases(purchases, x)
        latest = buys.groupby(["user", "item"])["time"].max().reset_index()
        self.bought_ = sp.csr_matrix(
            (latest["time"].to_numpy(), (latest["user"].to_numpy(), latest["item"].to_numpy())),
            shape=x.shape,
        )
        self.bought_.sort_indices()
        paid = buys.dropna(subset=["price"]).groupby("user")["price"].median()
        self.user_price_ = np.full(x.n_users, np.nan)
        self.user_price_[paid.index.to_numpy(dtype=np.int64)] = paid.to_numpy(dtype=np.float64)

        view_keys = _csr_keys(CoOccurrence("jaccard", neighbors=s.neighbors).fit(x).cooccurrence_)
        self.viewed_keys_, self.viewed_values_ = view_keys
        self.bought_keys_ = np.zeros(0, dtype=np.int64)
        self.bought_values_ = np.zeros(0)
        if len(buys):
            bx = Interactions.from_codes(
                users,
                items,
                buys["user"].to_numpy(),
                buys["item"].to_numpy(),
                buys["time"].to_numpy(),
                np.ones(len(buys)),
            )
            cooc = CoOccurrence("jaccard", neighbors=s.neighbors).fit(bx).cooccurrence_
            self.bought_keys_, self.bought_values_ = _csr_keys(cooc)

        rules = compile_rules(
            s.rules,
            items,
            category,
            get("in_stock").to_numpy(dtype=object),
            buys[["user", "item", "time"]],
        )
        self.allowed_ = rules.allowed
        self.boost_ = rules.boost
        self.campaign_ = rules.campaign
        self.interval_days_ = rules.interval_days

        self.ranker_: ServingRanker | None = None
        self.ranker_info_: dict[str, Any] = {"served": False}
        if ranker is not None:
            cv = float(ranker.cv_ndcg_)
            self.ranker_info_ = {
                "served": True,
                "generators": list(ranker.generators_),
                "candidates": int(ranker.n_candidates),
                "rounds": int(ranker.n_estimators_),
                "queries": int(ranker.training_queries_),
                "validation_ndcg": cv if cv == cv else None,
            }
            r = ranker.interactions_
            if not (
                np.array_equal(_text(r.users), users) and np.array_equal(_text(r.items), items)
            ):
                raise RecommendInputError(
                    "the ranker's candidates are fitted on other interactions.",
                    field="ranker",
                    hint="Call ranker.refit_candidates(interactions) first.",
                )
            self.ranker_ = ServingRanker.from_ranker(ranker)
            self.rows_ = UserRows.of(x)

        self._fit_popularity(x, customers, now)
        cold_ids = sorted(set(map(str, (favourite or {}).keys())) | set(self._segment_of))
        self.cold_ids_ = np.asarray(cold_ids, dtype=str)
        fav = favourite or {}
        self.cold_favourite_ = _codes(
            np.asarray([fav.get(c) for c in cold_ids], dtype=object), categories
        )
        self.cold_segment_ = np.asarray(
            [self._segment_of.get(c, -1) for c in cold_ids], dtype=np.int64
        )
        del self._segment_of
        self._index()
        return self

    def _history_favourite(self, x: Interactions) -> np.ndarray:
        coo = x.matrix.tocoo()
        cat = self.category_[coo.col]
        keep = cat >= 0
        frame = pd.DataFrame({"u": coo.row[keep], "c": cat[keep], "w": coo.data[keep]})
        sums = frame.groupby(["u", "c"])["w"].sum().reset_index()
        sums = sums.sort_values(["u", "w", "c"], ascending=[True, False, True])
        top = sums.drop_duplicates("u")
        out = np.full(x.n_users, -1, dtype=np.int64)
        out[top["u"].to_numpy()] = top["c"].to_numpy()
        return out

    def _purchases(self, purchases: pd.DataFrame | None, x: Interactions) -> pd.DataFrame:
        empty = pd.DataFrame({"user": [], "item": [], "time": [], "price": []})
        if purchases is None or purchases.empty:
            return empty.astype({"user": np.int64, "item": np.int64})
        for col in ("customer_id", "product_id", "time"):
            if col not in purchases.columns:
                raise RecommendInputError(f"purchases need a {col} column.", field="purchases")
        user = _codes(purchases["customer_id"].to_numpy(dtype=object), self.users_)
        item = _codes(purchases["product_id"].to_numpy(dtype=object), self.items_)
        keep = (user >= 0) & (item >= 0)
        price = (
            pd.to_numeric(purchases["unit_price"], errors="coerce").to_numpy(dtype=np.float64)
            if "unit_price" in purchases.columns
            else np.full(len(purchases), np.nan)
        )
        return pd.DataFrame(
            {
                "user": user[keep],
                "item": item[keep],
                "time": to_seconds(purchases["time"], "time")[keep],
                "price": price[keep],
            }
        )

    def _fit_popularity(self, x: Interactions, customers: pd.DataFrame | None, now: float) -> None:
        log = x.log
        window = log[log["time"] >= now - self.settings.popular_days * _DAY]
        if window.empty:
            window = log  # nothing in the window: popularity over all history
        pairs = window.drop_duplicates(["user", "item"])
        active = max(int(pairs["user"].nunique()), 1)
        counts = np.bincount(pairs["item"], minlength=x.n_items).astype(np.float64)
        self.popularity_ = counts / active
        self.segments_ = np.zeros(0, dtype=str)
        self.segment_popularity_ = np.zeros((0, x.n_items))
        self._segment_of: dict[str, int] = {}
        column = self.settings.segment_by
        if customers is None or column is None or customers.empty:
            return
        if column not in customers.columns:
            raise RecommendInputError(
                f"recommend.segment_by names {column!r}, which the customers table lacks.",
                field="recommend.segment_by",
                hint=f"Use one of {sorted(c for c in customers.columns if c != 'customer_id')}"
                " or null.",
            )
        seg = customers[["customer_id", column]].dropna()
        seg = seg.assign(customer_id=seg["customer_id"].astype(str), value=seg[column].astype(str))
        names = np.unique(seg["value"].to_numpy(dtype=str))
        code = np.searchsorted(names, seg["value"].to_numpy(dtype=str))
        self._segment_of = dict(zip(seg["customer_id"], code.tolist(), strict=True))
        lookup = pd.Series(code, index=seg["customer_id"].to_numpy())
        user_seg = (
            lookup.reindex(self.users_[pairs["user"].to_numpy()]).fillna(-1).to_numpy(np.int64)
        )
        ok = user_seg >= 0
        seg_counts = np.zeros((len(names), x.n_items))
        np.add.at(seg_counts, (user_seg[ok], pairs["item"].to_numpy()[ok]), 1.0)
        seg_users = (
            pd.Series(pairs["user"].to_numpy()[ok])
            .groupby(user_seg[ok])
            .nunique()
            .reindex(range(len(names)), fill_value=0)
            .to_numpy(dtype=np.float64)
        )
        self.segments_ = names
        self.segment_popularity_ = (seg_counts + _PRIOR * self.popularity_[None, :]) / (
            seg_users[:, None] + _PRIOR
        )

    def _index(self) -> None:
        self._user_row = {u: i for i, u in enumerate(self.users_.tolist())}
        self._cold_row = {u: i for i, u in enumerate(self.cold_ids_.tolist())}
        self._item_col = {p: i for i, p in enumerate(self.items_.tolist())}
        self._category_code = {c: i for i, c in enumerate(self.categories_.tolist())}
        self._blocked = np.flatnonzero(~self.allowed_)
        self._by_id = np.argsort(self.items_, kind="stable")  # ties go by product id

    # -- serving ----------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "B_"):
            from nextbest.models.recommend.base import NotFittedError

            raise NotFittedError("the engine is not fitted yet.", hint="Call fit(...) first.")

    def _k(self, k: int | None) -> int:
        k = self.settings.k if k is None else k
        if int(k) != k or k < 1:
            raise RecommendInputError(f"k must be a positive integer; got {k!r}.", field="k")
        return int(k)

    def recommend(
        self,
        customer_id: Any,
        k: int | None = None,
        *,
        context: Context | Mapping[str, Any] | Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """One customer's top ``k`` (default ``settings.k``) as dicts with reason and path.

        ``context`` is what the customer does now: ``{"products": [...]}`` (the
        session's products, latest last) and/or ``{"category": "..."}``.
        """
        self._check_fitted()
        k = self._k(k)
        ctx = parse_context(context)
        customer = str(customer_id)
        extra = np.asarray([self._item(p) for p in ctx.products], dtype=np.int64)
        browse = -1 if ctx.category is None else self._category(ctx.category)
        row = self._user_row.get(customer, -1)
        if row >= 0 or len(extra):
            block = self._warm_block(np.asarray([row]), [customer], extra, browse)
        else:
            block = self._cold_block([customer], browse)
        cols = {name: values.tolist() for name, values in self._finish(block, k).items()}
        return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]

    def recommend_many(
        self, customers: Iterable[Any], k: int | None = None, *, batch_size: int = 2048
    ) -> pd.DataFrame:
        """Top ``k`` for every customer (no context), one row per item: :data:`COLUMNS`."""
        self._check_fitted()
        k = self._k(k)
        wanted = list(dict.fromkeys(str(c) for c in customers))
        warm = [c for c in wanted if c in self._user_row]
        cold = [c for c in wanted if c not in self._user_row]
        parts: list[dict[str, np.ndarray]] = []
        rows = np.asarray([self._user_row[c] for c in warm], dtype=np.int64)
        empty = np.zeros(0, dtype=np.int64)
        for start in range(0, len(warm), batch_size):
            block = self._warm_block(
                rows[start : start + batch_size], warm[start : start + batch_size], empty, -1
            )
            parts.append(self._finish(block, k))
        if cold:
            parts.append(self._cold_many(cold, k))
        if not parts:
            return pd.DataFrame({c: [] for c in COLUMNS})
        frame = pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in COLUMNS})
        frame["rank"] = frame["rank"].astype(np.int64)
        frame["score"] = frame["score"].astype(np.float64)
        return frame

    def _cold_codes(self, customers: Sequence[str]) -> tuple[np.ndarray, ...]:
        """Cold customers' rows, segment codes and favourite category codes (-1: none)."""
        rows = np.asarray([self._cold_row.get(c, -1) for c in customers], dtype=np.int64)
        known = rows >= 0
        seg = np.full(len(rows), -1, dtype=np.int64)
        fav = np.full(len(rows), -1, dtype=np.int64)
        seg[known] = self.cold_segment_[rows[known]]
        fav[known] = self.cold_favourite_[rows[known]]
        return rows, seg, fav

    def _cold_many(self, customers: list[str], k: int) -> dict[str, np.ndarray]:
        """Cold customers share their list with everyone of the same segment and favourite."""
        _, seg, fav = self._cold_codes(customers)
        combos, which = np.unique(np.c_[seg, fav], axis=0, return_inverse=True)
        which = which.ravel()
        first = np.asarray([customers[int(np.argmax(which == g))] for g in range(len(combos))])
        lists = self._finish(self._cold_block(list(first), -1), k)
        group = pd.Index(first).get_indexer(lists["customer_id"].astype(str))
        order = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[order], np.arange(len(combos)))
        counts = np.bincount(group, minlength=len(combos))
        members = np.argsort(which, kind="stable")  # customers grouped by combo
        member_counts = np.bincount(which, minlength=len(combos))
        take, owner = [], []
        pos = 0
        for g in range(len(combos)):
            these = members[pos : pos + member_counts[g]]
            pos += member_counts[g]
            rows_g = order[starts[g] : starts[g] + counts[g]]
            take.append(np.tile(rows_g, len(these)))
            owner.append(np.repeat(these, len(rows_g)))
        idx = np.concatenate(take)
        out = {name: values[idx] for name, values in lists.items()}
        out["customer_id"] = np.asarray(customers, dtype=object)[np.concatenate(owner)]
        return out

    def _item(self, product_id: str) -> int:
        col = self._item_col.get(str(product_id))
        if col is None:
            raise NotFoundError(
                f"product {product_id!r} in the context is not in the catalogue.",
                field="context",
                hint="Use a product id from the products table.",
            )
        return col

    def _category(self, name: str) -> int:
        code = self._category_code.get(str(name))
        if code is None:
            raise NotFoundError(
                f"category {name!r} in the context is not in the catalogue.",
                field="context",
                hint=f"Known categories: {', '.join(self.categories_.tolist()[:12])}.",
            )
        return code

    def _warm_block(
        self, rows: np.ndarray, customers: Sequence[str], extra: np.ndarray, browse: int
    ) -> _Block:
        """Scores for users at ``rows`` (-1: no history); ``extra`` session items."""
        known = rows >= 0
        session = np.zeros(0, dtype=np.int64)
        recent = np.where(known[:, None], self.recent_[np.maximum(rows, 0)], -1)
        if len(extra):  # one customer: history plus the session, the session latest
            session = np.asarray(list(dict.fromkeys(extra[::-1].tolist())), dtype=np.int64)
            older = [i for i in recent[0].tolist() if i >= 0 and i not in set(session.tolist())]
            width = max(recent.shape[1], len(session))
            recent = np.full((1, width), -1, dtype=np.int64)
            merged = [*session.tolist(), *older][:width]
            recent[0, : len(merged)] = merged
        if self.ranker_ is not None:
            scores = self._rerank(rows, extra)
            generator = "ranker"
        else:
            profile = (
                self._session_profile(rows[0], session) if len(extra) else self._profile_rows(rows)
            )
            scores = np.asarray(profile @ self.B_, dtype=np.float64)
            generator = "ease"
        scores[:, self._blocked] = -np.inf
        path = np.where(
            known, np.where(self.single_[np.maximum(rows, 0)], "session", "personal"), "session"
        ).astype(object)
        tier = np.zeros(scores.shape, dtype=np.int8)
        if browse >= 0:
            tier[:, self.category_ == browse] = 1
        b = len(rows)
        favourite = np.where(known, self.history_favourite_[np.maximum(rows, 0)], -1)
        block = _Block(
            np.asarray(customers, dtype=object),
            path,
            scores,
            tier,
            rows,
            recent,
            np.full(b, browse, dtype=np.int64),
            favourite,
            np.full(b, -1, dtype=np.int64),
            generator,
        )
        if len(extra):
            scores[0, extra] = -np.inf  # what the customer looks at now
        self._exclusions(block)
        self._price_band(block)
        return block

    def _session_profile(self, row: int, session: np.ndarray) -> sp.csr_matrix:
        """The profile of the user at ``row`` (-1: none) with ``session`` as the latest items."""
        start, stop = self.profile_.indptr[row : row + 2] if row >= 0 else (0, 0)
        idx = self.profile_.indices[start:stop]
        w = self.profile_.data[start:stop]
        keep = ~np.isin(idx, session)
        top = w.max() if len(w) else 1.0
        idx = np.concatenate([idx[keep], session])
        w = np.concatenate([w[keep], np.full(len(session), top, dtype=np.float32)])
        order = np.argsort(idx, kind="stable")
        n = len(self.items_)
        return sp.csr_matrix((w[order], idx[order], [0, len(idx)]), shape=(1, n))

    def _user_rows(self, rows: np.ndarray, extra: np.ndarray) -> UserRows:
        """The interactions of the users at ``rows`` (-1: none). With one user, ``extra``
        session products are added as touched now (weighted as a product view); a batch
        has no session."""
        u = self.rows_
        if len(rows) == 1:  # one customer online: slices instead of gathers
            a, b = u.indptr[rows[0] : rows[0] + 2] if rows[0] >= 0 else (0, 0)
            indices, weights, times = u.indices[a:b], u.weights[a:b], u.times[a:b]
            if len(extra):
                w = float(self.settings.weights.get("product_view", 1.0)) or 1.0
                weights, times = weights.astype(np.float64), times.astype(np.float64)
                new = []
                for item in sorted(set(extra.tolist())):  # a session has a few products
                    again = np.flatnonzero(indices == item)
                    if len(again):
                        weights[again] += w
                        times[again] = self.as_of_
                    else:
                        new.append(item)
                if new:
                    indices = np.concatenate([indices, np.asarray(new, dtype=indices.dtype)])
                    weights = np.concatenate([weights, np.full(len(new), w)])
                    times = np.concatenate([times, np.full(len(new), self.as_of_)])
            return UserRows(np.asarray([0, len(indices)]), indices, weights, times)
        known = rows >= 0
        block, pos = csr_rows(u.indptr, np.where(known, rows, 0))
        keep = known[block]
        block, pos = block[keep], pos[keep]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(block, minlength=len(rows)))
        return UserRows(indptr, u.indices[pos], u.weights[pos], u.times[pos])

    def _rerank(self, rows: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """The ranker's scores on its candidates; every other product after them, in the
        order of the ranker's first generator (EASE)."""
        assert self.ranker_ is not None
        ranked = self.ranker_.score(self._user_rows(rows, extra), rows, fallback=True)
        cand_row, cand_item, cand_score, scores = ranked
        lowest = np.zeros(len(rows))
        if len(cand_row):
            lowest = np.full(len(rows), np.inf)
            np.minimum.at(lowest, cand_row, cand_score)
            lowest[~np.isfinite(lowest)] = 0.0
        top = scores.max(axis=1, initial=-np.inf)
        top = np.where(np.isfinite(top), top, 0.0)
        out = lowest[:, None] - 1.0 - (top[:, None] - scores)
        out[cand_row, cand_item] = cand_score
        return out

    def _profile_rows(self, rows: np.ndarray) -> sp.csr_matrix:
        """The profile rows at ``rows`` (a row of -1: empty), entries in stored order."""
        p = self.profile_
        safe = np.where(rows >= 0, rows, 0)
        start = np.where(rows >= 0, p.indptr[safe], 0)
        stop = np.where(rows >= 0, p.indptr[safe + 1], 0)
        if len(rows) == 1:
            a, b = int(start[0]), int(stop[0])
            indptr = np.asarray([0, b - a])
            return sp.csr_matrix((p.data[a:b], p.indices[a:b], indptr), shape=(1, p.shape[1]))
        return p[safe].multiply((rows >= 0)[:, None]).tocsr() if (rows < 0).any() else p[rows]

    def _exclusions(self, block: _Block) -> None:
        """Purchased (or touched) items out, due consumables in at tier 2."""
        rules = self.settings.rules
        rows = block.rows
        known = np.flatnonzero(rows >= 0)
        if rules.exclude == "none" or not len(known):
            return
        scores = block.scores
        r, pos = csr_rows(self.bought_.indptr, rows[known])
        item = self.bought_.indices[pos].astype(np.int64)
        days = (self.as_of_ - self.bought_.data[pos]) / _DAY
        interval = self.interval_days_[item]
        due = (days >= interval) & self.allowed_[item]  # nan interval: never due
        r_all = known[r]
        kept = scores[r_all, item]  # -inf where blocked or in the session context
        due &= np.isfinite(kept)
        if rules.exclude == "interacted":
            rp, pp = csr_rows(self.profile_.indptr, rows[known])
            scores[known[rp], self.profile_.indices[pp]] = -np.inf
        scores[r_all, item] = -np.inf
        if not due.any() or rules.replenish_max == 0:
            return
        frame = pd.DataFrame(
            {
                "r": r_all[due],
                "item": item[due],
                "days": days[due],
                "ratio": days[due] / interval[due],
                "s": kept[due],
            }
        )
        frame = frame.sort_values(["r", "ratio", "item"], ascending=[True, False, True])
        frame = frame[frame.groupby("r").cumcount() < rules.replenish_max]
        rr, ii = frame["r"].to_numpy(), frame["item"].to_numpy()
        scores[rr, ii] = frame["s"].to_numpy()
        block.tier[rr, ii] = 2
        block.overdue = {
            (int(a), int(c)): float(d)
            for a, c, d in zip(rr, ii, frame["days"].to_numpy(), strict=True)
        }

    def _price_band(self, block: _Block) -> None:
        band = self.settings.rules.price_band
        if band is None:
            return
        rows = block.rows
        paid = np.where(rows >= 0, self.user_price_[np.maximum(rows, 0)], np.nan)
        has = np.isfinite(paid)
        if not has.any():
            return
        price = self.price_[None, :]
        low, high = band[0] * paid[has, None], band[1] * paid[has, None]
        outside = np.isfinite(price) & ((price < low) | (price > high))
        sub = block.scores[has]
        sub[outside & (block.tier[has] < 2)] = -np.inf
        block.scores[has] = sub

    def _cold_block(self, customers: Sequence[str], browse: int) -> _Block:
        rows, seg, fav = self._cold_codes(customers)
        if browse >= 0:
            fav = np.full(len(rows), browse, dtype=np.int64)
        base = np.vstack([self.popularity_[None, :], self.segment_popularity_])
        scores = base[seg + 1].astype(np.float64)
        scores[:, self._blocked] = -np.inf
        tier = np.zeros(scores.shape, dtype=np.int8)
        in_fav = (fav[:, None] >= 0) & (self.category_[None, :] == fav[:, None])
        tier[in_fav] = 1
        path = np.where(fav >= 0, "category", np.where(seg >= 0, "segment", "popular"))
        b = len(rows)
        return _Block(
            np.asarray(customers, dtype=object),
            path.astype(object),
            scores,
            tier,
            np.full(b, -1, dtype=np.int64),
            np.full((b, 1), -1, dtype=np.int64),
            np.full(b, browse, dtype=np.int64),
            fav,
            seg,
            "popularity",
        )

    def _finish(self, block: _Block, k: int) -> dict[str, np.ndarray]:
        """Boosts, ordering by tier then score, the category cap, reasons: output columns."""
        s = self.settings
        scores = (
            apply_boost(block.scores, self.boost_[None, :])
            if (self.boost_ != 1.0).any()
            else block.scores
        )
        finite = np.isfinite(scores)
        span = float(np.abs(np.where(finite, scores, 0.0)).max(initial=0.0)) * 2 + 1.0
        key = np.where(finite, scores + block.tier * span, -np.inf)
        if block.tier.max(initial=0) == 2:
            for (row, col), days in block.overdue.items():  # most overdue first
                key[row, col] = (
                    2 * span + 0.5 * span * min(days / self.interval_days_[col], 100) / 100
                )
        chosen = best_first(
            key, self._by_id, self.category_, s.rules.max_per_category, k, block.browse
        )
        r, slot = np.nonzero(chosen >= 0)
        item = chosen[r, slot]
        level = block.tier[r, item]
        reason = self._reasons(block, r, item, level)
        campaign = self.campaign_[item]
        boosted = campaign != ""
        if boosted.any():
            reason[boosted] = [
                f"{a}; featured: {b}"
                for a, b in zip(reason[boosted], campaign[boosted], strict=True)
            ]
        generator = np.where(level == 2, "restock", block.generator).astype(object)
        return {
            "customer_id": block.customers[r],
            "rank": slot + 1,
            "product_id": self.items_[item].astype(object),
            "score": scores[r, item],
            "generator": generator,
            "reason": reason,
            "path": block.path[r],
        }

    def _support(
        self, keys: np.ndarray, values: np.ndarray, recent: np.ndarray, item: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best recent partner of each item and its co-occurrence (0: none)."""
        recent = np.ascontiguousarray(recent, dtype=np.int64)
        partner = np.empty(len(item), dtype=np.int64)
        support = np.empty(len(item))
        _best_partners(
            np.asarray(keys, dtype=np.int64),
            np.asarray(values, dtype=np.float64),
            recent,
            np.asarray(item, dtype=np.int64),
            len(self.items_),
            partner,
            support,
        )
        return partner, support

    def _reasons(
        self, block: _Block, r: np.ndarray, item: np.ndarray, tier: np.ndarray
    ) -> np.ndarray:
        """Each recommended item's reason in words: the first that holds of a ranked list's
        (bought / viewed together with a recent product, the category browsed, the
        favourite category, similar tastes) or a popularity list's (browsed or
        favourite category, segment, everyone); restocks say when."""
        cat = self.category_[item]
        names = self.categories_.tolist()
        n = len(item)
        text = np.empty(n, dtype=object)
        if block.generator != "popularity":
            recent = block.recent[r]
            bought, with_bought = self._support(
                self.bought_keys_, self.bought_values_, recent, item
            )
            viewed, with_viewed = self._support(
                self.viewed_keys_, self.viewed_values_, recent, item
            )
            browsed = (cat >= 0) & (cat == block.browse[r])
            fav = (cat >= 0) & (cat == block.favourite[r])
            columns = zip(
                (with_bought > 0).tolist(), bought.tolist(), (with_viewed > 0).tolist(),
                viewed.tolist(), browsed.tolist(), fav.tolist(), cat.tolist(), strict=True,
            )  # fmt: skip
            product = self.names_
            text[:] = [
                f"bought together with {product[b]}" if has_b
                else f"viewed together with {product[v]}" if has_v
                else f"matches {names[c]}, the category you are browsing" if in_browse
                else f"popular in your favourite category {names[c]}" if in_fav
                else "chosen by customers with tastes like yours"
                for has_b, b, has_v, v, in_browse, in_fav, c in columns
            ]  # fmt: skip
        else:
            fav = ((cat >= 0) & (cat == block.favourite[r])).tolist()
            browsing = (block.browse[r] >= 0).tolist()
            segments = self.segments_
            columns = zip(fav, browsing, block.segment[r].tolist(), cat.tolist(), strict=True)
            text[:] = [
                (f"popular in {names[c]}, the category you are browsing" if browse
                 else f"popular in your favourite category {names[c]}") if in_fav
                else f"popular with customers in {segments[g]}" if g >= 0
                else "popular with all customers"
                for in_fav, browse, g, c in columns
            ]  # fmt: skip
        for j in np.flatnonzero(tier == 2).tolist():
            days = block.overdue.get((int(r[j]), int(item[j])), float("nan"))
            every = self.interval_days_[item[j]]
            text[j] = (
                f"time to restock: last bought {days:.0f} days ago, usually every {every:.0f} days"
            )
        return text

    # -- storage ----------------------------------------------------------------------------------
    _ARRAYS = (
        "items_", "names_", "categories_", "category_", "price_", "users_", "B_", "recent_",
        "single_", "history_favourite_", "user_price_", "viewed_keys_", "viewed_values_",
        "bought_keys_", "bought_values_", "allowed_", "boost_", "campaign_", "interval_days_",
        "popularity_", "segments_", "segment_popularity_", "cold_ids_", "cold_favourite_",
        "cold_segment_",
    )  # fmt: skip

    def save(self, path: str | Path) -> Path:
        """Write the state to ``path`` (``.npz``, no pickle)."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        for name, m in (("profile", self.profile_), ("bought", self.bought_)):
            arrays[f"{name}_indptr"] = m.indptr
            arrays[f"{name}_indices"] = m.indices
            arrays[f"{name}_data"] = m.data
        if self.ranker_ is not None:
            arrays.update(self.ranker_.arrays())
            for name in ("indptr", "indices", "weights", "times"):
                arrays[f"rows_{name}"] = getattr(self.rows_, name)
        meta = {
            "format": _FORMAT,
            "ranker": self.ranker_info_,
            "as_of": self.as_of_,
            "settings": self.settings.model_dump(mode="json"),
        }
        arrays["meta"] = np.asarray(json.dumps(meta))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RecommendEngine:
        """Read a state written by :meth:`save`."""
        from nextbest.config import RecommendSettings

        path = Path(path)
        if not path.exists():
            raise NotFoundError(
                f"no recommender state at {path}.", hint="Run `nextbest recommend build` first."
            )
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != _FORMAT:
                raise NotFoundError(
                    f"{path} was written by another version of the recommender.",
                    hint="Run `nextbest recommend build` again.",
                )
            engine = cls(RecommendSettings(**meta["settings"]))
            for name in cls._ARRAYS:
                setattr(engine, name, data[name])
            n = len(engine.items_)
            m = len(engine.users_)
            engine.profile_ = sp.csr_matrix(
                (data["profile_data"], data["profile_indices"], data["profile_indptr"]),
                shape=(m, n),
            )
            engine.bought_ = sp.csr_matrix(
                (data["bought_data"], data["bought_indices"], data["bought_indptr"]),
                shape=(m, n),
            )
            engine.ranker_ = None
            engine.ranker_info_ = dict(meta["ranker"])
            if engine.ranker_info_.get("served"):
                engine.ranker_ = ServingRanker.from_arrays(data)
                engine.rows_ = UserRows(
                    *(data[f"rows_{name}"] for name in ("indptr", "indices", "weights", "times"))
                )
        engine.as_of_ = float(meta["as_of"])
        engine._index()
        return engine


def _latest_items(x: Interactions, m: int) -> np.ndarray:
    """``(n_users, m)`` item numbers of each user's latest items, latest first; -1 pads."""
    coo = x.last_time.tocoo()
    frame = pd.DataFrame({"row": coo.row, "item": coo.col, "t": coo.data})
    frame = frame.sort_values(["row", "t", "item"], ascending=[True, False, True])
    frame["slot"] = frame.groupby("row").cumcount()
    frame = frame[frame["slot"] < m]
    out = np.full((x.n_users, m), -1, dtype=np.int64)
    out[frame["row"].to_numpy(), frame["slot"].to_numpy()] = frame["item"].to_numpy()
    return out


@numba.njit(cache=True, nogil=True)
def _best_partners(keys, values, recent, item, n, partner, support):  # pragma: no cover
    """Per item the first of its row of ``recent`` items (-1: none) with the highest
    value at key ``partner * n + item`` (0 where there is none)."""
    for j in range(len(item)):
        best, top = 0, 0.0
        for p in range(recent.shape[1]):
            value = (
                lookup_one(keys, values, recent[j, p] * n + item[j]) if recent[j, p] >= 0 else 0.0
            )
            if p == 0 or value > top:
                best, top = p, value
        partner[j], support[j] = recent[j, best], top
