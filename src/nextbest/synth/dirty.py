"""Inject the faults real exports have into a synthetic store, and list every one.

:func:`spoil` returns a new store whose tables carry duplicates, missing required
values, unparseable timestamps, negative money, unknown customers, wrong types and
messy e-mail addresses, plus a table of exactly which row and field got which fault,
so an ingestion pipeline can be checked against it.

Columns that may receive bad text (see :data:`TEXT_COLUMNS`) become strings in the
spoiled tables: timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff``, money with two
decimals, integers and booleans as text (``true``/``false``).

Examples
--------
>>> from nextbest.synth import generate
>>> store = generate(customers=80, days=14, seed=4)
>>> dirty, spoiled = spoil(store, seed=1, rate=0.05)
>>> spoiled.schema.names
['table', 'row', 'line', 'key', 'fault', 'field']
>>> dirty.tables["orders"].schema.field("total").type
DataType(string)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.errors import NextBestError
from nextbest.schema import TABLES
from nextbest.synth.columns import _pick
from nextbest.synth.ids import _customer_width, make_ids
from nextbest.synth.store import SynthStore

__all__ = ["FAULTS", "TEXT_COLUMNS", "as_text", "spoil"]

FAULTS: tuple[str, ...] = (
    "duplicate",
    "missing",
    "bad_timestamp",
    "negative",
    "unknown_customer",
    "wrong_type",
    "messy_email",
)

# columns that may hold bad text; they are strings in every spoiled table
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("signup_at",),
    "products": ("price",),
    "orders": ("ordered_at", "total"),
    "order_items": ("quantity", "unit_price"),
    "events": ("occurred_at",),
    "messages": ("sent_at",),
    "consents": ("granted", "updated_at"),
}

# per table: (fault, fields it may hit, relative weight)
_PLAN: dict[str, tuple[tuple[str, tuple[str, ...], float], ...]] = {
    "customers": (
        ("duplicate", (), 2.0),
        ("missing", ("customer_id",), 0.5),
        ("bad_timestamp", ("signup_at",), 1.0),
        ("messy_email", ("email",), 3.0),
    ),
    "products": (
        ("duplicate", (), 2.0),
        ("missing", ("product_id",), 1.0),
        ("negative", ("price",), 1.0),
        ("wrong_type", ("price",), 1.0),
    ),
    "orders": (
        ("duplicate", (), 2.0),
        ("missing", ("customer_id", "ordered_at", "total"), 2.0),
        ("bad_timestamp", ("ordered_at",), 1.0),
        ("negative", ("total",), 1.0),
        ("unknown_customer", ("customer_id",), 1.0),
        ("wrong_type", ("total",), 1.0),
    ),
    "order_items": (
        ("duplicate", (), 2.0),
        ("missing", ("product_id", "quantity", "unit_price"), 1.5),
        ("negative", ("unit_price",), 1.0),
        ("wrong_type", ("quantity", "unit_price"), 1.0),
    ),
    "events": (
        ("duplicate", (), 3.0),
        ("missing", ("customer_id", "event_type", "occurred_at"), 2.0),
        ("bad_timestamp", ("occurred_at",), 1.0),
        ("unknown_customer", ("customer_id",), 1.0),
    ),
    "messages": (
        ("duplicate", (), 2.0),
        ("missing", ("customer_id", "sent_at"), 1.0),
        ("bad_timestamp", ("sent_at",), 1.0),
        ("unknown_customer", ("customer_id",), 1.0),
    ),
    "consents": (
        ("duplicate", (), 2.0),
        ("missing", ("granted", "updated_at"), 1.0),
        ("bad_timestamp", ("updated_at",), 1.0),
        ("wrong_type", ("granted",), 1.0),
    ),
}

_BAD_TIMESTAMPS = (
    "2025-13-45 25:00",
    "yesterday",
    "31/02/2025 10:00",
    "2025-02-30T99:99:99",
    "not a date",
    "0000-00-00 00:00:00",
)
_BAD_NUMBERS = ("abc", "twelve", "??", "1O.5", "12..5")
_BAD_BOOLS = ("maybe", "ja?", "2x")
_PADS = (" ", "  ")


def _money_text(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    cents = np.rint(np.where(valid, values, 0.0) * 100).astype(np.int64)
    mag = np.abs(cents)
    text = pc.binary_join_element_wise(
        _pick(("", "-"), (cents < 0).astype(np.int64)),
        pc.cast(pa.array(mag // 100), pa.string()),
        ".",
        pc.utf8_lpad(pc.cast(pa.array(mag % 100), pa.string()), width=2, padding="0"),
        "",
    )
    return pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def _whole(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.Array):
        return values
    if values.num_chunks == 1:
        return values.chunk(0)
    return values.combine_chunks()


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The text form a column takes in a spoiled table.

    Examples
    --------
    >>> as_text(pa.array([12.5, None])).to_pylist()
    ['12.50', None]
    """
    arr = _whole(values)
    kind = arr.type
    if pa.types.is_string(kind):
        return arr
    if pa.types.is_timestamp(kind):
        # Arrow's cast writes "YYYY-MM-DD HH:MM:SS.ffffff" and is much faster than strftime
        return pc.cast(arr.cast(pa.timestamp("us")), pa.string())
    if pa.types.is_floating(kind):
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        return _money_text(arr.fill_null(0.0).to_numpy(zero_copy_only=False), valid)
    return pc.cast(arr, pa.string())


