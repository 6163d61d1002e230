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
from nextbest.features.registry import REGISTRY, Family, Feature
from nextbest.warehouse import Warehouse

__all__ = ["assemble", "build_snapshot", "typed", "with_families"]


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
    return with_families(source, as_of, settings, families)[0]


def with_families(
    source: Warehouse | dict[str, ibis.Table],
    as_of: dt.datetime,
    settings: FeatureSettings | None = None,
    families: list[str] | None = None,
) -> tuple[ibis.Table, dict[str, list[Feature]]]:
    """:func:`build_snapshot`'s expression and each family's features in it."""
    for module in settings.modules if settings else []:
        _import(module)
    if isinstance(source, Warehouse):
        ctx = Context.from_warehouse(source, as_of, settings)
    else:
        ctx = Context.from_tables(source, as_of, settings)
    chosen = [f for f in REGISTRY if families is None or f.name in families]
    columns = {f.name: f.features(ctx) for f in chosen}
    return assemble(ctx, [family.compute(ctx) for family in chosen], chosen), columns


def typed(t: ibis.Table, features: list[Feature]) -> ibis.Table:
    """``t``'s features filled (customers without data) and cast to their types."""
    return t.select(
        "customer_id",
        **{
            f.name: (t[f.name].fill_null(f.fill) if f.fill is not None else t[f.name]).cast(f.dtype)
            for f in features
        },
    )


def assemble(
    ctx: Context, parts: list[ibis.Table], families: list[Family], *, ordered: bool = True
) -> ibis.Table:
    """The customers known before ``as_of`` joined to ``parts``, with the features of
    ``families`` (in the registry's order) filled and typed.

    Each part has one row per customer; customers a part lacks get the fill values.
    Rows come ordered by customer unless ``ordered`` is false.
    """
    out = ctx["customers"].select("customer_id")
    for part in parts:
        out = out.left_join(part, "customer_id").drop("customer_id_right")
    names = {f.name for f in families}
    chosen = [f for f in REGISTRY if f.name in names]
    snapshot = typed(out, [f for fam in chosen for f in fam.features(ctx)])
    return snapshot.order_by("customer_id") if ordered else snapshot
