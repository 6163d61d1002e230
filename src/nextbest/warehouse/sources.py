"""Reading source files and databases into the engine as tables with a line number.

Every reader returns an Ibis table whose first column ``_line`` is the 1-based line
of the record in its file (header counted), and whose other columns are the
source's own, plus, for line-based formats, ``_record`` (the raw line) and
``_malformed`` (why a line could not be split into fields, else NULL). Text formats
arrive as strings (the mapping casts them, so a bad value becomes a quarantined row
instead of a failed load); Parquet keeps its types.

Formats: ``csv``, ``tsv``, ``whitespace`` (columns separated by runs of blanks),
``jsonl`` (one JSON object per line), ``parquet`` and ``sqlite`` (a query against
an SQLite database file).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from nextbest.errors import MappingError, SourceError
from nextbest.warehouse.functions import json_valid

__all__ = ["FORMATS", "SCRATCH_PREFIX", "guess_format", "read_source", "scratch_name"]

FORMATS = ("csv", "tsv", "whitespace", "jsonl", "parquet", "sqlite")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "whitespace",
    ".dat": "whitespace",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
}
_CHUNK_ROWS = 100_000


def guess_format(path: Path) -> str:
    """The format implied by a file's extension."""
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise SourceError(
            f"cannot tell the format from the extension {path.suffix!r}",
            source=str(path),
            hint=f"Set source.format in the mapping to one of {', '.join(FORMATS)}.",
        )
    return fmt


def _sniff(path: Path, fmt: str, encoding: str | None = None) -> None:
    """Refuse files whose bytes plainly are not the declared format."""
    if not path.exists():
        raise SourceError("file not found", source=str(path), hint="Check the path.")
    if path.is_dir():
        raise SourceError("is a folder, not a file", source=str(path))
    if path.stat().st_size == 0:
        raise SourceError(
            "file is empty", source=str(path), hint="Export the data again; nothing was loaded."
        )
    with path.open("rb") as fh:
        head = fh.read(8192)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise SourceError(
                "is not a Parquet file (no PAR1 magic bytes)",
                source=str(path),
                hint="Set source.format to the file's real format.",
            )
        return
    if fmt == "sqlite":
        if not head.startswith(b"SQLite format 3"):
            raise SourceError("is not an SQLite database", source=str(path))
        return
    if head.startswith(b"PAR1"):
        raise SourceError(
            f"looks like a Parquet file, not {fmt}",
            source=str(path),
            hint="Set source.format: parquet in the mapping.",
        )
    if b"\x00" in head:
        raise SourceError(
            f"is a binary file, not {fmt} text",
            source=str(path),
            hint="Check the path, or set source.format to the file's real format.",
        )
    if fmt == "jsonl" and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise SourceError(
            "is a JSON array, not JSON lines (one object per line)",
            source=str(path),
            hint="Convert it to JSON lines, e.g. with `jq -c '.[]'`.",
        )
    if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the buffer end
            raise SourceError(
                f"is not UTF-8 text (byte {err.start})",
                source=str(path),
                hint="Re-export the file as UTF-8, or set source.encoding (e.g. latin-1).",
            ) from None


