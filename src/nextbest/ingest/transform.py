"""Turn a source table into canonical rows, each with the reason it fails, if any.

The result is one Ibis expression: the canonical columns (typed), ``_line``,
``_record`` (the raw source row as text) and ``_reason`` / ``_field`` /
``_detail`` (NULL for a good row). Nothing here knows the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from nextbest.errors import MappingError
from nextbest.ingest.mapping import ColumnSpec, TableSpec
from nextbest.schema import Column, Table
from nextbest.warehouse.functions import local_to_utc, trim_blanks, try_strptime

__all__ = ["Check", "canonical_rows", "canonical_values"]

_EPOCH = {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us"}
_NULL = ibis.null().cast("string")


@dataclass
class Check:
    """A failing condition, the reason code it gives, its field and detail text."""

    failed: ibis.BooleanValue
    reason: str
    field: str | None
    detail: ibis.StringValue


def _text(value: ibis.Value) -> ibis.StringValue:
    return value.cast("string")


def _timestamp(raw: ibis.Value, spec: ColumnSpec, zone: str) -> ibis.Value:
    zone = spec.timezone or zone
    dtype = raw.type()
    if spec.format in _EPOCH:
        number = raw if dtype.is_integer() else raw.try_cast("int64")
        return number.as_timestamp(_EPOCH[spec.format]).cast("timestamp(6)")
    if dtype.is_timestamp():
        if dtype.timezone:
            return raw.cast("timestamp(6)")  # the session is UTC
        return local_to_utc(raw.cast("timestamp(6)"), zone)
    if dtype.is_date():
        return local_to_utc(raw.cast("timestamp(6)"), zone)
    text = _text(raw)
    if spec.format:
        return local_to_utc(try_strptime(text, spec.format), zone)
    # an offset in the text wins; naive text is read in the session zone, UTC
    aware = text.try_cast(dt.Timestamp(timezone="UTC", scale=6)).cast("timestamp(6)")
    if zone.upper() in ("UTC", "Z", "ETC/UTC", "GMT"):
        return aware
    with_offset = text.re_search(r"(Z|[+-]\d\d(:?\d\d)?)$")
    return ibis.ifelse(with_offset, aware, local_to_utc(text.try_cast("timestamp(6)"), zone))


def _date(raw: ibis.Value, spec: ColumnSpec) -> ibis.Value:
    dtype = raw.type()
    if dtype.is_date():
        return raw
    if dtype.is_timestamp():
        return raw.date()
    if spec.format:
        return try_strptime(_text(raw), spec.format).date()
    return _text(raw).try_cast("date")


def _cast(raw: ibis.Value, col: Column, spec: ColumnSpec, zone: str) -> ibis.Value:
    kind = col.kind
    if kind == "timestamp":
        return _timestamp(raw, spec, zone)
    if kind == "date":
        return _date(raw, spec)
    if kind == "string":
        return raw if raw.type().is_string() else _text(raw)
    if kind == "json":
        if raw.type().is_json():
            return raw
        # one parse: text that is not valid JSON becomes NULL
        return _text(raw).try_cast("json")
    if kind == "boolean" and raw.type().is_string():
        text = raw.lower()
        text = text.substitute({"yes": "true", "no": "false", "y": "true", "n": "false"})
        return text.try_cast("boolean")
    return raw.try_cast(col.dtype)


def _prepare(raw: ibis.Value, col: Column, spec: ColumnSpec) -> ibis.Value:
    """Trim, lower-case, map values and fill defaults, before any cast."""
    if raw.type().is_string():
        # trimming copies every value; only the few that need it pay for that
        padded = raw.startswith(" ") | raw.endswith(" ") | (raw == "")
        raw = ibis.ifelse(padded, trim_blanks(raw).nullif(""), raw)
        if spec.lower or col.name == "email":
            raw = raw.lower()
    if spec.values:
        mapped = {str(k): v for k, v in spec.values.items()}
        raw = _text(raw).substitute(mapped, else_=_text(raw))
    if spec.default is not None:
        raw = raw.fill_null(ibis.literal(spec.default).cast(raw.type()))
    return raw


def _source_value(
    src: ibis.Table, col: Column, spec: ColumnSpec, table: str, source: str
) -> ibis.Value | None:
    def column(name: str) -> ibis.Value:
        if name not in src.columns:
            visible = [c for c in src.columns if not c.startswith("_")]
            raise MappingError(
                f"the source has no column {name!r} (mapped to {table}.{col.name})",
                source=source,
                field=name,
                hint=f"Source columns: {', '.join(visible)}.",
            )
        return src[name]

    if spec.expr is not None:
        return src[f"__expr_{col.name}"]
    if spec.value is not None:
        return ibis.literal(spec.value)
    if isinstance(spec.from_, list):
        if col.kind != "json":
            raise MappingError(
                "a list of source columns is only allowed for json columns",
                source=source,
                field=f"tables.{table}.columns.{col.name}.from",
            )
        return ibis.struct({name: column(name) for name in spec.from_}).cast("json")
    if spec.from_ is not None:
        return column(spec.from_)
    if col.name in src.columns:
        return src[col.name]
    return None


def _with_expressions(src: ibis.Table, spec: TableSpec, table: str, source: str) -> ibis.Table:
    exprs = {name: c.expr for name, c in spec.columns.items() if c.expr is not None}
    if not exprs:
        return src
    select = ", ".join(f'({expr}) AS "__expr_{name}"' for name, expr in exprs.items())
    try:
        return src.alias("source").sql(f"SELECT *, {select} FROM source", dialect="duckdb")
    except Exception as err:  # sqlglot and the engine raise several types here
        raise MappingError(
            f"an expression in the mapping is not valid SQL: {str(err).splitlines()[0]}",
            source=source,
            field=f"tables.{table}.columns",
            hint="Expressions are SQL over the source columns, e.g. \"'cd-' || _line\".",
        ) from None


@dataclass
class _Typed:
    """Levels 1 and 2 of a mapping: prepared source values, then typed canonical ones."""

    level2: ibis.Table
    specs: dict[str, ColumnSpec]
    visible: list[str]


def _typed(src: ibis.Table, table: Table, spec: TableSpec, source: str, zone: str) -> _Typed:
    src = _with_expressions(src, spec, table.name, source)
    visible = [c for c in src.columns if not c.startswith("_")]
    carried = {f"__src_{c}": src[c] for c in visible}
    for extra in ("_malformed", "_record"):
        if extra in src.columns:
            carried[extra] = src[extra]

    # level 1: the prepared source value of every mapped canonical column
    prepared: dict[str, ibis.Value] = {}
    specs: dict[str, ColumnSpec] = {}
    for col in table.columns:
        spec_col = spec.columns.get(col.name, ColumnSpec())
        raw = _source_value(src, col, spec_col, table.name, source)
        if raw is None:
            if col.required:
                raise MappingError(
                    f"required column {table.name}.{col.name} is not mapped and the source "
                    f"has no column of that name",
                    source=source,
                    field=col.name,
                    hint=f"Add tables.{table.name}.columns.{col.name} to the mapping.",
                )
            continue
        prepared[f"__raw_{col.name}"] = _prepare(raw, col, spec_col)
        specs[col.name] = spec_col
    level1 = src.select(_line=src._line, **carried, **prepared).view()

    # level 2: typed canonical values
    typed = {
        col.name: (
            _cast(level1[f"__raw_{col.name}"], col, specs[col.name], zone).cast(col.dtype)
            if col.name in specs
            else ibis.null().cast(col.dtype)
        )
        for col in table.columns
    }
    return _Typed(level1.select(*level1.columns, **typed).view(), specs, visible)


def canonical_values(
    src: ibis.Table, table: Table, spec: TableSpec, *, source: str, zone: str = "UTC"
) -> ibis.Table:
    """``_line`` and the typed canonical columns of every row, without the checks.

    The values :func:`canonical_rows` gives for the same source, for writing rows
    already found good: none of the checks (nor the lookups of references) run.
    """
    level2 = _typed(src, table, spec, source, zone).level2
    return level2.select("_line", *(col.name for col in table.columns))


def canonical_rows(
    src: ibis.Table,
    table: Table,
    spec: TableSpec,
    *,
    source: str,
    zone: str = "UTC",
    enums: dict[str, tuple[str, ...]] | None = None,
    references: dict[str, ibis.Table] | None = None,
) -> ibis.Table:
    """Map ``src`` onto ``table``; every row gets its first failure or NULL.

    ``enums`` widens a column's allowed values; ``references`` maps a column to the
    table whose key it must name (only the checks that are switched on).

    The expression is built in levels (prepared text, typed values, check flags,
    first failure, explanation), each a separate projection, so every value is
    computed once per row and the explanation only for failing rows.
    """
    typed = _typed(src, table, spec, source, zone)
    level2, specs, visible = typed.level2, typed.specs, typed.visible

    # level 3: one boolean per check
    checks = _checks(level2, table, specs, enums or {}, references or {})
    flags = {f"__fail_{i}": c.failed for i, c in enumerate(checks)}
    level3 = level2.select(*level2.columns, **flags).view()

    # level 4: the first failure, if any
    level4 = level3.select(
        *level3.columns, _reason=_first(level3, checks, lambda c: ibis.literal(c.reason))
    ).view()

    # level 5: field, details and the raw record, evaluated for failing rows only
    bad = level4._reason.notnull()

    def only_bad(value: ibis.Value) -> ibis.Value:
        return ibis.ifelse(bad, value, _NULL)

    # the same checks over level 4, for their detail texts (their conditions go unused)
    texts = [c.detail for c in _checks(level4, table, specs, enums or {}, references or {})]
    details = [ibis.ifelse(level4[f"__fail_{i}"], text, _NULL) for i, text in enumerate(texts)]
    if "_record" in level4.columns:
        record = level4["_record"]
    else:
        record = ibis.struct({c: level4[f"__src_{c}"] for c in visible}).cast("json").cast("string")
    return level4.select(
        _line=level4._line,
        **{col.name: level4[col.name] for col in table.columns},
        _reason=level4._reason,
        _field=only_bad(_first(level4, checks, lambda c: ibis.literal(c.field).cast("string"))),
        _detail=only_bad(ibis.literal("; ").join(details)) if details else _NULL,
        _record=only_bad(record),
    )


def _first(t: ibis.Table, checks: list[Check], pick: Any) -> ibis.Value:
    """``pick`` of the first failing check, by the flags ``__fail_i`` of ``t``."""
    if not checks:
        return _NULL
    return ibis.cases(*[(t[f"__fail_{i}"], pick(c)) for i, c in enumerate(checks)], else_=_NULL)


def _checks(
    t: ibis.Table,
    table: Table,
    specs: dict[str, ColumnSpec],
    enums: dict[str, tuple[str, ...]],
    references: dict[str, ibis.Table],
) -> list[Check]:
    """Every contract check of ``table`` over the typed level ``t``."""
    checks: list[Check] = []
    if "_malformed" in t.columns:
        checks.append(Check(t._malformed.notnull(), "malformed_row", None, t._malformed))
    for col in table.columns:
        if col.name not in specs:
            continue
        raw, value, spec_col = t[f"__raw_{col.name}"], t[col.name], specs[col.name]
        shown = _text(raw).substr(0, 60)
        if col.required:
            checks.append(Check(raw.isnull(), "missing", col.name, ibis.literal("missing")))
        checks.append(
            Check(
                raw.notnull() & value.isnull(),
                "invalid_" + ("timestamp" if col.kind in ("timestamp", "date") else "type"),
                col.name,
                "cannot read '"
                + shown
                + f"' as {col.dtype}"
                + (f" with format {spec_col.format}" if spec_col.format else ""),
            )
        )
        if col.min is not None:
            checks.append(
                Check(value < col.min, "out_of_range", col.name, shown + f" is below {col.min:g}")
            )
        if col.max is not None:
            checks.append(
                Check(value > col.max, "out_of_range", col.name, shown + f" is above {col.max:g}")
            )
        allowed = enums.get(col.name, col.enum)
        if allowed:
            checks.append(
                Check(
                    value.notnull() & ~value.isin(list(allowed)),
                    "not_allowed",
                    col.name,
                    "'" + shown + "' is not one of the allowed values",
                )
            )
    for fk in table.references:
        other = references.get(fk.column)
        if other is not None and fk.column in specs:
            value = t[fk.column]
            checks.append(
                Check(
                    value.notnull() & ~value.isin(other),
                    fk.reason,
                    fk.column,
                    "'" + _text(value) + f"' is not in {fk.table}",
                )
            )
    return checks
