"""Batch recommendations: top-K products for every customer, each with a reason.

:func:`recommend_all` is the in-memory core. Customers with history get EASE's
list (scored with a time-decayed profile, leaving out every product they already
touched); each item's reason names the product among the customer's latest ones
whose co-occurrence ("bought together", else "viewed together") most supports
it, else says it is popular in the customer's favourite category, else that
customers with similar tastes chose it. Customers with no history are served by
popularity within their favourite category when one is known (from category
browsing), filled up from the global ranking. The ``path`` column says which
path served the customer: ``personal`` or ``popular``.

:func:`build_recommendations` reads the warehouse before ``as_of`` and writes
the ``recommendations`` table (one slice per ``as_of``);
:func:`load_recommendations` reads one customer's stored list back.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> frame = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3"],
...                       "item": ["a", "b", "a", "b", "a"], "time": range(5)})
>>> x = Interactions.from_frame(frame, "user", "item", "time", items=["a", "b", "c"])
>>> products = pd.DataFrame({"product_id": ["a", "b", "c"], "name": ["Tea", "Mug", "Pot"],
...                          "category": ["food", "home", "home"]})
>>> recs = recommend_all(x, products, ["u3", "new"], k=1, favourite={"new": "home"})
>>> for row in recs[["customer_id", "product_id", "path", "reason"]].values.tolist():
...     print(row)
['u3', 'b', 'personal', 'viewed together with Tea']
['new', 'b', 'popular', 'popular in your favourite category home']
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from nextbest.errors import NotFoundError
from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.cooccurrence import CoOccurrence
from nextbest.models.recommend.ease import EASE
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.popularity import Popularity
from nextbest.models.recommend.source import warehouse_interactions

if TYPE_CHECKING:
    from nextbest.config import RecommendSettings
    from nextbest.warehouse import Warehouse

__all__ = [
    "RECOMMENDATIONS_TABLE",
    "BuildResult",
    "build_recommendations",
    "load_recommendations",
    "recommend_all",
]

RECOMMENDATIONS_TABLE = "recommendations"
COLUMNS = ["customer_id", "rank", "product_id", "score", "generator", "reason", "path"]
_TS = "timestamp(6)"


@dataclass
class BuildResult:
    as_of: dt.datetime
    customers: int
    rows: int
    paths: dict[str, int] = field(default_factory=dict)  # path -> customers
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "rows": self.rows,
            "paths": self.paths,
            "seconds": round(self.seconds, 3),
            "table": RECOMMENDATIONS_TABLE,
        }


def _favourite_of_history(x: Interactions, category: np.ndarray) -> pd.Series:
    """Per user with history: the category holding most of their interaction weight."""
    coo = x.matrix.tocoo()
    frame = pd.DataFrame({"user": x.users[coo.row], "category": category[coo.col], "w": coo.data})
    frame = frame[frame["category"].notna()]
    sums = frame.groupby(["user", "category"], sort=True)["w"].sum().reset_index()
    sums = sums.sort_values(["user", "w", "category"], ascending=[True, False, True])
    return sums.drop_duplicates("user").set_index("user")["category"]


def _recent_items(x: Interactions, rows: np.ndarray, m: int) -> np.ndarray:
    """``(len(rows), m)`` item numbers of each user's latest items, latest first; -1 pads."""
    sub = sp.csr_matrix(x.last_time[rows])
    coo = sub.tocoo()
    frame = pd.DataFrame({"row": coo.row, "item": coo.col, "t": coo.data})
    frame = frame.sort_values(["row", "t", "item"], ascending=[True, False, True])
    frame["slot"] = frame.groupby("row").cumcount()
    frame = frame[frame["slot"] < m]
    out = np.full((len(rows), m), -1, dtype=np.int64)
    out[frame["row"].to_numpy(), frame["slot"].to_numpy()] = frame["item"].to_numpy()
    return out


