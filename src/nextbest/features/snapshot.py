"""Point-in-time snapshots: one feature row per customer as of a moment.

>>> import datetime as dt, tempfile, pathlib
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     snap = build_snapshot(wh, dt.datetime(2025, 1, 1))
...     wh.execute(snap.count())
0
"""

from __future__ import annotations

import datetime as dt
import importlib

import ibis

from nextbest.config import FeatureSettings
from nextbest.errors import ConfigError
from nextbest.features import (  # noqa: F401 (importing registers the families)
    behaviour,
    custom,
    engagement,
    lifecycle,
    preferences,
    rfm,
)
from nextbest.features.context import Context
from nextbest.features.registry import REGISTRY
from nextbest.warehouse import Warehouse

__all__ = ["build_snapshot"]


def _import(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(
            f"cannot import feature module {module!r}: {err}",
            field="features.modules",
            hint="Install the module or fix its name.",
        ) from None


def build_snapshot(
    source: Warehouse | dict[str, ibis.Table],
    as_of: dt.datetime,
    settings: FeatureSettings | None = None,
    families: list[str] | None = None,
) -> ibis.Table:
    """The snapshot as one expression: customers known before ``as_of`` and their features.

    ``source`` is the warehouse, or the canonical tables on any Ibis backend: the
    same definitions run unchanged on each. ``families`` limits the snapshot to
    those feature families (default: all).
    """
    for module in settings.modules if settings else []:
        _import(module)
    if isinstance(source, Warehouse):
        ctx = Context.from_warehouse(source, as_of, settings)
    else:
        ctx = Context.from_tables(source, as_of, settings)
    out = ctx["customers"].select("customer_id")
    chosen = [f for f in REGISTRY if families is None or f.name in families]
    for family in chosen:
        part = family.compute(ctx)
        out = out.left_join(part, "customer_id").drop("customer_id_right")
    features = [f for fam in chosen for f in fam.features(ctx)]
    return out.select(
        "customer_id",
        **{
            f.name: (out[f.name].fill_null(f.fill) if f.fill is not None else out[f.name]).cast(
                f.dtype
            )
            for f in features
        },
    ).order_by("customer_id")
