"""The warehouse: one Ibis connection, the canonical tables, transactions.

Only this package knows which engine runs the SQL. Everything else hands it Ibis
expressions and gets Ibis tables (or Arrow/pandas results) back.

>>> import tempfile, pathlib
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     wh.count("orders")
0
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from nextbest.config import MEMORY, Settings, project_dir
from nextbest.errors import NotFoundError, WarehouseError
from nextbest.schema import TABLES
from nextbest.warehouse.plans import InliningCompiler
from nextbest.warehouse.sources import SCRATCH_PREFIX, read_source, scratch_name

__all__ = ["SYSTEM_TABLES", "Warehouse"]

SYSTEM_TABLES: dict[str, dict[str, str]] = {
    "_loads": {
        "load_id": "string",
        "source": "string",
        "target": "string",
        "format": "string",
        "started_at": "timestamp(6)",
        "finished_at": "timestamp(6)",
        "rows_read": "int64",
        "loaded": "int64",
        "duplicates": "int64",
        "quarantined": "int64",
    },
    "_quarantine": {
        "load_id": "string",
        "target": "string",
        "source": "string",
        "line": "int64",
        "reason": "string",
        "field": "string",
        "detail": "string",
        "record": "string",
    },
}


def records(cursor: Any) -> list[dict[str, Any]]:
    """The rows of an executed DuckDB cursor as dicts of Python values."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_UNITS = {u: 1000.0**i for i, u in enumerate("KMGT", 1)} | {
    f"{u}i": 1024.0**i for i, u in enumerate("KMGT", 1)
}


def _bytes(size: str) -> float | None:
    """The bytes of an engine memory size such as ``256MB`` or ``2GiB`` (None: not one)."""
    m = re.fullmatch(MEMORY, size)
    return float(size[: m.start(2)]) * _UNITS[m[2][:-1]] if m else None


