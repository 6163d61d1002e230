"""Customer and product context for the re-ranker, read from the warehouse before ``as_of``.

:func:`customer_features` gives one row of numbers per customer known before
``as_of``, for :class:`~nextbest.models.recommend.ranker.CandidateRanker`'s
``user_features``:

* from the feature snapshot at ``as_of`` (:func:`nextbest.features.snapshot_frame`,
  which only reads rows strictly before ``as_of``): price sensitivity
  (``price_index``, ``discount_share``), recency (``recency_days``,
  ``days_since_last_event``), frequency and value (``frequency``, ``monetary``,
  ``aov``, ``ipt_mean_days``, ``expected_days_to_next``), engagement
  (``engagement_score``, ``open_rate``, ``click_rate``, ``activity_score``) and how
  concentrated the customer's taste is (``favourite_category_share``);
* ``view_price_index``: the mean list price of the products the customer viewed
  before ``as_of`` over their category's mean list price (1 = average), a price
  sensitivity for customers who have not ordered yet;
* with a model ``registry``: the ``scores`` table's slice stored for exactly this
  ``as_of`` (the score of each model, as ``score_<model>``), from model versions
  whose training window ended at or before ``as_of``. A model trained on later
  outcomes would carry them into the features, so its scores are left out, and so
  are all scores when no registry is given (nothing to check them against).

A ranker learns on a truth period starting at one moment and is then refitted for
a later one: read the features at each period's start, e.g.
``customer_features(wh, validation_start)`` for ``fit`` and
``customer_features(wh, test_start)`` for ``refit_candidates``.

:func:`product_context` gives the catalogue's group (category) per product and its
price, for ``item_groups`` and ``item_features`` with ``price_column``. The
``products`` table holds today's catalogue (it has no history), so a price that
changed is read at its current value.

>>> import datetime as dt, pathlib, tempfile
>>> from nextbest.ingest import ingest
>>> from nextbest.synth import generate, write_store
>>> from nextbest.warehouse import Warehouse
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_store(generate(customers=20, days=30, seed=0), root / "store")
>>> with Warehouse(root / "w.duckdb") as wh:
...     _ = ingest(wh, root / "store")
...     users = customer_features(wh, dt.datetime(2025, 1, 20))
...     groups, prices = product_context(wh)
>>> users.shape, users.index[0], users.columns[0]
((12, 15), 'C000001', 'recency_days')
>>> bool((users["days_since_last_event"].dropna() > 0).all())
True
>>> groups.name, list(prices.columns), len(groups) == len(prices)
('category', ['price'], True)
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

import ibis
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from nextbest.config import FeatureSettings
    from nextbest.warehouse import Warehouse

__all__ = ["CUSTOMER_FEATURES", "catalogue", "customer_features", "product_context"]

CUSTOMER_FEATURES: tuple[str, ...] = (
    "recency_days",
    "days_since_last_event",
    "frequency",
    "monetary",
    "aov",
    "ipt_mean_days",
    "expected_days_to_next",
    "price_index",
    "discount_share",
    "engagement_score",
    "open_rate",
    "click_rate",
    "activity_score",
    "favourite_category_share",
)
"""The snapshot features :func:`customer_features` keeps by default."""

_FAMILIES = ["rfm", "behaviour", "preferences", "engagement"]
_SCORES = "scores"


class _Versions(Protocol):
    """What :func:`customer_features` needs of a model registry."""

    def get(self, name: str, version: int | None = None) -> _Version: ...


class _Version(Protocol):
    training_window: tuple[str, str]


def _view_price_index(wh: Warehouse, as_of: dt.datetime) -> ibis.Table:
    """Per customer the mean viewed list price over the category's mean list price."""
    from nextbest.features import Context

    ctx = Context.from_warehouse(wh, as_of, categories=[])
    products = ctx["products"].select("product_id", "category", _price=ibis._.price.cast("float64"))
    avg = products.group_by("category").aggregate(_avg=products._price.mean())
    priced = products.left_join(avg, "category").drop("category_right")
    priced = priced.filter((priced._price > 0) & (priced._avg > 0))
    e = ctx["events"]
    views = e.filter((e.event_type == "product_view") & e.product_id.notnull())
    views = views.select("customer_id", "product_id").inner_join(priced, "product_id")
    return views.group_by("customer_id").aggregate(
        view_price_index=(views._price / views._avg).mean()
    )


