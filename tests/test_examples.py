"""The shipped example mappings load their datasets (small copies always; real ones if present)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from helpers import rows

from nextbest.ingest import ingest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CDNOW = SHARED_DATA / "cdnow" / "CDNOW_master.txt"
MOVIELENS = SHARED_DATA / "movielens-latest-small"


def test_cdnow_layout(wh, tmp_path: Path) -> None:
    path = tmp_path / "cdnow.txt"
    path.write_bytes(
        b" customer_id  date number_of_cds  dollar_value\r\n"
        b" 00001 19970101  1   11.77\r\n"
        b" 00002 19970112  1   12.00\r\n"
        b" 00002 19970112  5   77.00\r\n"
        b" 00003 19970102  2   20.76\r\n"
    )
    report = ingest(wh, path, EXAMPLES / "cdnow.yaml")
    assert report.tables["customers"].loaded == 3
    assert report.tables["orders"].loaded == 4
    got = rows(wh, "orders", "order_id")
    assert [r["order_id"] for r in got] == ["cdnow-2", "cdnow-3", "cdnow-4", "cdnow-5"]
    assert str(got[2]["ordered_at"])[:10] == "1997-01-12"
    assert {r["customer_id"] for r in got} == {"cdnow-00001", "cdnow-00002", "cdnow-00003"}


def test_movielens_layout(wh, tmp_path: Path) -> None:
    movies = tmp_path / "movies.csv"
    movies.write_text(
        'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,"Heat, The",Action\n'
    )
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n2,1,5.0,964982224\n"
    )
    ingest(wh, movies, EXAMPLES / "movielens-movies.yaml")
    ingest(wh, ratings, EXAMPLES / "movielens.yaml")
    products = rows(wh, "products")
    assert [(p["product_id"], p["category"], p["name"]) for p in products] == [
        ("ml-1", "Adventure", "Toy Story (1995)"),
        ("ml-2", "Action", "Heat, The"),
    ]
    events = rows(wh, "events", "event_id")
    assert [e["event_type"] for e in events] == ["rating"] * 3
    assert events[0]["properties"] == {"rating": 4.0}
    assert str(events[0]["occurred_at"]) == "2000-07-30 18:45:03"
    assert wh.count("customers") == 2


@pytest.mark.skipif(not CDNOW.exists(), reason="CDNOW data not present")
def test_real_cdnow(wh) -> None:
    report = ingest(wh, CDNOW, EXAMPLES / "cdnow.yaml")
    assert report.tables["orders"].loaded == 69_659
    assert report.tables["customers"].loaded == 23_570
    assert report.totals["quarantined"] == 0
    total = wh.execute(wh.table("orders").total.sum())
    expected = sum(
        Decimal(line.split()[3]) for line in CDNOW.read_text().splitlines()[1:] if line.strip()
    )
    assert Decimal(str(total)) == expected


@pytest.mark.skipif(not MOVIELENS.exists(), reason="MovieLens data not present")
def test_real_movielens(wh) -> None:
    ingest(wh, MOVIELENS / "movies.csv", EXAMPLES / "movielens-movies.yaml")
    report = ingest(wh, MOVIELENS / "ratings.csv", EXAMPLES / "movielens.yaml")
    assert report.tables["events"].loaded == 100_836
    assert wh.count("customers") == 610
    assert wh.count("products") == 9_742
    assert report.totals["quarantined"] == 0