def _support(cooc: sp.csr_matrix, recent: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``(m, n)``: co-occurrence of each pair's slot-``s`` recent item with its item."""
    values = np.zeros((recent.shape[1], len(items)))
    for s in range(recent.shape[1]):
        r = recent[:, s]
        ok = r >= 0
        if ok.any():
            values[s, ok] = np.asarray(cooc[r[ok], items[ok]]).ravel()
    return values


def _personal(
    x: Interactions,
    users: np.ndarray,
    k: int,
    settings: RecommendSettings,
    names: np.ndarray,
    category: np.ndarray,
    favourite: pd.Series,
    bought: Interactions | None,
) -> pd.DataFrame:
    ease = EASE(l2=settings.l2, half_life=settings.half_life, decay_by="share").fit(x)
    recs = ease.recommend_frame(users, k)
    if recs.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = x.user_index(recs["user_id"])
    items = x.item_index(recs["item_id"])
    first, pair_user = np.unique(rows, return_inverse=True)
    recent = _recent_items(x, first, settings.recent_items)[pair_user]
    reason = np.full(len(recs), "", dtype=object)
    sources: list[tuple[Interactions, str]] = []
    if bought is not None:
        sources.append((bought, "bought together with {}"))
    sources.append((x, "viewed together with {}"))
    for inter, template in sources:
        cooc = CoOccurrence(normalize="jaccard", neighbors=settings.neighbors).fit(inter)
        support = _support(cooc.cooccurrence_, recent, items)
        best = support.argmax(axis=0)
        todo = (reason == "") & (support.max(axis=0) > 0)
        partner = recent[np.arange(len(recs)), best]
        reason[todo] = [template.format(names[p]) for p in partner[todo]]
    fav = favourite.reindex(recs["user_id"]).to_numpy()
    same = (reason == "") & pd.notna(fav) & (category[items] == fav)
    reason[same] = [f"popular in your favourite category {c}" for c in fav[same]]
    reason[reason == ""] = "chosen by customers with tastes like yours"
    return pd.DataFrame(
        {
            "customer_id": recs["user_id"].to_numpy(),
            "rank": recs["rank"].to_numpy(),
            "product_id": recs["item_id"].to_numpy(),
            "score": recs["score"].to_numpy(dtype=float),
            "generator": "ease",
            "reason": reason,
            "path": "personal",
        }
    )


def _popular(
    item_ids: np.ndarray,
    scores: np.ndarray,
    category: np.ndarray,
    customers: list[Any],
    favourite: Mapping[Any, Any],
    k: int,
) -> pd.DataFrame:
    order = np.lexsort((np.arange(len(scores)), -scores))  # best first, ties by number
    glob = order[:k]
    groups: dict[Any, list[Any]] = {}
    for customer in customers:
        fav = favourite.get(customer)
        groups.setdefault(fav if fav is not None and fav == fav else None, []).append(customer)
    parts = []
    for key, members in groups.items():
        inside = order[category[order] == key][:k] if key is not None else order[:0]
        taken = set(inside.tolist())
        fill = np.asarray([i for i in glob if i not in taken], dtype=np.int64)[: k - len(inside)]
        chosen = np.r_[inside, fill].astype(np.int64)
        reason = np.where(
            np.arange(len(chosen)) < len(inside),
            f"popular in your favourite category {key}",
            "popular with all customers",
        )
        n = len(members)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": np.repeat(np.asarray(members, dtype=object), len(chosen)),
                    "rank": np.tile(np.arange(1, len(chosen) + 1), n),
                    "product_id": np.tile(item_ids[chosen], n),
                    "score": np.tile(scores[chosen], n),
                    "generator": "popularity",
                    "reason": np.tile(reason, n),
                    "path": "popular",
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)


def recommend_all(
    interactions: Interactions,
    products: pd.DataFrame,
    customers: Iterable[Any],
    k: int = 10,
    *,
    settings: RecommendSettings | None = None,
    favourite: Mapping[Any, Any] | None = None,
    purchases: Interactions | None = None,
) -> pd.DataFrame:
    """Top-``k`` per customer with generator, reason and path (see the module docstring).

    Parameters
    ----------
    interactions : Interactions
        Every customer's weighted product interactions.
    products : DataFrame
        ``product_id``, ``name`` and ``category`` of the catalogue (for reasons).
    customers : iterable
        The customers to serve; those absent from ``interactions`` are cold.
    favourite : mapping, optional
        A favourite category per cold customer (from category browsing).
    purchases : Interactions, optional
        Order lines only, on the same users and items: "bought together" reasons.
    """
    from nextbest.config import RecommendSettings

    settings = settings or RecommendSettings()
    if int(k) != k or k < 1:
        raise RecommendInputError(f"k must be a positive integer; got {k!r}.", field="k")
    x = interactions
    info = products.drop_duplicates("product_id").set_index("product_id")
    info = info.reindex(pd.Index(x.items, dtype=object))
    names = info["name"].where(info["name"].notna(), pd.Series(x.items, index=info.index))
    names_arr = names.astype(str).to_numpy()
    category = info["category"].astype(object).to_numpy()
    wanted = list(dict.fromkeys(customers))
    known = set(x.users.tolist())
    warm = np.asarray([c for c in wanted if c in known], dtype=object)
    cold = [c for c in wanted if c not in known]
    history = _favourite_of_history(x, category)
    frames = []
    if len(warm):
        frames.append(_personal(x, warm, int(k), settings, names_arr, category, history, purchases))
    if cold:
        pop = Popularity().fit(x).item_scores_
        frames.append(_popular(x.items, pop, category, cold, dict(favourite or {}), int(k)))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["rank"] = out["rank"].astype(np.int64)
    out["score"] = out["score"].astype(np.float64)
    return out[COLUMNS]


