"""Stored snapshots: each family's rows, written as full parts or as patches.

A stored snapshot is one *part* per feature family, listed in
``feature_snapshot_parts``; a part's rows are in ``feature_rows_<family>``. A full
part has a row for every customer. A *patch* has rows only for the customers whose
values changed since its parent part (the previous snapshot's) other than by time
passing: new data, a day leaving a window, a birthday. Reading a snapshot takes, per
family and customer, the row of the latest part in the chain (the part, its parent,
and so on back to a full part) and moves it to the snapshot's ``as_of``: a feature
with ``per_day`` grows by that much a day, a decayed one halves every half-life (see
:class:`~nextbest.features.registry.Feature`). A daily update so writes a fraction
of the rows, and every stored snapshot reads as it was built.

Storing a snapshot again replaces it: the latest write of an ``as_of`` is the one
read. Rows of replaced parts are deleted once no current snapshot's chain needs them.

>>> import datetime as dt, tempfile, pathlib
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     save_snapshot(wh, dt.datetime(2025, 1, 1))
...     list_snapshots(wh)
0
[datetime.datetime(2025, 1, 1, 0, 0)]
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import pandas as pd

from nextbest.config import FeatureSettings
from nextbest.errors import NotFoundError
from nextbest.features.registry import Feature
from nextbest.features.snapshot import staged_snapshot
from nextbest.warehouse import Warehouse
from nextbest.warehouse.writes import delete_in

__all__ = [
    "PARTS_TABLE",
    "NewPart",
    "Part",
    "current_parts",
    "list_snapshots",
    "load_snapshot",
    "read_snapshot",
    "rows_table",
    "save_snapshot",
    "write_snapshot",
]

PARTS_TABLE = "feature_snapshot_parts"
PARTS_SCHEMA = {
    "part": "int64",
    "write": "int64",  # one per stored snapshot; the latest of an as_of is current
    "as_of": "timestamp(6)",
    "family": "string",
    "parent": "int64",  # null: a full part
    "depth": "int64",  # patches since the chain's full part, this one included
    "rows": "int64",
    "since_full": "int64",  # rows of those patches
    "full_rows": "int64",  # rows of the chain's full part
    "columns": "string",  # JSON: feature -> [how it moves with time, by how much]
}


@dataclass(frozen=True)
class Part:
    """One family's rows of one stored snapshot (see the module's text)."""

    part: int
    write: int
    as_of: dt.datetime
    family: str
    parent: int | None
    depth: int
    rows: int
    since_full: int
    full_rows: int
    columns: dict[str, tuple[str, float]]


@dataclass
class NewPart:
    """A part to write: the rows of the stored table ``rows`` (``customer_id`` and
    the ``features``, maybe more) in full, or as a patch on ``parent``."""

    family: str
    rows: str
    features: list[Feature]
    parent: Part | None = None


def rows_table(family: str) -> str:
    """The table holding the rows of ``family``'s parts."""
    return "feature_rows_" + re.sub(r"\W", "_", family)


def _movement(f: Feature, half_life_days: float) -> tuple[str, float]:
    if f.per_day:
        return ("add", f.per_day)
    return ("decay", half_life_days) if f.decays else ("keep", 0.0)


def _parts(wh: Warehouse) -> list[Part]:
    out = []
    for row in sorted(wh.rows(PARTS_TABLE), key=lambda r: r["part"]):
        columns = json.loads(row.pop("columns"))
        moves = {k: (v[0], float(v[1])) for k, v in columns.items()}
        out.append(Part(**row, columns=moves))
    return out


def _current(parts: list[Part]) -> dict[dt.datetime, dict[str, Part]]:
    latest: dict[dt.datetime, int] = {}
    for p in parts:
        latest[p.as_of] = max(latest.get(p.as_of, p.write), p.write)
    out: dict[dt.datetime, dict[str, Part]] = {}
    for p in parts:
        if p.write == latest[p.as_of]:
            out.setdefault(p.as_of, {})[p.family] = p
    return out


def current_parts(wh: Warehouse, as_of: dt.datetime) -> dict[str, Part]:
    """The parts of the snapshot stored as of ``as_of`` by family (empty: none)."""
    return _current(_parts(wh)).get(as_of, {})


def list_snapshots(wh: Warehouse) -> list[dt.datetime]:
    """The stored ``as_of`` values, oldest first."""
    return sorted(_current(_parts(wh)))


def _chain(part: Part, by_id: dict[int, Part]) -> list[Part]:
    chain = [part]
    while chain[-1].parent is not None:
        chain.append(by_id[chain[-1].parent])
    return chain