def _key_text(table: pa.Table, name: str, rows: np.ndarray) -> pa.Array:
    key = TABLES[name].key
    idx = pa.array(rows, type=pa.int64())
    parts = [as_text(table.column(c).take(idx)) for c in key]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "|")


def _unknown_ids(rng: np.random.Generator, n_customers: int, m: int) -> pa.Array:
    width = _customer_width(n_customers)
    top = 10**width - 1
    if top <= n_customers + 10:
        width, top = width + 1, 10 ** (width + 1) - 1
    return make_ids("C", rng.integers(n_customers + 1, top + 1, m), width)


def _bad_values(
    fault: str,
    column: pa.Array,
    rows: np.ndarray,
    rng: np.random.Generator,
    n_customers: int,
    bool_column: bool,
) -> pa.Array:
    m = len(rows)
    if fault == "missing":
        return pa.nulls(m, type=column.type)
    if fault == "bad_timestamp":
        return _pick(_BAD_TIMESTAMPS, rng.integers(0, len(_BAD_TIMESTAMPS), m))
    if fault == "wrong_type":
        words = _BAD_BOOLS if bool_column else _BAD_NUMBERS
        return _pick(words, rng.integers(0, len(words), m))
    if fault == "unknown_customer":
        return _unknown_ids(rng, n_customers, m)
    old = column.take(pa.array(rows, type=pa.int64()))
    if fault == "negative":
        if pa.types.is_string(column.type):
            return pc.binary_join_element_wise("-", old, "")
        return pc.negate(pc.abs(old))
    if fault == "messy_email":
        shaped = pc.choose(
            pa.array(rng.integers(0, 3, m), type=pa.int8()),
            pc.utf8_upper(old),
            pc.utf8_title(old),
            pc.utf8_capitalize(old),
        )
        return pc.binary_join_element_wise(
            _pick(_PADS, rng.integers(0, len(_PADS), m)),
            shaped,
            _pick(_PADS, rng.integers(0, len(_PADS), m)),
            "",
        )
    raise ValueError(f"unknown fault {fault!r}")


def _spoil_table(
    name: str, table: pa.Table, rng: np.random.Generator, rate: float, n_customers: int
) -> tuple[pa.Table, dict[str, list[np.ndarray]]]:
    n = table.num_rows
    plan = _PLAN[name]
    weights = np.array([w for _, _, w in plan])
    k = min(n, round(rate * n))
    rows = np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, np.int64)
    which = rng.choice(len(plan), size=k, p=weights / weights.sum())

    cols = {c: _whole(table.column(c)) for c in table.column_names}
    bool_cols = {c for c in cols if pa.types.is_boolean(cols[c].type)}
    for c in TEXT_COLUMNS[name]:
        cols[c] = as_text(cols[c])

    rec: dict[str, list[np.ndarray]] = {"row": [], "src": [], "fault": [], "field": []}
    edits: dict[str, list[tuple[np.ndarray, pa.Array]]] = {}
    duplicates = np.zeros(0, dtype=np.int64)
    for f, (fault, fields, _) in enumerate(plan):
        sel = rows[which == f]
        if fault == "duplicate":
            duplicates = rng.permutation(sel)
            continue
        pick = rng.integers(0, len(fields), len(sel))
        for j, col in enumerate(fields):
            hit = sel[pick == j]
            if not len(hit):
                continue
            values = _bad_values(fault, cols[col], hit, rng, n_customers, col in bool_cols)
            edits.setdefault(col, []).append((hit, values))
            rec["row"].append(hit)
            rec["src"].append(hit)
            rec["fault"].append(np.full(len(hit), FAULTS.index(fault)))
            rec["field"].append(np.full(len(hit), table.column_names.index(col)))

    for col, parts in edits.items():
        at = np.concatenate([p[0] for p in parts])
        values = pa.concat_arrays([p[1].cast(cols[col].type) for p in parts])
        mask = np.zeros(n, dtype=bool)
        mask[at] = True
        order = pa.array(np.argsort(at, kind="stable"))
        cols[col] = pc.replace_with_mask(cols[col], pa.array(mask), values.take(order))

    dirty = pa.table(cols)
    if len(duplicates):
        dirty = pa.concat_tables([dirty, dirty.take(pa.array(duplicates))])
        rec["row"].append(np.arange(n, n + len(duplicates)))
        rec["src"].append(duplicates)
        rec["fault"].append(np.zeros(len(duplicates), dtype=np.int64))
        rec["field"].append(np.full(len(duplicates), -1))
    return dirty, rec


