"""The quality report's numbers on a small hand-made store."""

from __future__ import annotations

import json
from pathlib import Path

from nextbest.ingest import ingest
from nextbest.quality import quality_report, write_quality_report


def _store(wh, write) -> None:
    ingest(
        wh,
        write(
            "customers.csv",
            "customer_id,email,country\nA,a@x.org,DE\nB,,DE\nC,c@x.org,FR\nC,c@x.org,FR\n",
        ),
    )
    ingest(
        wh,
        write(
            "orders.csv",
            "order_id,customer_id,ordered_at,total\n"
            "O1,A,2025-01-01 10:00:00,10\n"
            "O2,B,2025-01-03 09:00:00,30\n"
            "O3,Z,2025-01-04 09:00:00,5\n"
            "O4,A,not a date,5\n",
        ),
    )


def test_counts_nulls_freshness_duplicates_quarantine(wh, write) -> None:
    _store(wh, write)
    r = quality_report(wh)
    customers, orders = r["tables"]["customers"], r["tables"]["orders"]
    assert customers["rows"] == 3
    assert customers["columns"]["email"]["null_rate"] == round(1 / 3, 6)
    assert customers["columns"]["email"]["nulls"] == 1
    assert customers["columns"]["country"]["top"] == [
        {"value": "DE", "count": 2},
        {"value": "FR", "count": 1},
    ]
    assert orders["earliest"] == "2025-01-01 10:00:00"
    assert orders["latest"] == "2025-01-03 09:00:00"
    assert orders["columns"]["total"]["min"] == 10 and orders["columns"]["total"]["max"] == 30
    assert sum(orders["columns"]["total"]["histogram"]["counts"]) == 2
    assert [d["rows"] for d in orders["daily"]] == [1, 1]
    assert r["loads"]["customers"]["duplicates_removed"] == 1
    assert r["loads"]["orders"]["quarantined"] == 2
    reasons = {(q["table"], q["reason"], q["field"]): q["rows"] for q in r["quarantine"]}
    assert reasons == {
        ("orders", "unknown_customer", "customer_id"): 1,
        ("orders", "invalid_timestamp", "ordered_at"): 1,
    }
    assert r["quarantined_rows"] == 2


def test_html_and_json_files(wh, write, tmp_path: Path) -> None:
    _store(wh, write)
    html, js = write_quality_report(quality_report(wh), tmp_path / "reports")
    data = json.loads(js.read_text())
    assert data["tables"]["orders"]["rows"] == 2
    page = html.read_text()
    assert page.count("data:image/png;base64,") >= 4  # rows, daily, quarantine, nulls, histograms
    assert "unknown_customer" in page


def test_report_escapes_data(wh, write, tmp_path: Path) -> None:
    text = "customer_id,country\n" + "".join(f"C{i},<script>alert(1)</script>\n" for i in range(3))
    ingest(wh, write("customers.csv", text))
    html, _ = write_quality_report(quality_report(wh), tmp_path / "reports")
    page = html.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