def write_snapshot(
    wh: Warehouse, as_of: dt.datetime, parts: list[NewPart], half_life_days: float
) -> dict[str, Part]:
    """Store ``parts`` as the snapshot as of ``as_of`` (replacing one stored for it),
    in one transaction (the caller's when inside one); the parts by family."""
    with wh.transaction():
        if not wh.has_table(PARTS_TABLE):
            wh.con.create_table(PARTS_TABLE, schema=ibis.schema(PARTS_SCHEMA))
        known = _parts(wh)
        first = max((p.part for p in known), default=0) + 1
        write = max((p.write for p in known), default=0) + 1
        written: dict[str, Part] = {}
        for part_id, new in enumerate(parts, start=first):
            moves = {f.name: _movement(f, half_life_days) for f in new.features}
            parent = new.parent
            if parent is not None and list(moves) != list(parent.columns):
                raise ValueError(f"a patch of {new.family} must keep its parent's columns")
            names = [f.name for f in new.features]
            rows = wh.copy_rows(
                rows_table(new.family),
                new.rows,
                ["customer_id", *names],
                {"part": (part_id, "int64")},
            )
            part = Part(
                part=part_id,
                write=write,
                as_of=as_of,
                family=new.family,
                parent=parent.part if parent else None,
                depth=parent.depth + 1 if parent else 0,
                rows=rows,
                since_full=parent.since_full + rows if parent else 0,
                full_rows=parent.full_rows if parent else rows,
                columns=moves,
            )
            written[new.family] = part
        wh.insert_rows(
            PARTS_TABLE,
            [{**p.__dict__, "columns": json.dumps(p.columns)} for p in written.values()],
        )
        _collect(wh, [*known, *written.values()])
    return written


def _collect(wh: Warehouse, parts: list[Part]) -> None:
    """Delete the parts (and rows) that no current snapshot reads."""
    by_id = {p.part: p for p in parts}
    needed = {
        c.part
        for snapshot in _current(parts).values()
        for p in snapshot.values()
        for c in _chain(p, by_id)
    }
    unused = [p for p in parts if p.part not in needed]
    for family in {p.family for p in unused}:
        ids = [p.part for p in unused if p.family == family]
        delete_in(wh, rows_table(family), "part", ids)
    if unused:
        delete_in(wh, PARTS_TABLE, "part", [p.part for p in unused])


def save_snapshot(
    wh: Warehouse,
    as_of: dt.datetime,
    settings: FeatureSettings | None = None,
    *,
    then: Callable[[], None] | None = None,
) -> int:
    """Compute and store the snapshot as of ``as_of`` in full, replacing any stored for
    it; its rows. ``then`` runs in the same transaction once the snapshot is written."""
    settings = settings or FeatureSettings()
    with staged_snapshot(wh, as_of, settings) as (snapshot, families), wh.transaction():
        staged = wh.stage(snapshot, "snapshot")
        name = wh.table_name(staged)
        parts = [NewPart(fam, name, features) for fam, features in families.items() if features]
        written = write_snapshot(wh, as_of, parts, settings.half_life_days)
        wh.unstage([staged])
        if then is not None:
            then()
        return next(iter(written.values())).rows if written else 0


def read_snapshot(wh: Warehouse, as_of: dt.datetime, customer_id: str | None = None) -> ibis.Table:
    """The snapshot stored as of ``as_of`` as an expression: ``as_of``, ``customer_id``
    and the features, ordered by customer (optionally only ``customer_id``)."""
    parts = _parts(wh)
    chosen = _current(parts).get(as_of)
    if not chosen:
        raise NotFoundError(f"no snapshot as of {as_of}")
    by_id = {p.part: p for p in parts}
    out = None
    for family, part in chosen.items():
        chain = _chain(part, by_id)
        t = wh.table(rows_table(family))
        t = t.filter(t.part.isin([c.part for c in chain]))
        if customer_id is not None:
            t = t.filter(t.customer_id == customer_id)
        if len(chain) > 1:  # each customer's latest row
            latest = ibis.row_number().over(group_by="customer_id", order_by=ibis.desc("part"))
            t = t.mutate(_latest=latest).filter(ibis._._latest == 0)
        days = {c.part: (as_of - c.as_of).total_seconds() / 86_400.0 for c in chain}
        values = {}
        for name, (how, amount) in part.columns.items():
            col = t[name]
            if how != "keep" and len(chain) > 1:
                change = {
                    p: (amount * d if how == "add" else 2.0 ** (-d / amount))
                    for p, d in days.items()
                }
                by_part = ibis.cases(
                    *[(t.part == p, ibis.literal(v)) for p, v in change.items()],
                    else_=ibis.literal(0.0 if how == "add" else 1.0),
                )
                col = (col + by_part if how == "add" else col * by_part).cast(col.type())
            values[name] = col
        rows = t.select("customer_id", **values)
        out = rows if out is None else out.left_join(rows, "customer_id").drop("customer_id_right")
    assert out is not None
    stamped = out.select(
        as_of=ibis.literal(as_of, type="timestamp(6)"), **{c: out[c] for c in out.columns}
    )
    return stamped.order_by("customer_id")


def load_snapshot(
    wh: Warehouse, as_of: dt.datetime | None = None, customer_id: str | None = None
) -> pd.DataFrame:
    """A stored snapshot (the latest when ``as_of`` is None), optionally one customer."""
    stored = list_snapshots(wh)
    if not stored:
        raise NotFoundError(
            "no feature snapshot stored yet", hint="Run `nextbest features build` first."
        )
    chosen = as_of or stored[-1]
    if chosen not in stored:
        raise NotFoundError(
            f"no snapshot as of {chosen}",
            hint=f"Stored: {', '.join(str(s) for s in stored[-5:])}; build it with "
            f"`nextbest features build --as-of {chosen:%Y-%m-%d}`.",
        )
    return wh.to_pandas(read_snapshot(wh, chosen, customer_id))
