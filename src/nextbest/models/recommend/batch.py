"""Batch recommendations: top-K products for every customer, each with a reason and path.

:func:`fit_engine` reads what the :class:`~nextbest.models.recommend.engine.RecommendEngine`
needs from the warehouse before ``as_of`` (interactions, order lines, the
catalogue, customers' segments, favourite categories from browsing, who has one
session only) and fits it. :func:`build_recommendations` serves every customer
with it and writes the ``recommendations`` table (one slice per ``as_of``),
optionally saving the engine so single customers can be served later with the
same state; :func:`load_recommendations` reads one customer's stored list back.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from nextbest.errors import NotFoundError
from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.content import ContentSimilarity
from nextbest.models.recommend.cooccurrence import CoOccurrence
from nextbest.models.recommend.customer_context import (
    catalogue,
    customer_features,
    product_context,
)
from nextbest.models.recommend.ease import EASE
from nextbest.models.recommend.engine import RecommendEngine
from nextbest.models.recommend.holdout import events_before, new_pairs
from nextbest.models.recommend.interactions import Interactions, to_seconds
from nextbest.models.recommend.itemknn import ItemKNN
from nextbest.models.recommend.popularity import Popularity
from nextbest.models.recommend.ranker import CandidateRanker
from nextbest.models.recommend.sequential import Transitions
from nextbest.models.recommend.source import warehouse_interactions

if TYPE_CHECKING:
    from nextbest.config import RecommendSettings
    from nextbest.warehouse import Warehouse

__all__ = [
    "RECOMMENDATIONS_TABLE",
    "BuildResult",
    "build_recommendations",
    "engine_path",
    "fit_engine",
    "fit_ranker",
    "load_recommendations",
    "serving_generators",
]

RECOMMENDATIONS_TABLE = "recommendations"
_TS = "timestamp(6)"


@dataclass
class BuildResult:
    as_of: dt.datetime
    customers: int
    rows: int
    paths: dict[str, int] = field(default_factory=dict)  # path -> customers
    seconds: float = 0.0
    state: Path | None = None
    ranker: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "rows": self.rows,
            "paths": self.paths,
            "seconds": round(self.seconds, 3),
            "table": RECOMMENDATIONS_TABLE,
            "state": None if self.state is None else str(self.state),
            "ranker": self.ranker,
        }


def engine_path(models_dir: Path, as_of: dt.datetime | None = None) -> Path:
    """Where the engine of ``as_of`` is saved (``None``: the latest saved)."""
    folder = Path(models_dir) / "recommend"
    if as_of is not None:
        return folder / f"engine-{as_of:%Y%m%dT%H%M%S}.npz"
    saved = sorted(folder.glob("engine-*.npz"))
    if not saved:
        raise NotFoundError(
            f"no recommender is saved under {folder}.",
            hint="Run `nextbest recommend build` first.",
        )
    return saved[-1]


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


def _purchases(wh: Warehouse, as_of: dt.datetime) -> pd.DataFrame:
    """Order lines before ``as_of``: customer_id, product_id, time, unit_price."""
    o, li = wh.table("orders"), wh.table("order_items")
    j = li.join(o, li.order_id == o.order_id)
    j = j.filter(j.ordered_at < ibis.literal(as_of, type=_TS))
    frame = wh.to_pandas(
        j.select(
            customer_id=j.customer_id,
            product_id=j.product_id,
            time=j.ordered_at,
            unit_price=j.unit_price.cast("float64"),
        )
    )
    return frame.astype({"customer_id": str, "product_id": str})


def _single_session(wh: Warehouse, as_of: dt.datetime) -> list[str]:
    """Customers whose events before ``as_of`` all belong to one session."""
    e = wh.table("events")
    e = e.filter(e.customer_id.notnull() & (e.occurred_at < ibis.literal(as_of, type=_TS)))
    counts = e.group_by("customer_id").aggregate(n=e.session_id.nunique())
    frame = wh.to_pandas(counts.filter(counts.n == 1).select("customer_id"))
    return frame["customer_id"].astype(str).tolist()


def serving_generators(
    settings: RecommendSettings, products: pd.DataFrame
) -> tuple[dict[str, Recommender], dict[str, dict[str, Any]]]:
    """The generators the served ranker re-ranks, and their extra ``fit`` arguments.

    EASE on the profile of ``settings`` (``l2``, ``half_life``), co-occurrence and
    item-kNN on a profile halving every twentieth of a history, transitions,
    content similarity from whichever of category, brand, price and name the
    catalogue has, and popularity.
    """
    generators: dict[str, Recommender] = {
        "ease": EASE(l2=settings.l2, half_life=settings.half_life, decay_by="share"),
        "co-occurrence": CoOccurrence("jaccard", half_life=0.05, decay_by="share"),
        "item-kNN": ItemKNN(neighbors=200, shrinkage=20.0, half_life=0.05, decay_by="share"),
        "transitions": Transitions(),
        "popularity": Popularity(),
    }
    kwargs: dict[str, dict[str, Any]] = {}
    columns = set(products.columns)
    categorical = [c for c in ("category", "brand") if c in columns]
    text = [c for c in ("name",) if c in columns]
    price = "price" if "price" in columns else None
    if categorical or text or price:
        generators["content"] = ContentSimilarity(categorical=categorical, price=price, text=text)
        kwargs["content"] = {"item_attributes": products}
    return generators, kwargs


def fit_ranker(
    wh: Warehouse,
    x: Interactions,
    as_of: dt.datetime,
    settings: RecommendSettings,
    products: pd.DataFrame,
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[CandidateRanker | None, str | None]:
    """The re-ranker learnt on the last ``ranker.holdout_days`` before ``as_of``.

    The generators (:func:`serving_generators`) are fitted on the interactions
    before the cut and the ranker learns which of their candidates each customer
    touched for the first time after it; its candidates are then refitted on all
    of ``x``. Customer features are read at the cut and at ``as_of``. Returns the
    ranker, or ``None`` and the reason it could not learn.
    """
    say = progress or (lambda _: None)
    r = settings.ranker
    cut = as_of - dt.timedelta(days=r.holdout_days)
    start, end = (float(v) for v in to_seconds([cut, as_of], "as_of"))
    keep = x.log["time"].to_numpy() < start
    if not keep.any():
        return None, f"no interactions before {cut:%Y-%m-%d} to learn from"
    say(f"re-ranker: learning on the products first touched after {cut:%Y-%m-%d}")
    fit = events_before(x, keep)
    truth, _ = new_pairs(x, start, end)
    if len(truth) > r.max_customers:  # the ranker's cost grows with its customers
        chosen = np.random.default_rng(0).choice(len(truth), r.max_customers, replace=False)
        users = list(truth)
        truth = {users[i]: truth[users[i]] for i in np.sort(chosen)}
    groups, prices = product_context(wh)
    generators, kwargs = serving_generators(settings, products)
    ranker = CandidateRanker(
        generators,
        n_candidates=r.candidates,
        n_estimators=r.max_rounds,
        k=settings.k,
        item_features=prices,
        price_column="price",
        item_groups=groups,
        user_features=customer_features(wh, cut),
        fit_kwargs=kwargs,
        threads=r.threads,
        cv_folds=0,  # rounds chosen on a held-out fifth of the customers: one training
        params={"learning_rate": r.learning_rate},
    )
    try:
        ranker.fit(fit, truth)
    except RecommendInputError as err:
        return None, err.message
    say("re-ranker: refitting its candidates on all data")
    ranker.refit_candidates(x, user_features=customer_features(wh, as_of))
    return ranker, None


def fit_engine(
    wh: Warehouse,
    as_of: dt.datetime,
    settings: RecommendSettings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[RecommendEngine, list[str]]:
    """The engine fitted on the warehouse before ``as_of``, and the customers to serve.

    Customers are those in ``customers`` who signed up before ``as_of`` (or have
    no signup time) and everyone with an interaction.
    """
    from nextbest.config import RecommendSettings

    say = progress or (lambda _: None)
    settings = settings or RecommendSettings()
    say(f"interactions before {as_of:%Y-%m-%d}")
    x = warehouse_interactions(wh, settings.weights, as_of=as_of, pairs=True)
    columns = ["product_id", "name", "category", "price", "in_stock"]
    products = wh.to_pandas(wh.table("products").select(*columns))
    products["product_id"] = products["product_id"].astype(str)
    products["price"] = products["price"].astype("float64")
    c = wh.table("customers")
    c = c.filter(c.signup_at.isnull() | (c.signup_at < ibis.literal(as_of, type=_TS)))
    wanted = ["customer_id"]
    if settings.segment_by is not None:
        if settings.segment_by not in c.columns:
            raise RecommendInputError(
                f"recommend.segment_by names {settings.segment_by!r}, which the customers "
                "table lacks.",
                field="recommend.segment_by",
                hint=f"Use one of {[n for n in c.columns if n != 'customer_id']} or null.",
            )
        wanted.append(settings.segment_by)
    customers = wh.to_pandas(c.select(*wanted))
    customers["customer_id"] = customers["customer_id"].astype(str)
    ranker: CandidateRanker | None = None
    skipped: str | None = "recommend.ranker.enabled is false"
    if settings.ranker.enabled:
        ranker, skipped = fit_ranker(wh, x, as_of, settings, catalogue(wh), progress=say)
    say("fitting the recommender")
    engine = RecommendEngine(settings).fit(
        x,
        products,
        purchases=_purchases(wh, as_of),
        customers=customers,
        favourite=_cold_favourites(wh, as_of),
        single_session=_single_session(wh, as_of),
        as_of=as_of,
        ranker=ranker,
    )
    if ranker is None:
        engine.ranker_info_["skipped"] = skipped
    ids = customers["customer_id"].tolist()
    return engine, list(dict.fromkeys([*ids, *x.users.astype(str).tolist()]))


def build_recommendations(
    wh: Warehouse,
    as_of: dt.datetime | None = None,
    settings: RecommendSettings | None = None,
    *,
    k: int | None = None,
    progress: Callable[[str], None] | None = None,
    models_dir: Path | None = None,
) -> BuildResult:
    """Fit on the warehouse before ``as_of`` and store top-``k`` for every customer.

    ``as_of`` defaults to midnight after the latest data, ``k`` to ``settings.k``.
    With ``models_dir`` the fitted engine is saved there (see :func:`engine_path`).
    """
    from nextbest.config import RecommendSettings
    from nextbest.features import default_as_of

    say = progress or (lambda _: None)
    t0 = time.perf_counter()
    settings = settings or RecommendSettings()
    k = settings.k if k is None else k
    as_of = as_of or default_as_of(wh)
    engine, customers = fit_engine(wh, as_of, settings, progress=say)
    say(f"recommending for {len(customers):,} customers")
    recs = engine.recommend_many(customers, k)
    recs.insert(0, "as_of", pd.Timestamp(as_of))
    say("writing the recommendations table")
    data = wh.from_arrow(pa.Table.from_pandas(recs, preserve_index=False))
    data = data.mutate(as_of=data.as_of.cast(_TS))
    wh.replace_slice(RECOMMENDATIONS_TABLE, data, "as_of", as_of)
    wh.clear_scratch()
    state = engine.save(engine_path(models_dir, as_of)) if models_dir is not None else None
    paths = recs.drop_duplicates("customer_id")["path"].value_counts().to_dict()
    return BuildResult(
        as_of,
        int(recs["customer_id"].nunique()),
        len(recs),
        {str(p): int(n) for p, n in paths.items()},
        time.perf_counter() - t0,
        state,
        engine.ranker_info_,
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
