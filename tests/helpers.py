"""Small helpers the tests share."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.warehouse import Warehouse

runner = CliRunner()


def rows(wh: Warehouse, table: str, order_by: str | list[str] | None = None) -> list[dict]:
    t = wh.table(table)
    return wh.execute(t.order_by(order_by or t.columns[0])).to_dict("records")


def run(*args: object, code: int = 0) -> str:
    """Invoke the CLI; check its exit code and that no traceback leaked; its stdout."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output + str(result.exception)
    assert "Traceback" not in result.output
    return result.stdout


def run_json(*args: object, code: int = 0) -> dict:
    """Invoke the CLI with ``--json``; the object it printed."""
    payload = json.loads(run(*args, "--json", code=code))
    assert payload["ok"] is (code == 0)
    return payload


def synth_project(root: Path, customers: int, days: int) -> Path:
    """A project at ``root`` holding a synthetic store, generated and ingested by the CLI."""
    data = root / "data"
    run_json("synth", "--customers", customers, "--days", days, "--out", data, "--project", root)
    run_json("ingest", data, "--project", root)
    return root
