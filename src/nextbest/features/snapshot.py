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
from collections.abc import Iterator
from contextlib import contextmanager

import ibis
import pandas as pd

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

__all__ = [
    "assemble",
    "build_snapshot",
    "snapshot_frame",
    "staged_snapshot",
    "typed",
    "with_families",
]


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
    *,
    staged: list[ibis.Table] | None = None,
) -> tuple[ibis.Table, dict[str, list[Feature]]]:
    """:func:`build_snapshot`'s expression and each family's features in it.

    Given a list as ``staged`` (the source must then be a warehouse), each family's
    part is computed now into a temporary table, appended to it, and the expression
    only joins them: one family at a time needs the engine's memory, not all at once.
    """
    for module in settings.modules if settings else []:
        _import(module)
    if isinstance(source, Warehouse):
        ctx = Context.from_warehouse(source, as_of, settings)
    else:
        ctx = Context.from_tables(source, as_of, settings)
    chosen = [f for f in REGISTRY if families is None or f.name in families]
    columns = {f.name: f.features(ctx) for f in chosen}
    parts = [family.compute(ctx) for family in chosen]
    if staged is not None:
        if not isinstance(source, Warehouse):
            raise TypeError("staged parts need a warehouse as the source")
        for i, part in enumerate(parts):
            parts[i] = source.stage(part, "part")
            staged.append(parts[i])
    return assemble(ctx, parts, chosen), columns


@contextmanager
def staged_snapshot(
    wh: Warehouse,
    as_of: dt.datetime,
    settings: FeatureSettings | None = None,
    families: list[str] | None = None,
) -> Iterator[tuple[ibis.Table, dict[str, list[Feature]]]]:
    """:func:`with_families` over parts staged family by family (within the engine
    memory cap ``features.memory_limit``, default 256MB), dropped on exit."""
    staged: list[ibis.Table] = []
    cap = (settings or FeatureSettings()).memory_limit
    try:
        with wh.memory_capped(cap, "features.memory_limit"):
            out = with_families(wh, as_of, settings, families, staged=staged)
        yield out
    finally:
        wh.unstage(staged)


def snapshot_frame(
    wh: Warehouse,
    as_of: dt.datetime,
    settings: FeatureSettings | None = None,
    families: list[str] | None = None,
) -> pd.DataFrame:
    """The snapshot computed from the warehouse as a data frame, ordered by customer."""
    with staged_snapshot(wh, as_of, settings, families) as (snapshot, _):
        return wh.to_pandas(snapshot)


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
