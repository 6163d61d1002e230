"""Incremental steps replay their compiled SQL, and the replay equals a full recompute."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from nextbest.features import build_snapshot, default_as_of
from nextbest.features.incremental import update_snapshot
from nextbest.ingest import ingest
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse
from nextbest.warehouse.statements import CACHE_TABLE, Statements

from .test_incremental import mismatches, stored

TS = "timestamp(6)"


@pytest.fixture(scope="module")
def small_wh(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("compiled")
    write_store(generate(customers=150, days=120, seed=5), root / "store")
    wh = Warehouse(root / "w.duckdb", threads=1)
    ingest(wh, root / "store")
    yield wh
    wh.close()


def test_a_later_step_compiles_nothing_and_equals_a_full_recompute(small_wh, monkeypatch):
    wh = small_wh
    day = default_as_of(wh) - dt.timedelta(days=12)
    update_snapshot(wh, day, full=True)
    first = update_snapshot(wh, day + dt.timedelta(days=1))  # compiles and keeps the SQL
    assert first.mode == "incremental"
    assert wh.count(CACHE_TABLE) > 0
    compiled: list[str] = []
    original = Statements.compile

    def counting(self: Statements, expr: ibis.Expr) -> str:
        compiled.append(type(expr.op()).__name__)
        return original(self, expr)

    monkeypatch.setattr(Statements, "compile", counting)
    for days in (2, 4):  # one day, then two at once
        nxt = day + dt.timedelta(days=days)
        result = update_snapshot(wh, nxt)
        assert result.mode == "incremental", result.reason
        if days == 2:
            assert compiled == []  # (new top categories would give the snapshot new SQL)
        full = wh.to_pandas(build_snapshot(wh, nxt)).reset_index(drop=True)
        assert mismatches(full, stored(wh, nxt)[full.columns]) == {}


def test_statements_replay_with_new_parameters(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.raw_sql(
            "INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES "
            "('o1', 'c1', '2025-01-01 10:00', 5), ('o2', 'c1', '2025-01-03 10:00', 7)"
        )
        seen = []
        for day in (2, 4, 2):
            cut = dt.datetime(2025, 1, day)
            run = Statements(wh, "orders before", substitute=None)
            run.bind(cut=(cut, TS))
            built = ibis.literal(cut, type=TS)  # the literal the expression is built with
            run.substitute = lambda run=run, built=built: {built: run.param("cut")}
            orders = wh.table("orders")

            def before(orders: ibis.Table = orders, built: ibis.Value = built) -> ibis.Table:
                kept = orders.filter(orders.ordered_at < built)
                return kept.aggregate(n=kept.count(), total=kept.total.sum())

            rows = run.query("orders", before)
            run.save()
            seen.append((rows[0]["n"], float(rows[0]["total"]), run.compiled))
        # compiled once; the stored SQL reads the parameter, not the first literal
        assert seen == [(1, 5.0, 1), (2, 12.0, 0), (1, 5.0, 0)]


def test_statements_without_a_key_keep_nothing(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        for _ in range(2):
            run = Statements(wh, None)
            run.bind(x=(3, "int64"))
            x = run.param("x")
            params = run.table("params")
            assert run.query("x", lambda p=params, x=x: p.select(y=x + 1)) == [{"y": 4}]
            run.save()
            assert run.compiled == 1
        assert CACHE_TABLE not in wh.list_tables()


def test_parameters_take_their_values_as_literals_and_must_be_bound(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        for name, day in (("O'Brien; DROP TABLE orders", 2), ("plain", 5)):
            run = Statements(wh, "parameters")
            run.bind(name=(name, "string"), day=(dt.date(2025, 1, day), "date"))
            label, when = run.param("name"), run.param("day")
            params = run.table("params")
            rows = run.query("echo", lambda p=params, a=label, b=when: p.select(a=a, b=b.day()))
            run.save()
            # the value itself comes back, quotes and all, through the stored SQL
            assert rows == [{"a": name, "b": day}]
        assert wh.has_table("orders")
        run = Statements(wh, "parameters")
        run.bind(name=("x", "string"))  # no day: the stored statement cannot run
        with pytest.raises(KeyError, match="not bound"):
            run.query("echo", lambda: run.table("params"))
        with pytest.raises(KeyError, match="no parameter 'day'"):
            run.param("day")
