"""Property test: timestamps written in any format and zone load as the same UTC instant."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.ingest import ingest
from nextbest.warehouse import Warehouse

FORMATS = ["%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y%m%d%H%M%S"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]
moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2035, 12, 31))


def _unambiguous(local: dt.datetime, zone: str) -> bool:
    """Skip wall-clock times that do not exist or happen twice at a DST change."""
    tz = ZoneInfo(zone)
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    return (
        first.utcoffset() == second.utcoffset()
        and first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == local
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(moments.map(lambda d: d.replace(microsecond=0)), min_size=1, max_size=8),
    fmt=st.sampled_from(FORMATS),
    zone=st.sampled_from(ZONES),
)
def test_formatted_local_times_become_utc(
    tmp_path: Path, values: list[dt.datetime], fmt: str, zone: str
) -> None:
    values = [v for v in values if _unambiguous(v, zone)]
    if not values:
        return
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis reuses tmp_path
    lines = ["id,when"] + [f"C{i},{v.strftime(fmt)}" for i, v in enumerate(values)]
    (folder / "c.csv").write_text("\n".join(lines) + "\n")
    (folder / "m.yaml").write_text(
        f"source: {{timezone: {zone}}}\n"
        f"tables:\n  customers:\n    columns:\n      customer_id: id\n"
        f"      signup_at: {{from: when, format: '{fmt}'}}\n"
    )
    with Warehouse(folder / "w.duckdb", threads=1) as wh:
        report = ingest(wh, folder / "c.csv", folder / "m.yaml")
        got = wh.execute(wh.table("customers").order_by("customer_id"))
    assert report.totals["quarantined"] == 0
    expected = {
        f"C{i}": v.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC).replace(tzinfo=None)
        for i, v in enumerate(values)
    }
    assert {r.customer_id: r.signup_at.to_pydatetime() for r in got.itertuples()} == expected