class Warehouse:
    """An open warehouse (a DuckDB file by default). Use as a context manager.

    Parameters
    ----------
    path
        The database file; created with its parent folders when missing.
    threads, memory_limit
        Engine resources (DuckDB spills to disk past the memory limit).
    read_only
        Open without taking the write lock (several readers may share the file).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int = 2,
        memory_limit: str = "2GB",
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.memory_limit = memory_limit
        self._cap = ("warehouse.memory_limit", memory_limit)  # the cap in force, its setting
        self._in_transaction = False
        if read_only and not self.path.exists():
            raise NotFoundError(
                "no warehouse here yet",
                source=str(self.path),
                hint="Run `nextbest init` or load data with `nextbest ingest` first.",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con: Any = ibis.duckdb.connect(
                str(self.path),
                read_only=read_only,
                threads=threads,
                memory_limit=memory_limit,
                # the newest storage format writes faster and smaller (DuckDB >= 1.5 reads it)
                storage_compatibility_version="latest",
            )
        except duckdb.IOException as err:
            text = str(err).splitlines()[0]
            locked = "lock" in text.lower()
            raise WarehouseError(
                f"cannot open the warehouse: {text}",
                source=str(self.path),
                hint="Another process is writing to it; wait for it to finish and retry."
                if locked
                else "Check that the file is a NextBest warehouse made by this version.",
            ) from None
        self.con.compiler = InliningCompiler(self.con.compiler)
        self.raw_sql("SET TimeZone = 'UTC'")
        self.raw_sql("SET enable_progress_bar = false")
        self.read_only = read_only
        if not read_only:
            self.migrate()

    @classmethod
    def open(
        cls, settings: Settings, project: str | Path | None = None, *, read_only: bool = False
    ) -> Warehouse:
        """Open the warehouse a project's settings point at."""
        root = project_dir(project)
        return cls(
            settings.warehouse_path(root),
            threads=settings.warehouse.threads,
            memory_limit=settings.warehouse.memory_limit,
            read_only=read_only,
        )

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.disconnect()

    def migrate(self) -> None:
        """Create the canonical and system tables that do not exist yet."""
        existing = set(self.con.list_tables())
        for table in TABLES.values():
            if table.name not in existing:
                self.con.create_table(table.name, schema=ibis.schema(table.ibis_schema()))
        for name, columns in SYSTEM_TABLES.items():
            if name not in existing:
                self.con.create_table(name, schema=ibis.schema(columns))

    # -- reading ---------------------------------------------------------------------
    def raw_sql(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.con.con.execute(sql, params) if params else self.con.raw_sql(sql)

    def table(self, name: str) -> ibis.Table:
        try:
            return self.con.table(name)
        except Exception as err:  # the engine's own "table not found" type varies
            raise NotFoundError(
                f"no table {name!r} in the warehouse", source=str(self.path)
            ) from err

    def has_table(self, name: str) -> bool:
        """Whether the warehouse stores table ``name`` (quicker than :meth:`list_tables`)."""
        found = self.con.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE NOT temporary "
            "AND database_name = current_database() AND table_name = ?",
            [name],
        ).fetchone()
        return bool(found and found[0])

    def list_tables(self) -> list[str]:
        return list(self.con.list_tables())

    def count(self, name: str) -> int:
        return int(self.con.execute(self.table(name).count()))

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of the (small) table ``name`` as dicts of Python values, read
        without building a query; none when the table does not exist."""
        if not self.has_table(name):
            return []
        return records(self.con.con.execute(f'SELECT * FROM "{name}"'))

    def insert_rows(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (dicts by column name) to table ``name``."""
        for row in rows:
            columns = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join("?" for _ in row)
            self.con.con.execute(
                f'INSERT INTO "{name}" ({columns}) VALUES ({marks})', list(row.values())
            )

    def execute(self, expr: ibis.Expr) -> Any:
        """Run an expression; a table comes back as pandas, a scalar as a Python value."""
        return self.con.execute(expr)

    def to_arrow(self, expr: ibis.Expr, *, ordered: bool = True) -> pa.Table:
        """The result as Arrow; ``ordered=False`` lets the engine return rows in any order."""
        if ordered:
            return self.con.to_pyarrow(expr)
        with self._unordered():
            return self.con.to_pyarrow(expr)

    def to_pandas(self, expr: ibis.Expr) -> pd.DataFrame:
        return self.con.execute(expr)

    def read_source(self, path: Path, fmt: str, **options: Any) -> tuple[ibis.Table, Any]:
        """Open a source file or database; see :func:`nextbest.warehouse.sources.read_source`."""
        return read_source(self.con, path, fmt, **options)

    # -- writing -----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """Everything inside commits together, or not at all (also when killed).

        Nested uses join the outermost transaction.
        """
        if self._in_transaction:
            yield self
            return
        self.raw_sql("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self.raw_sql("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        self.raw_sql("COMMIT")

    @contextlib.contextmanager
    def memory_capped(self, memory_limit: str | None, setting: str) -> Iterator[Warehouse]:
        """Run the block with the engine's memory cap at ``memory_limit`` (a size such
        as ``128MB``; None, or a cap above the warehouse's, leaves it), then restore
        the cap. Not inside a transaction (its writes would hold the memory the block
        was meant to have). Work that does not fit is a :class:`WarehouseError`
        naming ``setting``, the cap's source."""
        if memory_limit is None:
            yield self
            return
        wanted, own = _bytes(memory_limit), _bytes(self.memory_limit)
        if wanted is None:
            raise ValueError(f"not a memory size: {memory_limit!r}")
        if own is not None and own <= wanted:
            yield self
            return
        if self._in_transaction:
            raise RuntimeError("a memory cap cannot be set inside a transaction")
        self.raw_sql(f"SET memory_limit = '{memory_limit}'")
        outer, self._cap = self._cap, (setting, memory_limit)
        try:
            with self.engine_errors():
                yield self
        finally:
            self._cap = outer
            self.raw_sql(f"SET memory_limit = '{self.memory_limit}'")

    @contextlib.contextmanager
    def engine_errors(self) -> Iterator[Warehouse]:
        """Run the block turning the engine running out of memory into a
        :class:`WarehouseError` that names the memory cap in force and its setting."""
        try:
            yield self
        except duckdb.OutOfMemoryException as err:
            setting, cap = self._cap
            hint = f"Raise {setting}" + (
                ", or set it to null to use the warehouse's cap."
                if setting != "warehouse.memory_limit"
                else ": the engine spills to disk beyond it, but some steps need more at once."
            )
            raise WarehouseError(
                f"out of memory within the cap of {cap}: {str(err).splitlines()[0]}",
                field=setting,
                hint=hint,
            ) from None

    def stage(self, expr: ibis.Table, prefix: str = "stage") -> ibis.Table:
        """Materialize ``expr`` once as a temporary table (see :meth:`clear_scratch`)."""
        name = scratch_name(prefix)
        return self.con.create_table(name, expr, temp=True)

    @staticmethod
    def table_name(t: ibis.Table) -> str:
        """The bare name (for SQL) of a table made by :meth:`stage` or :meth:`from_arrow`."""
        return t.get_name().rsplit(".", 1)[-1]

    def unstage(self, tables: list[ibis.Table]) -> None:
        """Drop temporary tables made by :meth:`stage` or :meth:`from_arrow`."""
        for t in tables:
            self.raw_sql(f'DROP TABLE IF EXISTS "{self.table_name(t)}"')

    def from_arrow(self, data: pa.Table) -> ibis.Table:
        """Arrow data as a temporary table (see :meth:`clear_scratch`)."""
        name = scratch_name("arrow")
        self.con.con.register(f"{name}_view", data)
        try:
            self.raw_sql(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM "{name}_view"')
        finally:
            self.con.con.unregister(f"{name}_view")
        return self.con.table(name)

    def clear_scratch(self) -> None:
        """Drop every temporary table and view this connection made for its work."""
        pattern = SCRATCH_PREFIX.replace("_", "\\_") + "%"
        for kind in ("VIEW", "TABLE"):
            catalog = "duckdb_views()" if kind == "VIEW" else "duckdb_tables()"
            names = self.raw_sql(
                f"SELECT {kind.lower()}_name FROM {catalog} WHERE temporary "
                f"AND {kind.lower()}_name LIKE '{pattern}' ESCAPE '\\'"
            ).fetchall()
            for (name,) in names:
                self.raw_sql(f'DROP {kind} IF EXISTS "{name}"')

    def replace_slice(self, name: str, expr: ibis.Table, column: str, value: Any) -> None:
        """Make the rows of table ``name`` with ``column == value`` exactly ``expr``'s rows
        (see :meth:`append`), so versioned tables (one slice per ``as_of``) can grow."""
        with self.transaction():
            if name in self.list_tables():
                self.raw_sql(f'DELETE FROM "{name}" WHERE "{column}" = ?', params=[value])
            self.append(name, expr)

    def append(self, name: str, expr: ibis.Table) -> None:
        """Add ``expr``'s rows to table ``name``, matched by column name: the table is
        created from ``expr`` when missing, gets the columns it lacks, and its columns
        ``expr`` lacks are null."""
        with self.transaction():
            if name not in self.list_tables():
                self.con.create_table(name, schema=expr.schema())
            existing = self.table(name).schema()
            for col, dtype in expr.schema().items():
                if col not in existing:
                    sql_type = self.con.compiler.type_mapper.to_string(dtype)
                    self.raw_sql(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {sql_type}')
            target = self.table(name)
            missing = {
                c: ibis.null().cast(t) for c, t in target.schema().items() if c not in expr.columns
            }
            self.insert(name, expr.mutate(**missing))

    def copy_rows(
        self,
        target: str,
        name: str,
        columns: list[str],
        constants: dict[str, tuple[Any, str]] | None = None,
    ) -> int:
        """Append ``columns`` of the stored table ``name`` to table ``target`` with
        ``constants`` (``name: (value, ibis type)``) as further columns; the rows added.

        Like :meth:`append`, but without building a query: ``target`` is created
        when missing and gets the columns it lacks (with ``name``'s types).
        """
        constants = constants or {}
        mapper = self.con.compiler.type_mapper
        kinds = {row[0]: row[1] for row in self.raw_sql(f'DESCRIBE "{name}"').fetchall()}
        wanted = {c: mapper.to_string(ibis.dtype(kind)) for c, (_, kind) in constants.items()}
        wanted.update({c: kinds[c] for c in columns})
        with self.transaction():
            if not self.has_table(target):
                typed = ", ".join(f'"{c}" {kind}' for c, kind in wanted.items())
                self.raw_sql(f'CREATE TABLE "{target}" ({typed})')
            have = {row[0] for row in self.raw_sql(f'DESCRIBE "{target}"').fetchall()}
            for col, kind in wanted.items():
                if col not in have:
                    self.raw_sql(f'ALTER TABLE "{target}" ADD COLUMN "{col}" {kind}')
            names = ", ".join(f'"{c}"' for c in wanted)
            values = ", ".join(["?"] * len(constants) + [f'"{c}"' for c in columns])
            sql = f'INSERT INTO "{target}" ({names}) SELECT {values} FROM "{name}"'
            with self._unordered():
                added = self.con.con.execute(sql, [v for v, _ in constants.values()])
                return int(added.fetchone()[0])

    def insert(self, name: str, expr: ibis.Table) -> None:
        """Append the rows of ``expr`` (columns in the table's order) to table ``name``."""
        target = self.table(name)
        # row order in a table means nothing here; letting the engine write in any
        # order makes large appends much faster
        with self._unordered():
            self.con.insert(name, expr.select(*target.columns))

    @contextlib.contextmanager
    def _unordered(self) -> Iterator[None]:
        self.raw_sql("SET preserve_insertion_order = false")
        try:
            yield
        finally:
            self.raw_sql("SET preserve_insertion_order = true")
