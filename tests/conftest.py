"""Shared fixtures: a real DuckDB warehouse in a temporary folder, file writers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nextbest.warehouse import Warehouse

os.environ.setdefault("NEXTBEST_WAREHOUSE__THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "wh" / "warehouse.duckdb", threads=1) as warehouse:
        yield warehouse


@pytest.fixture
def write(tmp_path: Path):
    """write("name.csv", text) -> path of a new file under tmp_path/src."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