def _scores(
    wh: Warehouse, as_of: dt.datetime, registry: _Versions, customers: pd.Index
) -> pd.DataFrame:
    """``score_<model>`` per customer from the scores stored for ``as_of``, leak-free only."""
    if _SCORES not in wh.list_tables():
        return pd.DataFrame(index=customers)
    t = wh.table(_SCORES)
    t = t.filter(t.as_of == ibis.literal(as_of, type="timestamp(6)"))
    rows = wh.to_pandas(t.select("customer_id", "model", "version", "score"))
    keep = []
    for (model, version), _ in rows.groupby(["model", "version"], sort=True):
        end = dt.datetime.fromisoformat(
            str(registry.get(str(model), int(version)).training_window[1])
        )
        if end <= as_of:
            keep.append((model, version))
    rows = rows[pd.MultiIndex.from_frame(rows[["model", "version"]]).isin(keep)]
    if rows.empty:
        return pd.DataFrame(index=customers)
    wide = rows.pivot_table(index="customer_id", columns="model", values="score", aggfunc="mean")
    wide.columns = [f"score_{m}" for m in wide.columns]
    return wide.reindex(customers).astype(np.float64)


def customer_features(
    wh: Warehouse,
    as_of: dt.datetime,
    *,
    registry: _Versions | None = None,
    settings: FeatureSettings | None = None,
    columns: tuple[str, ...] | list[str] = CUSTOMER_FEATURES,
) -> pd.DataFrame:
    """Numeric features per customer from data strictly before ``as_of``; see the module.

    Indexed by ``customer_id`` (as strings, like
    :func:`~nextbest.models.recommend.source.warehouse_interactions`), one float
    column per feature of ``columns`` (snapshot features), then
    ``view_price_index``, then the ``score_<model>`` columns (with ``registry``).
    """
    from nextbest.features import snapshot_frame

    snapshot = snapshot_frame(wh, as_of, settings, families=_FAMILIES)
    missing = [c for c in columns if c not in snapshot.columns]
    if missing:
        raise KeyError(f"not snapshot features: {', '.join(missing)}")
    snapshot["customer_id"] = snapshot["customer_id"].astype(str)
    out = snapshot.set_index("customer_id")[list(columns)].astype(np.float64)
    views = wh.to_pandas(_view_price_index(wh, as_of))
    views["customer_id"] = views["customer_id"].astype(str)
    out["view_price_index"] = (
        views.set_index("customer_id")["view_price_index"].reindex(out.index).astype(np.float64)
    )
    if registry is not None:
        out = out.join(_scores(wh, as_of, registry, out.index))
    out.index.name = "customer_id"
    return out


def product_context(
    wh: Warehouse, group: str = "category", price: str = "price"
) -> tuple[pd.Series, pd.DataFrame]:
    """The ``group`` column per product (a Series) and its ``price`` (a one-column frame).

    Both are indexed by ``product_id`` as strings; a product without a group or a
    price has a missing value.
    """
    products = wh.to_pandas(wh.table("products").select("product_id", group, price))
    products["product_id"] = products["product_id"].astype(str)
    products = products.set_index("product_id").sort_index()
    groups = products[group].astype(object).where(products[group].notna(), None)
    prices = pd.DataFrame({price: pd.to_numeric(products[price], errors="coerce")}).astype(
        np.float64
    )
    return groups.rename(group), prices


def catalogue(wh: Warehouse) -> pd.DataFrame:
    """Every product with all its attributes (ids as text, prices as floats), once each."""
    products = wh.to_pandas(wh.table("products"))
    products["product_id"] = products["product_id"].astype(str)
    if "price" in products.columns:
        products["price"] = pd.to_numeric(products["price"], errors="coerce").astype(float)
    return products.drop_duplicates("product_id")