def _cold_favourites(wh: Warehouse, as_of: dt.datetime) -> dict[Any, Any]:
    """Each customer's most browsed category in ``events`` before ``as_of``."""
    e = wh.table("events")
    e = e.filter(
        e.customer_id.notnull()
        & e.category.notnull()
        & (e.occurred_at < ibis.literal(as_of, type=_TS))
    )
    counts = wh.to_pandas(e.group_by(["customer_id", "category"]).aggregate(n=e.count()))
    if counts.empty:
        return {}
    counts["customer_id"] = counts["customer_id"].astype(str)
    counts = counts.sort_values(["customer_id", "n", "category"], ascending=[True, False, True])
    top = counts.drop_duplicates("customer_id")
    return dict(zip(top["customer_id"], top["category"], strict=True))


def build_recommendations(
    wh: Warehouse,
    as_of: dt.datetime | None = None,
    settings: RecommendSettings | None = None,
    *,
    k: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Fit on interactions before ``as_of`` and store top-``k`` for every customer.

    ``as_of`` defaults to midnight after the latest data, ``k`` to ``settings.k``.
    Customers are those in ``customers`` who signed up before ``as_of`` (or have no
    signup time) and everyone with an interaction.
    """
    from nextbest.config import RecommendSettings
    from nextbest.features import default_as_of

    say = progress or (lambda _: None)
    t0 = time.perf_counter()
    settings = settings or RecommendSettings()
    k = settings.k if k is None else k
    as_of = as_of or default_as_of(wh)
    say(f"interactions before {as_of:%Y-%m-%d}")
    x = warehouse_interactions(wh, settings.weights, as_of=as_of)
    purchases = None
    if settings.weights.get("purchase", 0) > 0:
        try:
            purchases = warehouse_interactions(
                wh, {"purchase": 1.0}, as_of=as_of, users=x.users, items=x.items
            )
        except RecommendInputError:
            purchases = None  # no order lines yet: no "bought together" reasons
    products = wh.to_pandas(wh.table("products").select("product_id", "name", "category"))
    products["product_id"] = products["product_id"].astype(str)
    c = wh.table("customers")
    c = c.filter(c.signup_at.isnull() | (c.signup_at < ibis.literal(as_of, type=_TS)))
    ids = wh.to_pandas(c.select("customer_id"))["customer_id"].astype(str).tolist()
    customers = list(dict.fromkeys([*ids, *x.users.tolist()]))
    say(f"recommending for {len(customers):,} customers")
    recs = recommend_all(
        x,
        products,
        customers,
        k,
        settings=settings,
        favourite=_cold_favourites(wh, as_of),
        purchases=purchases,
    )
    recs.insert(0, "as_of", pd.Timestamp(as_of))
    say("writing the recommendations table")
    data = wh.from_arrow(pa.Table.from_pandas(recs, preserve_index=False))
    data = data.mutate(as_of=data.as_of.cast(_TS))
    wh.replace_slice(RECOMMENDATIONS_TABLE, data, "as_of", as_of)
    wh.clear_scratch()
    paths = recs.drop_duplicates("customer_id")["path"].value_counts().to_dict()
    return BuildResult(
        as_of,
        int(recs["customer_id"].nunique()),
        len(recs),
        {str(p): int(n) for p, n in paths.items()},
        time.perf_counter() - t0,
    )


def load_recommendations(
    wh: Warehouse, customer_id: str, as_of: dt.datetime | None = None, k: int | None = None
) -> pd.DataFrame:
    """One customer's stored list (the latest ``as_of`` by default), best first."""
    hint = "Run `nextbest recommend build` first."
    if RECOMMENDATIONS_TABLE not in wh.list_tables():
        raise NotFoundError("no recommendations are stored yet.", hint=hint)
    t = wh.table(RECOMMENDATIONS_TABLE)
    if as_of is None:
        latest = wh.execute(t.as_of.max())
        if latest is None or latest != latest:
            raise NotFoundError("no recommendations are stored yet.", hint=hint)
        as_of = pd.Timestamp(latest).to_pydatetime()
    rows = t.filter(
        (t.as_of == ibis.literal(as_of, type=_TS)) & (t.customer_id == str(customer_id))
    )
    if k is not None:
        rows = rows.filter(rows["rank"] <= int(k))
    frame = wh.to_pandas(rows.order_by("rank"))
    if frame.empty:
        stored = wh.to_pandas(t.select("as_of").distinct())
        if not (stored["as_of"] == pd.Timestamp(as_of)).any():
            raise NotFoundError(
                f"no recommendations are stored as of {as_of:%Y-%m-%d %H:%M}.",
                field="--as-of",
                hint="Leave out --as-of for the latest build, or build that date first.",
            )
        raise NotFoundError(
            f"customer {customer_id!r} has no recommendations as of {as_of:%Y-%m-%d %H:%M}: "
            "the id is not in the customers table at that time.",
            field="CUSTOMER",
            hint="Check the id, or rebuild after loading the customer.",
        )
    return frame
