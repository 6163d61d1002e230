"""Compiled statements kept in the warehouse: build and compile a query once, replay it.

Building an Ibis expression and compiling it to SQL costs tens of milliseconds a
query, whatever the data. A job that runs the same queries every day (only the
moment they are about changes) can keep their SQL instead: :class:`Statements`
compiles each statement the first time it is asked for, stores it in the table
``_compiled_statements`` under a key, and on later runs executes the stored SQL
without building anything.

What changes between runs is bound as *parameters* (see :meth:`Statements.bind`):
the stored SQL holds a marker for each, replaced by the value as a literal when the
statement runs, so the SQL kept stays the same while the engine plans each run with
the values themselves (cheaper to plan than reading them from a table). They are
also kept as a one-row parameters table. Values that the expressions hold as
literals can be turned into parameters when compiling (``substitute``). The key
must name everything else the SQL depends on; :func:`schema_key` covers the columns
of the tables read.

>>> import tempfile, pathlib, ibis, datetime as dt
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     for day in (1, 2):
...         run = Statements(wh, "example")
...         run.bind(when=(dt.datetime(2025, 1, day), "timestamp(6)"))
...         when = run.param("when")
...         rows = run.query("day", lambda: run.table("params").select(d=when.day()))
...         run.save()
...         print(rows, run.compiled)
[{'d': 1}] 1
[{'d': 2}] 0
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import sqlglot as sg

from nextbest.warehouse.connection import records
from nextbest.warehouse.sources import SCRATCH_PREFIX
from nextbest.warehouse.writes import delete_matching

if TYPE_CHECKING:
    from nextbest.warehouse.connection import Warehouse

__all__ = ["CACHE_TABLE", "Statements", "schema_key"]

CACHE_TABLE = "_compiled_statements"
Substitutions = Mapping[ir.Value, ir.Value]
PARAMS = "params"  # the parameters table (a temporary table, see Statements.bind)
MARK = "\x1fnextbest-parameter:"  # what a parameter's marker in stored SQL starts with


def _literal(value: Any) -> str:
    """``value`` as the text of an SQL string literal (a marker's replacement)."""
    if value is None:
        return "NULL"
    if isinstance(value, datetime.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        text = str(value)
    else:
        raise TypeError(f"a parameter cannot hold {type(value).__name__} values")
    return "'" + text.replace("'", "''") + "'"


def schema_key(wh: Warehouse, names: list[str]) -> str:
    """A fingerprint of the columns and types of the stored tables ``names``."""
    quoted = ", ".join(f"'{n}'" for n in names)
    rows = wh.raw_sql(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        f"AND table_name IN ({quoted}) ORDER BY table_name, column_index"
    ).fetchall()
    versions = (ibis.__version__, sg.__version__)
    return hashlib.sha256(json.dumps([versions, rows], default=str).encode()).hexdigest()


class Statements:
    """The statements of one job, each compiled once per ``key`` and replayed after.

    Statements are named by labels, unique within the key. Scratch tables made with
    :meth:`stage` have fixed names (so stored SQL can read them) and are dropped by
    :meth:`Warehouse.clear_scratch`. ``substitute`` maps expressions (typically
    literals the expressions were built with) to the expressions that replace them
    before compiling (or a function giving that mapping, called when compiling).
    Call :meth:`save` once the job succeeded; ``key=None`` keeps nothing (every
    statement compiled every time).
    """

    def __init__(
        self,
        wh: Warehouse,
        key: str | None,
        substitute: Substitutions | Callable[[], Substitutions] | None = None,
    ) -> None:
        self.wh = wh
        self.key = hashlib.sha256(key.encode()).hexdigest() if key is not None else None
        self.substitute = substitute
        self.compiled = 0  # statements compiled (not found stored) by this object
        self.timings: dict[str, float] = {}  # seconds each statement label took to run
        self._stored = self._load()
        self._new: dict[str, str] = {}
        self._tables: dict[str, ibis.Table] = {}
        self._params: dict[str, tuple[Any, str]] = {}

    # -- the stored SQL ----------------------------------------------------------------
    def _load(self) -> dict[str, str]:
        if self.key is None or not self.wh.has_table(CACHE_TABLE):
            return {}
        rows = self.wh.raw_sql(
            f'SELECT label, sql FROM "{CACHE_TABLE}" WHERE key = ?', params=[self.key]
        ).fetchall()
        return dict(rows)

    def save(self) -> None:
        """Store the statements compiled since the last save under the key."""
        if self.key is None or not self._new:
            return
        if not self.wh.has_table(CACHE_TABLE):
            self.wh.raw_sql(
                f'CREATE TABLE "{CACHE_TABLE}" (key VARCHAR, label VARCHAR, sql VARCHAR)'
            )
        for label, sql in self._new.items():
            self.wh.raw_sql(
                f'DELETE FROM "{CACHE_TABLE}" WHERE key = ? AND label = ?',
                params=[self.key, label],
            )
            self.wh.raw_sql(
                f'INSERT INTO "{CACHE_TABLE}" VALUES (?, ?, ?)', params=[self.key, label, sql]
            )
        self._stored.update(self._new)
        self._new = {}

    @property
    def reused(self) -> int:
        """How many stored statements there are for the key (before this run's)."""
        return len(self._stored)

    def sql(self, label: str, make: Callable[[], str]) -> str:
        """The SQL of statement ``label``: stored, else ``make()`` (and kept to save)."""
        if label in self._stored:
            return self._stored[label]
        if label not in self._new:
            self._new[label] = make()
            self.compiled += 1
        return self._new[label]

    def compile(self, expr: ibis.Expr) -> str:
        """``expr`` as SQL, with the substitutions made."""
        found = self.substitute() if callable(self.substitute) else self.substitute
        if found:
            mapping = {k.op(): v.op() for k, v in found.items()}
            expr = expr.op().replace(mapping).to_expr()
        return str(self.wh.con.compile(expr))

    # -- parameters ---------------------------------------------------------------------
    def bind(self, **values: tuple[Any, str]) -> None:
        """Bind the parameters ``name=(value, ibis type)``, and make the parameters
        table hold them as one row."""
        self._params = dict(values)
        mapper = self.wh.con.compiler.type_mapper
        columns = ", ".join(
            f'CAST(? AS {mapper.to_string(dt.dtype(kind))}) AS "{name}"'
            for name, (_, kind) in values.items()
        )
        self.wh.raw_sql(
            f'CREATE OR REPLACE TEMP TABLE "{self.name(PARAMS)}" AS SELECT {columns}',
            params=[v for v, _ in values.values()],
        )
        self._tables.pop(PARAMS, None)

    def param(self, name: str) -> ibis.Value:
        """Parameter ``name`` (see :meth:`bind`) as a scalar for any expression: its
        marker, which takes the bound value each time a statement runs."""
        if name not in self._params:
            raise KeyError(f"no parameter {name!r} is bound")
        return ibis.literal(f"{MARK}{name}").cast(self._params[name][1])

    def _render(self, sql: str) -> str:
        """``sql`` with each parameter's marker replaced by its bound value."""
        if MARK not in sql:
            return sql
        for name, (value, _) in self._params.items():
            sql = sql.replace(f"'{MARK}{name}'", _literal(value))
        if MARK in sql:
            raise KeyError(f"a statement reads a parameter that is not bound: {sql[:200]}")
        return sql

    # -- statements ---------------------------------------------------------------------
    @staticmethod
    def name(table: str) -> str:
        """The stored name of scratch table ``table``."""
        return f"{SCRATCH_PREFIX}job_{table}"

    def table(self, name: str) -> ibis.Table:
        """Scratch table ``name`` (made by :meth:`stage` or :meth:`bind`)."""
        if name not in self._tables:
            self._tables[name] = self.wh.table(self.name(name))
        return self._tables[name]

    def stage(
        self, name: str, build: Callable[[], ibis.Table], *, label: str | None = None
    ) -> None:
        """Make scratch table ``name`` hold ``build()``'s rows.

        ``label`` names the statement when a table is made by several (default: the
        name).
        """
        target = self.name(name)

        def make() -> str:
            # made with the expression's column types, then filled (as Ibis does)
            expr = build()
            mapper = self.wh.con.compiler.type_mapper
            columns = ", ".join(
                f'"{c}" {mapper.to_string(t)}{"" if t.nullable else " NOT NULL"}'
                for c, t in expr.schema().items()
            )
            names = ", ".join(f'"{c}"' for c in expr.columns)
            return (
                f'CREATE OR REPLACE TEMP TABLE "{target}" ({columns});\n'
                f'INSERT INTO "{target}" ({names}) {self.compile(expr)}'
            )

        self.execute(f"stage:{label or name}", make)
        self._tables.pop(name, None)

    def execute(self, label: str, make: Callable[[], str], params: list[Any] | None = None) -> None:
        """Run statement ``label`` (SQL from ``make`` the first time) with ``params``
        for its ``?`` marks."""
        sql = self._render(self.sql(label, make))
        started = time.perf_counter()
        self.wh.raw_sql(sql, params=params)
        self._took(label, started)

    def query(self, label: str, build: Callable[[], ibis.Expr]) -> list[dict[str, Any]]:
        """The rows of query ``label`` as dicts of Python values."""
        sql = self._render(self.sql(label, lambda: self.compile(build())))
        started = time.perf_counter()
        rows = records(self.wh.raw_sql(sql))
        self._took(label, started)
        return rows

    def _took(self, label: str, started: float) -> None:
        self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - started

    def insert(self, label: str, target: str, build: Callable[[], ibis.Table]) -> None:
        """Append ``build()``'s rows to stored table ``target`` (matched by column name)."""

        def make() -> str:
            columns = self.wh.table(target).columns
            cols = ", ".join(f'"{c}"' for c in columns)
            return f'INSERT INTO "{target}" ({cols}) {self.compile(build().select(*columns))}'

        with self.wh._unordered():
            self.execute(label, make)

    def upsert(self, target: str, name: str, keys: list[str]) -> None:
        """Replace the rows of ``target`` whose ``keys`` are in scratch table ``name`` by
        its rows (see :func:`nextbest.warehouse.writes.upsert`)."""
        source = self.name(name)
        self.execute(f"upsert-delete:{target}", lambda: delete_matching(target, source, keys))
        self.insert(f"upsert-insert:{target}", target, lambda: self.table(name))