def spoil(store: SynthStore, seed: int = 0, rate: float = 0.01) -> tuple[SynthStore, pa.Table]:
    """Return a copy of ``store`` with injected faults and the list of them.

    About ``rate`` of each table's rows get exactly one fault each. Duplicates are
    exact copies of clean rows appended at the end of the table; every other fault
    changes one field of a row in place. ``messy_email`` (upper case, surrounding
    blanks) is not an error: ingestion is expected to clean it. The input store is
    left untouched.

    Parameters
    ----------
    store : SynthStore
        A clean store from :func:`nextbest.synth.generate`.
    seed : int
        Seed for choosing rows and bad values.
    rate : float
        Target fraction of spoiled rows per table, in ``[0, 0.5]``.

    Returns
    -------
    (SynthStore, pyarrow.Table)
        The spoiled store (same truth) and one row per fault with columns ``table``,
        ``row`` (0-based row in the written table), ``line`` (1-based line in a CSV
        file with a header, ``row + 2``), ``key`` (the row's original key; key columns
        joined by ``|`` for composite keys), ``fault`` and ``field`` (null for
        duplicates).

    Examples
    --------
    >>> from nextbest.synth import generate
    >>> store = generate(customers=40, days=10, seed=2)
    >>> dirty, spoiled = spoil(store, rate=0.1)
    >>> dirty.tables["customers"].num_rows >= store.tables["customers"].num_rows
    True
    """
    if not 0.0 <= rate <= 0.5:
        raise NextBestError(f"rate must be between 0 and 0.5, got {rate!r}", field="rate")
    rngs = np.random.default_rng(seed).spawn(len(TABLES))
    tables: dict[str, pa.Table] = {}
    pieces: list[pa.Table] = []
    for (name, clean), rng in zip(store.tables.items(), rngs, strict=True):
        dirty, rec = _spoil_table(name, clean, rng, rate, store.n_customers)
        tables[name] = dirty
        if not rec["row"]:
            continue
        row = np.concatenate(rec["row"])
        src = np.concatenate(rec["src"])
        field = np.concatenate(rec["field"])
        order = np.argsort(row, kind="stable")
        row, src, field = row[order], src[order], field[order]
        pieces.append(
            pa.table(
                {
                    "table": pa.repeat(pa.scalar(name, pa.string()), len(row)),
                    "row": pa.array(row, type=pa.int64()),
                    "line": pa.array(row + 2, type=pa.int64()),
                    "key": _key_text(clean, name, src),
                    "fault": _pick(FAULTS, np.concatenate(rec["fault"])[order]),
                    "field": _pick(clean.column_names, field),
                }
            )
        )
    empty = pa.schema(
        [
            ("table", pa.string()),
            ("row", pa.int64()),
            ("line", pa.int64()),
            ("key", pa.string()),
            ("fault", pa.string()),
            ("field", pa.string()),
        ]
    )
    spoiled = pa.concat_tables(pieces) if pieces else empty.empty_table()
    meta = {**store.meta, "spoiled": {"seed": seed, "rate": rate, "faults": spoiled.num_rows}}
    return dataclasses.replace(store, tables=tables, meta=meta), spoiled
