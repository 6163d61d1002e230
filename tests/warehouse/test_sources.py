"""Source readers: exact line numbers, rejected lines, format checks."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.warehouse import Warehouse

KINDS = st.lists(st.sampled_from(["good", "extra", "blank_value"]), min_size=1, max_size=25)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=KINDS)
def test_csv_line_numbers_survive_rejected_lines(tmp_path: Path, kinds: list[str]) -> None:
    lines = ["id,value"]
    for i, kind in enumerate(kinds):
        lines.append({"good": f"r{i},{i}", "extra": f"r{i},{i},x", "blank_value": f"r{i},"}[kind])
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    with Warehouse(tmp_path / "w.duckdb", threads=1) as wh:
        table, rejects = wh.read_source(path, "csv")
        got = wh.execute(table.order_by("_line"))
    expected_rejected = [i + 2 for i, k in enumerate(kinds) if k == "extra"]
    expected_kept = {f"r{i}": i + 2 for i, k in enumerate(kinds) if k != "extra"}
    assert sorted(rejects.column("line").to_pylist()) == expected_rejected
    assert dict(zip(got["id"], got["_line"], strict=True)) == expected_kept


def test_whitespace_reader_splits_runs_of_blanks_and_flags_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(b" a  b\r\n\n   c d   e\r\n f g\r\n")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        table, _ = wh.read_source(path, "whitespace", header=False, columns=["x", "y"])
        got = wh.execute(table.order_by("_line")).to_dict("records")
    assert [(r["_line"], r["x"], r["y"]) for r in got] == [
        (1, "a", "b"),
        (3, "c", "d"),
        (4, "f", "g"),
    ]
    assert [r["_malformed"] for r in got][1] == "more than 2 columns"


def test_parquet_keeps_types_and_row_numbers(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"n": [3, 4, 5]}), tmp_path / "p.parquet", row_group_size=1)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        table, _ = wh.read_source(tmp_path / "p.parquet", "parquet")
        got = wh.execute(table.order_by("_line"))
    assert list(got["_line"]) == [1, 2, 3]
    assert list(got["n"]) == [3, 4, 5]
    assert table.n.type().is_integer()