def _quote(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


SCRATCH_PREFIX = "_scratch_"


def scratch_name(name: str) -> str:
    """A fresh name for a temporary object (dropped by ``Warehouse.clear_scratch``)."""
    return f"{SCRATCH_PREFIX}{name}_{uuid.uuid4().hex[:8]}"


def _lines(con: Any, path: Path) -> ibis.Table:
    """A text file as one string column ``text`` with its exact 1-based ``_line``."""
    name = scratch_name("lines")
    con.raw_sql(
        f"CREATE TEMP TABLE {name} AS SELECT unnest(generate_series(1, len(l)))::BIGINT AS _line, "
        f"unnest(l) AS text FROM (SELECT string_split(content, E'\\n') AS l "
        f"FROM read_text({_quote(str(path))}))"
    )
    return con.table(name)


def _read_whitespace(con: Any, path: Path, header: bool, columns: list[str] | None) -> ibis.Table:
    lines = _lines(con, path)
    text = _strip(lines.text)
    parts = text.re_split(r"\s+")
    if header:
        first = con.execute(_strip(lines.filter(lines._line == 1).text))
        names = first.iloc[0].split() if len(first) else []
        body = lines.filter(lines._line > 1)
    else:
        body = lines
        names = []
    names = list(columns or names)
    if not names:
        raise MappingError(
            "whitespace-separated text without a header needs column names",
            source=str(path),
            hint="List them under source.columns in the mapping.",
        )
    body = body.mutate(_parts=parts).filter(text != "")
    return body.select(
        "_line",
        **{name: body._parts[i] for i, name in enumerate(names)},
        _malformed=ibis.ifelse(
            body._parts.length() > len(names),
            f"more than {len(names)} columns",
            ibis.null().cast("string"),
        ),
        _record=body.text,
    )


def _read_jsonl(con: Any, path: Path) -> ibis.Table:
    lines = _lines(con, path)
    sample = con.raw_sql(
        f"SELECT DISTINCT unnest(json_keys(text)) AS k FROM (SELECT text FROM "
        f"{lines.get_name()} WHERE json_valid(text) AND text LIKE '{{%' LIMIT 10000)"
    ).fetchall()
    keys = sorted(k for (k,) in sample)
    body = lines.filter(_strip(lines.text) != "")
    fields = {k: _json_field(body.text, k) for k in keys}
    return body.select(
        "_line",
        **fields,
        _malformed=ibis.ifelse(json_valid(body.text), ibis.null().cast("string"), "invalid JSON"),
        _record=body.text,
    )


def _strip(text: ibis.Value) -> ibis.Value:
    """Trim blanks, tabs and carriage returns at both ends."""
    return text.re_replace(r"^\s+|\s+$", "")


@ibis.udf.scalar.builtin(name="json_extract_string")
def _json_extract_string(value: str, path: str) -> str:
    """A JSON field as text."""


def _json_field(text: ibis.Value, key: str) -> ibis.Value:
    escaped = key.replace('"', '\\"')
    return ibis.ifelse(json_valid(text), _json_extract_string(text, f'$."{escaped}"'), None)


def _read_csv(
    con: Any,
    path: Path,
    delimiter: str,
    header: bool,
    columns: list[str] | None,
    encoding: str | None = None,
) -> tuple[ibis.Table, Any]:
    reject_table = scratch_name("rejects")
    reject_scan = scratch_name("scans")
    names = ""
    if columns:
        names = ", names=[" + ", ".join(_quote(c) for c in columns) + "]"
    view = scratch_name("csv")
    first = 2 if header else 1
    try:
        # rows keep the file's order (insertion order is preserved here), so a row's
        # position in the table is its line; a window over the whole file costs more
        con.raw_sql(
            f"CREATE TEMP TABLE {view}_rows AS SELECT * FROM read_csv({_quote(str(path))}, "
            "all_varchar=true, "
            f"header={str(header).lower()}, delim={_quote(delimiter)}, store_rejects=true, "
            f"rejects_table='{reject_table}', rejects_scan='{reject_scan}'{names}"
            + (f", encoding={_quote(encoding)})" if encoding else ")")
        )
    except duckdb.Error as err:
        raise SourceError(
            f"could not be read as {'TSV' if delimiter == chr(9) else 'CSV'}: "
            f"{str(err).splitlines()[0]}",
            source=str(path),
            hint="Check source.format, source.delimiter and source.header in the mapping.",
        ) from None
    con.raw_sql(
        f"CREATE TEMP VIEW {view} AS SELECT rowid::BIGINT + {first} AS _line, * FROM {view}_rows"
    )
    rejects = con.raw_sql(
        f"SELECT line, first(column_name) AS column_name, first(error_type) AS error_type, "
        f"first(csv_line) AS csv_line, string_agg(error_message, '; ') AS error_message "
        f"FROM {reject_table} GROUP BY line ORDER BY line"
    ).to_arrow_table()
    if rejects.num_rows:
        view = _fix_lines_after_rejects(
            con, view, [int(x) for x in rejects.column("line").to_pylist()]
        )
    return con.table(view), rejects


def _fix_lines_after_rejects(con: Any, view: str, rejected: list[int]) -> str:
    """The rows of ``view`` renumbered around the lines the reader rejected (a new table).

    Accepted rows were numbered as if no line was rejected. The j-th rejected line
    r_j (j from 0) precedes every accepted row numbered r_j - j or more, so a row's
    true line is its number plus the count of those thresholds at or below it.
    """
    shifts: dict[int, int] = {}
    for j, line in enumerate(sorted(set(rejected))):
        shifts[line - j] = j + 1
    values = ", ".join(f"({t}, {c})" for t, c in sorted(shifts.items()))
    fixed = f"{view}_fixed"
    con.raw_sql(
        f"CREATE TEMP TABLE {fixed} AS SELECT v._line + coalesce(s.c, 0) AS _line, "
        f"v.* EXCLUDE (_line) FROM {view} v ASOF LEFT JOIN (VALUES {values}) s(t, c) "
        f"ON v._line >= s.t ORDER BY 1"
    )
    return fixed


def _read_parquet(con: Any, path: Path) -> ibis.Table:
    view = scratch_name("parquet")
    try:
        con.raw_sql(
            f"CREATE TEMP VIEW {view} AS SELECT * FROM "
            f"read_parquet({_quote(str(path))}, file_row_number=true)"
        )
        t = con.table(view)
    except duckdb.Error as err:
        raise SourceError(
            f"could not be read as Parquet: {str(err).splitlines()[0]}", source=str(path)
        ) from None
    cols = [c for c in t.columns if c != "file_row_number"]
    return t.select(_line=(t.file_row_number + 1).cast("int64"), **{c: t[c] for c in cols})


def _read_sqlite(con: Any, path: Path, query: str | None) -> ibis.Table:
    if not query:
        raise MappingError(
            "an SQLite source needs a query",
            source=str(path),
            field="source.query",
            hint="Add source.query: SELECT ... FROM your_table",
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        cur = db.execute(query)
    except sqlite3.Error as err:
        raise SourceError(
            f"query failed: {err}",
            source=str(path),
            field="source.query",
            hint="Check the table and column names in the query.",
        ) from None
    names = [d[0] for d in cur.description]
    batches: list[pa.RecordBatch] = []
    line = 1
    while rows := cur.fetchmany(_CHUNK_ROWS):
        cols = list(zip(*rows, strict=True))
        arrays = [pa.array(range(line, line + len(rows)), pa.int64())]
        arrays += [
            pa.array([None if v is None else str(v) for v in col], pa.string()) for col in cols
        ]
        batches.append(pa.RecordBatch.from_arrays(arrays, names=["_line", *names]))
        line += len(rows)
    db.close()
    schema = pa.schema([("_line", pa.int64())] + [(n, pa.string()) for n in names])
    name = scratch_name("sqlite")
    con.con.register(f"{name}_arrow", pa.Table.from_batches(batches, schema=schema))
    con.raw_sql(f'CREATE TEMP TABLE {name} AS SELECT * FROM "{name}_arrow"')
    con.con.unregister(f"{name}_arrow")
    return con.table(name)


def read_source(
    con: Any,
    path: Path,
    fmt: str,
    *,
    header: bool = True,
    delimiter: str | None = None,
    columns: list[str] | None = None,
    query: str | None = None,
    encoding: str | None = None,
) -> tuple[ibis.Table, Any]:
    """Open ``path`` as ``fmt``; return the table and the rows the reader rejected.

    ``encoding`` (CSV and TSV only) names the file's text encoding, UTF-8 by default.

    The rejected rows (an Arrow table with ``line``, ``error_type``, ``csv_line``,
    ``error_message``) are only produced by the CSV reader; others return None.
    """
    if fmt not in FORMATS:
        raise MappingError(
            f"unknown source format {fmt!r}",
            source=str(path),
            field="source.format",
            hint=f"Use one of {', '.join(FORMATS)}.",
        )
    if encoding and fmt not in ("csv", "tsv"):
        raise MappingError(
            f"source.encoding is only read for csv and tsv files, not {fmt}",
            source=str(path),
            field="source.encoding",
            hint="Convert the file to UTF-8.",
        )
    _sniff(path, fmt, encoding)
    if fmt in ("csv", "tsv"):
        sep = delimiter or ("\t" if fmt == "tsv" else ",")
        return _read_csv(con, path, sep, header, columns, encoding)
    if fmt == "whitespace":
        return _read_whitespace(con, path, header, columns), None
    if fmt == "jsonl":
        return _read_jsonl(con, path), None
    if fmt == "parquet":
        return _read_parquet(con, path), None
    return _read_sqlite(con, path, query), None
