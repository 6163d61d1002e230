"""Outcomes after a cutoff: what the propensity, churn and value models learn.

Features describe a customer with data strictly before the cutoff ``T``; an outcome
looks only at ``[T, T + horizon)``. So a training row never sees its own future,
and a model evaluated at a later cutoff never trained on that cutoff's window.

- ``purchase``: did the customer order (anything, or in ``category``) in the window?
  Everyone known before ``T``.
- ``churn``: customers who ordered in the ``active_days`` before ``T``; 1 when they
  did not order in the window.
- ``clv``: spend in the window, for customers with an order before ``T``.

>>> import datetime as dt, tempfile, pathlib
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     frame = training_frame(wh, dt.datetime(2025, 3, 1), Target("churn"))
>>> list(frame.columns)[:2], len(frame)
(['customer_id', 'recency_days'], 0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import ibis
import numpy as np
import pandas as pd

from nextbest.config import FeatureSettings
from nextbest.errors import ConfigError
from nextbest.features.snapshot import snapshot_frame
from nextbest.warehouse import Warehouse

__all__ = ["KINDS", "Target", "outcomes", "significant", "training_frame"]

KINDS = ("purchase", "churn", "clv")
TS = "timestamp(6)"


@dataclass(frozen=True)
class Target:
    """What to predict: ``kind`` over the ``horizon_days`` after a cutoff."""

    kind: Literal["purchase", "churn", "clv"]
    horizon_days: int = 30
    category: str | None = None  # purchase only: an order line in this category
    active_days: int = 180  # churn only: who counts as a customer that can churn

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(
                f"unknown target {self.kind!r}", field="target", hint=f"Use one of {KINDS}."
            )
        if self.horizon_days < 1 or self.active_days < 1:
            raise ConfigError("horizon and active days must be at least 1", field="horizon_days")
        if self.category is not None and self.kind != "purchase":
            raise ConfigError("a category applies to purchase targets only", field="category")

    @property
    def name(self) -> str:
        """The model name in the registry: ``purchase``, ``purchase_<category>``, ..."""
        if self.category is None:
            return self.kind
        slug = "".join(c if c.isalnum() else "_" for c in self.category.lower()).strip("_")
        return f"purchase_{slug}"

    @property
    def task(self) -> str:
        return "regression" if self.kind == "clv" else "binary"

    def window(self, cutoff: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The outcome window ``[cutoff, cutoff + horizon)``."""
        return cutoff, cutoff + dt.timedelta(days=self.horizon_days)


def outcomes(
    source: Warehouse | dict[str, ibis.Table], cutoff: dt.datetime, target: Target
) -> ibis.Table:
    """Per customer of the target's population its outcome ``y`` after ``cutoff``."""
    tables = source if isinstance(source, dict) else {n: source.table(n) for n in _TABLES}
    start, end = (ibis.literal(t, type=TS) for t in target.window(cutoff))
    orders = tables["orders"]
    before = orders.filter(orders.ordered_at < start)
    after = orders.filter((orders.ordered_at >= start) & (orders.ordered_at < end))
    customers = tables["customers"]
    known = customers.filter(customers.signup_at.isnull() | (customers.signup_at < start))
    if target.kind == "purchase":
        population = known.select("customer_id")
        if target.category is not None:
            products = tables["products"]
            products = products.filter(products.category == target.category)
            lines = tables["order_items"].semi_join(products, "product_id")
            after = after.semi_join(lines, "order_id")
        hit = after.select("customer_id").distinct().mutate(_hit=ibis.literal(1))
        t = population.left_join(hit, "customer_id").drop("customer_id_right")
        return t.select("customer_id", y=t._hit.fill_null(0).cast("int64"))
    if target.kind == "churn":
        recent = ibis.literal(cutoff - dt.timedelta(days=target.active_days), type=TS)
        active = before.filter(before.ordered_at >= recent).select("customer_id").distinct()
        again = after.select("customer_id").distinct().mutate(_back=ibis.literal(1))
        t = active.left_join(again, "customer_id").drop("customer_id_right")
        return t.select("customer_id", y=(1 - t._back.fill_null(0)).cast("int64"))
    buyers = before.select("customer_id").distinct()
    spend = after.group_by("customer_id").aggregate(_spend=after.total.cast("float64").sum())
    t = buyers.left_join(spend, "customer_id").drop("customer_id_right")
    return t.select("customer_id", y=t._spend.fill_null(0.0))


_TABLES = ("customers", "orders", "order_items", "products")


def training_frame(
    wh: Warehouse,
    cutoff: dt.datetime,
    target: Target,
    settings: FeatureSettings | None = None,
    snapshots: dict[dt.datetime, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The feature snapshot at ``cutoff`` for the target's population, with ``y``.

    ``snapshots`` caches the snapshot frames by cutoff, so several targets trained
    on the same cutoffs compute each snapshot once.
    """
    if snapshots is not None and cutoff in snapshots:
        snapshot = snapshots[cutoff]
    else:
        snapshot = snapshot_frame(wh, cutoff, settings)
        for column in snapshot.columns:
            if snapshot[column].dtype == "float64":
                snapshot[column] = significant(snapshot[column].to_numpy())
        if snapshots is not None:
            snapshots[cutoff] = snapshot
    y = wh.to_pandas(outcomes(wh, cutoff, target))
    frame = snapshot.merge(y, on="customer_id", how="inner")
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def significant(values: np.ndarray, digits: int = 10) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits.

    Parallel sums add floats in a varying order, which changes the last bits of a
    feature from run to run; rounding makes training data, and so a trained model
    with a fixed seed, the same on every run.

    >>> significant(np.array([0.1 + 0.2, 1234.5678901234, 0.0, np.nan])).tolist()
    [0.3, 1234.56789, 0.0, nan]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(values)))
    exponent = np.where(np.isfinite(exponent), exponent, 0)
    scale = 10.0 ** (digits - 1 - exponent)
    return np.round(values * scale) / scale
