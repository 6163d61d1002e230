"""Ingestion end to end on a real DuckDB file: mapping, validation, dedupe, quarantine."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from helpers import rows

from nextbest.config import IngestSettings
from nextbest.errors import MappingError, SourceError
from nextbest.ingest import ingest
from nextbest.warehouse import Warehouse

CUSTOMERS = (
    "customer_id,email,first_name,signup_at\n"
    "C1, Ann@Example.COM ,Ann,2025-01-02 10:00:00\n"
    "C2,bo@x.org,Bo,2025-02-03\n"
)


def mapping(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def quarantine(wh: Warehouse) -> list[dict]:
    return rows(wh, "_quarantine", ["target", "line"])


def test_canonical_csv_loads_and_cleans_email(wh, write) -> None:
    report = ingest(wh, write("customers.csv", CUSTOMERS))
    got = rows(wh, "customers")
    assert [r["email"] for r in got] == ["ann@example.com", "bo@x.org"]
    assert got[1]["signup_at"] == dt.datetime(2025, 2, 3)
    assert report.tables["customers"].loaded == 2
    assert report.totals == {"read": 2, "loaded": 2, "duplicates": 0, "quarantined": 0}


def test_loading_twice_adds_nothing(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    bad = write(
        "orders.csv", "order_id,customer_id,ordered_at,total\nO1,C1,2025-03-01,10\nO2,C1,nope,5\n"
    )
    ingest(wh, bad)
    before = {t: wh.count(t) for t in ("customers", "orders", "_quarantine")}
    again = ingest(wh, bad)
    assert {t: wh.count(t) for t in ("customers", "orders", "_quarantine")} == before
    assert again.tables["orders"].loaded == 0
    assert again.tables["orders"].duplicates == 1
    assert again.tables["orders"].quarantined == 1


def test_incremental_load_appends_only_new_rows(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    ingest(wh, write("orders.csv", "order_id,customer_id,ordered_at,total\nO1,C1,2025-03-01,10\n"))
    report = ingest(
        wh,
        write(
            "orders.csv",
            "order_id,customer_id,ordered_at,total\nO1,C1,2025-03-01,10\nO2,C2,2025-03-02,7.5\n",
        ),
    )
    assert report.tables["orders"].loaded == 1
    assert [r["order_id"] for r in rows(wh, "orders")] == ["O1", "O2"]


def test_duplicates_within_a_file_keep_the_first(wh, write) -> None:
    text = "customer_id,first_name\nC1,first\nC2,x\nC1,second\n"
    report = ingest(wh, write("customers.csv", text))
    assert report.tables["customers"].duplicates == 1
    assert rows(wh, "customers")[0]["first_name"] == "first"


def test_a_failing_first_line_does_not_hide_a_later_good_one(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    text = (
        "order_id,customer_id,ordered_at,total\n"
        "O1,C1,not a time,1\nO1,C1,2025-03-01,2\nO1,C2,2025-03-02,3\nO2,C9,2025-03-01,4\n"
    )
    report = ingest(wh, write("orders.csv", text)).tables["orders"]
    assert (report.read, report.loaded, report.duplicates, report.quarantined) == (4, 1, 1, 2)
    assert [(r["order_id"], r["total"]) for r in rows(wh, "orders")] == [("O1", Decimal("2"))]
    assert [(r["line"], r["reason"]) for r in quarantine(wh)] == [
        (2, "invalid_timestamp"),
        (5, "unknown_customer"),
    ]


def test_repeats_of_a_key_of_several_columns_keep_the_first_line(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    ingest(wh, write("products.csv", "product_id,price\nP1,2.5\nP2,3\n"))
    ingest(wh, write("orders.csv", "order_id,customer_id,ordered_at,total\nO1,C1,2025-03-01,5\n"))
    items = (
        "order_id,line_no,product_id,quantity,unit_price\n"
        "O1,1,P1,1,2.5\nO1,2,P2,1,3\nO1,1,P2,9,3\nO1,2,P1,9,2.5\n"
    )
    report = ingest(wh, write("order_items.csv", items)).tables["order_items"]
    assert (report.loaded, report.duplicates) == (2, 2)
    got = rows(wh, "order_items", "line_no")
    assert [(r["line_no"], r["product_id"], r["quantity"]) for r in got] == [
        (1, "P1", 1),
        (2, "P2", 1),
    ]


def test_parquet_repeats_and_failures_keep_line_and_first_row(wh, write, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ingest(wh, write("customers.csv", CUSTOMERS))
    n = 5_000
    ids = [f"E{i}" for i in range(n)] + ["E7", " E8 ", "E9"]
    kinds = ["page_view"] * n + ["search", "search", "teleport"]
    path = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "event_id": ids,
                "customer_id": ["C1"] * len(ids),
                "event_type": kinds,
                "occurred_at": pa.array([dt.datetime(2025, 1, 1)] * len(ids)),
            }
        ),
        path,
    )
    report = ingest(wh, path).tables["events"]
    assert (report.read, report.loaded, report.duplicates, report.quarantined) == (
        n + 3,
        n,
        2,
        1,
    )
    assert [(r["line"], r["reason"]) for r in quarantine(wh)] == [(n + 3, "not_allowed")]
    kept = wh.execute(wh.table("events").filter(wh.table("events").event_id.isin(["E7", "E8"])))
    assert set(kept["event_type"]) == {"page_view"}
    again = ingest(wh, path).tables["events"]
    assert (again.loaded, again.duplicates, again.quarantined) == (0, n + 2, 1)
    assert wh.count("_quarantine") == 1


def test_a_source_that_changes_while_it_loads_loads_nothing(wh, write) -> None:
    path = write("customers.csv", CUSTOMERS)

    def progress(step: str, done: int, total: int) -> None:
        if step == "read customers":  # checked, not yet written
            path.write_text(CUSTOMERS + "C3,c3@x.org,Cy,2025-03-03\n")

    with pytest.raises(SourceError, match="changed while it was being loaded"):
        ingest(wh, path, progress=progress)
    assert wh.count("customers") == wh.count("_loads") == 0


def test_repeated_products_on_separate_lines_are_kept(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    ingest(wh, write("products.csv", "product_id,price\nP1,2.5\n"))
    ingest(wh, write("orders.csv", "order_id,customer_id,ordered_at,total\nO1,C1,2025-03-01,5\n"))
    items = "order_id,line_no,product_id,quantity,unit_price\nO1,1,P1,1,2.5\nO1,2,P1,1,2.5\n"
    ingest(wh, write("order_items.csv", items))
    assert wh.count("order_items") == 2


def test_money_is_decimal(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    text = (
        "order_id,customer_id,ordered_at,total\n"
        "O1,C1,2025-03-01,0.1\nO2,C1,2025-03-01,0.2\nO3,C1,2025-03-01,19.995\n"
    )
    ingest(wh, write("orders.csv", text))
    total = wh.execute(wh.table("orders").total.sum())
    assert Decimal(str(total)) == Decimal("20.295")


def test_every_contract_violation_is_quarantined_with_line_and_field(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    text = (
        "order_id,customer_id,ordered_at,total\n"
        "O1,C1,2025-03-01,10\n"  # line 2: good
        ",C1,2025-03-01,10\n"  # 3: missing order_id
        "O3,C1,2025-13-45 25:00,10\n"  # 4: bad timestamp
        "O4,C1,2025-03-01,abc\n"  # 5: wrong type
        "O5,C1,2025-03-01,-3\n"  # 6: negative total
        "O6,C9,2025-03-01,3\n"  # 7: unknown customer
        "O7,C2,2025-03-02,4\n"  # 8: good
    )
    report = ingest(wh, write("orders.csv", text))
    t = report.tables["orders"]
    assert (t.read, t.loaded, t.quarantined) == (7, 2, 5)
    assert t.reasons == {
        "missing": 1,
        "invalid_timestamp": 1,
        "invalid_type": 1,
        "out_of_range": 1,
        "unknown_customer": 1,
    }
    got = {(q["line"], q["reason"], q["field"]) for q in quarantine(wh)}
    assert got == {
        (3, "missing", "order_id"),
        (4, "invalid_timestamp", "ordered_at"),
        (5, "invalid_type", "total"),
        (6, "out_of_range", "total"),
        (7, "unknown_customer", "customer_id"),
    }
    q = {r["line"]: r for r in quarantine(wh)}
    assert q[5]["source"].endswith("orders.csv")
    assert "abc" in q[5]["detail"]
    assert json.loads(q[5]["record"])["total"] == "abc"


def test_malformed_csv_lines_are_quarantined_and_the_rest_keeps_its_line(wh, write) -> None:
    text = "customer_id,first_name\nC1,a\nC2,b,extra\nC3,c\nC4,d,e,f\nC5,e\n"
    report = ingest(wh, write("customers.csv", text))
    assert report.tables["customers"].loaded == 3
    assert [r["customer_id"] for r in rows(wh, "customers")] == ["C1", "C3", "C5"]
    q = quarantine(wh)
    assert [(r["line"], r["reason"]) for r in q] == [(3, "malformed_row"), (5, "malformed_row")]
    assert q[0]["record"] == "C2,b,extra"


def test_enum_and_custom_event_types(wh, write) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    text = (
        "event_id,customer_id,event_type,occurred_at\n"
        "E1,C1,product_view,2025-03-01 10:00:00\n"
        "E2,C1,rating,2025-03-01 10:00:00\n"
    )
    src = write("events.csv", text)
    report = ingest(wh, src)
    assert report.tables["events"].reasons == {"not_allowed": 1}
    ingest(wh, src, settings=IngestSettings(event_types=["rating"]))
    assert wh.count("events") == 2


def test_reference_checks_can_be_switched_off(wh, write) -> None:
    src = write("orders.csv", "order_id,customer_id,ordered_at,total\nO1,C404,2025-03-01,1\n")
    assert ingest(wh, src).tables["orders"].quarantined == 1
    assert (
        ingest(wh, src, settings=IngestSettings(check_references=False)).tables["orders"].loaded
        == 1
    )


def test_mapping_renames_casts_formats_zones_maps_and_derives(wh, write, tmp_path) -> None:
    src = write(
        "crm.csv",
        "ID;Mail;Born;Joined;Land;Vip\n"
        "7;  X@Y.COM;31.12.1990;2025-06-01 12:00;Deutschland;1\n"
        "8;z@y.com;01.01.2000;2025-01-01 12:00;France;0\n",
    )
    m = mapping(
        tmp_path / "m.yaml",
        {
            "source": {"format": "csv", "delimiter": ";", "timezone": "Europe/Berlin"},
            "tables": {
                "customers": {
                    "columns": {
                        "customer_id": {"expr": "'crm-' || ID"},
                        "email": "Mail",
                        "birth_date": {"from": "Born", "format": "%d.%m.%Y"},
                        "signup_at": {"from": "Joined", "format": "%Y-%m-%d %H:%M"},
                        "country": {
                            "from": "Land",
                            "values": {"Deutschland": "DE", "France": "FR"},
                        },
                        "attributes": {"from": ["Vip", "Land"]},
                    }
                }
            },
        },
    )
    ingest(wh, src, m)
    got = rows(wh, "customers")
    assert got[0]["customer_id"] == "crm-7"
    assert got[0]["email"] == "x@y.com"
    assert str(got[0]["birth_date"])[:10] == "1990-12-31"
    assert got[0]["signup_at"] == dt.datetime(2025, 6, 1, 10, 0)  # CEST is UTC+2
    assert got[1]["signup_at"] == dt.datetime(2025, 1, 1, 11, 0)  # CET is UTC+1
    assert [r["country"] for r in got] == ["DE", "FR"]
    assert got[0]["attributes"] == {"Vip": "1", "Land": "Deutschland"}


def test_iso_offsets_and_epochs_become_utc(wh, write, tmp_path) -> None:
    src = write(
        "c.csv", "id,t,e\nA,2025-03-01T10:00:00+02:00,1740823200\nB,2025-03-01T10:00:00Z,0\n"
    )
    m = mapping(
        tmp_path / "m.yaml",
        {
            "tables": {
                "customers": {"columns": {"customer_id": "id", "signup_at": "t"}},
                "orders": {
                    "columns": {
                        "order_id": "id",
                        "customer_id": "id",
                        "ordered_at": {"from": "e", "format": "epoch_s"},
                        "total": {"value": 1},
                    }
                },
            }
        },
    )
    ingest(wh, src, m)
    assert [r["signup_at"] for r in rows(wh, "customers")] == [
        dt.datetime(2025, 3, 1, 8, 0),
        dt.datetime(2025, 3, 1, 10, 0),
    ]
    assert rows(wh, "orders")[0]["ordered_at"] == dt.datetime(2025, 3, 1, 10, 0)


def test_defaults_fill_missing_values(wh, write, tmp_path) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    src = write("o.csv", "id,who,when,amount,cur\nO1,C1,2025-01-01,3,\n")
    m = mapping(
        tmp_path / "m.yaml",
        {
            "tables": {
                "orders": {
                    "columns": {
                        "order_id": "id",
                        "customer_id": "who",
                        "ordered_at": "when",
                        "total": "amount",
                        "currency": {"from": "cur", "default": "EUR"},
                    }
                }
            }
        },
    )
    ingest(wh, src, m)
    assert rows(wh, "orders")[0]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("data", "match", "field"),
    [
        ({"tables": {"orders": {"columns": {"order_id": "nope"}}}}, "no column 'nope'", "nope"),
        ({"tables": {"orders": {"columns": {"colour": "a"}}}}, "no canonical column", None),
        ({"tables": {"purchases": {}}}, "unknown canonical table", None),
        (
            {"tables": {"customers": {"columns": {"customer_id": {"expr": "a +* b"}}}}},
            "not valid SQL",
            None,
        ),
        ({"tables": {"orders": {"columns": {"order_id": "a"}}}}, "customer_id is not mapped", None),
    ],
)
def test_mapping_mistakes_are_clear_errors(wh, write, tmp_path, data, match, field) -> None:
    src = write("x.csv", "a,b\n1,2\n")
    with pytest.raises(MappingError, match=match) as err:
        ingest(wh, src, mapping(tmp_path / "m.yaml", data))
    assert "x.csv" in str(err.value) or "m.yaml" in str(err.value)
    if field:
        assert err.value.field == field


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("customers.csv", b"", "empty"),
        ("customers.csv", b"customer_id\n", "no data rows"),
        ("customers.csv", b"PAR1\x00\x01binary", "Parquet"),
        ("customers.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        ("customers.parquet", b"a,b\n1,2\n", "not a Parquet file"),
        ("customers.xlsx", b"a", "cannot tell the format"),
        ("customers.json", b'[{"customer_id": "C1"}]', "JSON array"),
    ],
)
def test_unreadable_sources_are_clear_errors(wh, tmp_path, name, content, match) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=match) as err:
        ingest(wh, path)
    assert name in str(err.value)


def test_file_without_mapping_must_be_named_after_a_table(wh, write) -> None:
    with pytest.raises(MappingError, match="--mapping"):
        ingest(wh, write("export.csv", "a\n1\n"))


def test_missing_file_is_a_clear_error(wh, tmp_path) -> None:
    with pytest.raises(SourceError, match="not found"):
        ingest(wh, tmp_path / "nope.csv", Path(__file__).parents[2] / "examples" / "cdnow.yaml")


def test_formats_tsv_whitespace_jsonl_parquet_sqlite(wh, write, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ingest(wh, write("customers.tsv", "customer_id\tfirst_name\nT1\tt\n"))
    ingest(wh, write("customers.jsonl", '{"customer_id": "J1"}\n{broken\n{"customer_id": "J2"}\n'))
    ws = write("c.txt", "  W1   w  \n W2  v\n")
    ingest(
        wh,
        ws,
        mapping(
            tmp_path / "ws.yaml",
            {
                "source": {"format": "whitespace", "header": False, "columns": ["id", "n"]},
                "tables": {"customers": {"columns": {"customer_id": "id", "first_name": "n"}}},
            },
        ),
    )
    pq.write_table(pa.table({"customer_id": ["P1", "P2"]}), tmp_path / "customers.parquet")
    ingest(wh, tmp_path / "customers.parquet")
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE people (pid INTEGER, name TEXT)")
        con.executemany("INSERT INTO people VALUES (?, ?)", [(1, "s"), (2, "q")])
    ingest(
        wh,
        db,
        mapping(
            tmp_path / "sq.yaml",
            {
                "source": {
                    "format": "sqlite",
                    "query": "SELECT pid, name FROM people ORDER BY pid",
                },
                "tables": {
                    "customers": {
                        "columns": {"customer_id": {"expr": "'S' || pid"}, "first_name": "name"}
                    }
                },
            },
        ),
    )
    ids = sorted(r["customer_id"] for r in rows(wh, "customers"))
    assert ids == ["J1", "J2", "P1", "P2", "S1", "S2", "T1", "W1", "W2"]
    q = quarantine(wh)
    assert [(r["line"], r["reason"]) for r in q] == [(2, "malformed_row")]


def test_a_failure_half_way_leaves_the_warehouse_as_it_was(wh, tmp_path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id\nC1\nC2\n")
    (folder / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,total\nO1,C1,2025-01-01,1\n"
    )
    (folder / "events.csv").write_text("event_id\nE1\n")  # not mappable: no event_type column
    with pytest.raises(MappingError):
        ingest(wh, folder)
    assert wh.count("customers") == wh.count("orders") == wh.count("_loads") == 0


def test_canonical_folder_loads_in_reference_order(wh, tmp_path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,total\nO1,C1,2025-01-01,1\n"
    )
    (folder / "customers.csv").write_text("customer_id\nC1\n")
    report = ingest(wh, folder)
    assert list(report.tables) == ["customers", "orders"]
    assert wh.count("orders") == 1
    log = rows(wh, "_loads", "target")
    assert [(r["target"], r["loaded"]) for r in log] == [("customers", 1), ("orders", 1)]


def test_no_scratch_tables_are_left_behind(wh, write, tmp_path) -> None:
    ingest(wh, write("customers.csv", CUSTOMERS))
    with pytest.raises(MappingError):
        ingest(wh, write("orders.csv", "order_id\nO1\n"))
    leftovers = wh.raw_sql(
        "SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    assert leftovers == []


def test_latin1_csv_needs_its_encoding_named(wh, tmp_path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,first_name\nC1,Jürgen\n".encode("latin-1"))
    with pytest.raises(SourceError, match="not UTF-8"):
        ingest(wh, path)
    m = mapping(
        tmp_path / "m.yaml", {"source": {"encoding": "latin-1"}, "tables": {"customers": {}}}
    )
    ingest(wh, path, m)
    assert rows(wh, "customers")[0]["first_name"] == "Jürgen"
