"""Every command, invoked through the CLI runner as a user would type it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nextbest.cli import app

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "README.md"


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output + str(result.exception)
    return result.stdout


def run_json(*args: str, code: int = 0) -> dict:
    payload = json.loads(run(*args, "--json", code=code))
    assert payload["ok"] is (code == 0)
    return payload


def test_init_writes_commented_config_and_warehouse(tmp_path: Path) -> None:
    payload = run_json("init", "--project", tmp_path)
    config = (tmp_path / "nextbest.yaml").read_text()
    assert "# threads the engine may use" in config
    assert (tmp_path / ".nextbest" / "warehouse.duckdb").exists()
    assert "orders" in payload["tables"]
    again = run_json("init", "--project", tmp_path)
    assert again["config_written"] is False


def test_project_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXTBEST_PROJECT", str(tmp_path))
    run_json("init")
    assert (tmp_path / "nextbest.yaml").exists()


def test_synth_ingest_quarantine_quality(tmp_path: Path) -> None:
    data = tmp_path / "data"
    synth = run_json(
        "synth",
        "--customers",
        150,
        "--days",
        60,
        "--seed",
        3,
        "--out",
        data,
        "--format",
        "csv",
        "--dirty",
    )
    assert synth["rows"]["customers"] >= 150
    assert synth["spoiled"] > 0
    assert (data / "orders.csv").exists()
    assert (data / "_truth" / "spoiled.csv").exists()
    project = tmp_path / "p"
    loaded = run_json("ingest", data, "--project", project)
    totals = loaded["totals"]
    assert totals["loaded"] > 0 and totals["quarantined"] > 0 and totals["duplicates"] > 0
    assert totals["read"] == totals["loaded"] + totals["quarantined"] + totals["duplicates"]
    again = run_json("ingest", data, "--project", project)
    assert again["totals"]["loaded"] == 0
    q = run_json("quarantine", "--project", project, "--limit", 5)
    assert q["total"] == totals["quarantined"]
    assert len(q["rows"]) == 5
    assert {"target", "source", "line", "reason", "field", "record"} <= set(q["rows"][0])
    quality = run_json("quality", "--project", project)
    assert Path(quality["html"]).exists()
    assert quality["report"]["quarantined_rows"] == totals["quarantined"]
    human = run("quality", "--project", project)
    assert "quarantine by reason" in human


def test_human_output_of_ingest(tmp_path: Path) -> None:
    src = tmp_path / "customers.csv"
    src.write_text("customer_id\nA\nA\n")
    text = run("ingest", src, "--project", tmp_path)
    assert "duplicates" in text and "customers" in text


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    payload = run_json(
        "demo", "--customers", 200, "--days", 90, "--trials", 0, "--project", tmp_path
    )
    assert payload["ingest"]["totals"]["loaded"] > 0
    assert payload["ingest"]["totals"]["quarantined"] == 0
    html = Path(payload["quality_html"]).read_text()
    assert "data:image/png;base64," in html
    assert payload["features"]["customers"] == 200
    assert Path(payload["segments"]["html"]).exists()
    assert sum(payload["segments"]["rfm_segments"].values()) == 200
    assert [m["model"] for m in payload["models"]] == ["churn", "purchase"]
    assert all(Path(m["report"]).exists() for m in payload["models"])
    assert payload["scores"]["rows"] == 2 * 200 and payload["scores"]["models"] == {
        "churn": 1,
        "purchase": 1,
    }
    scored = run_json("score", "--model", "churn", "--no-reasons", "--project", tmp_path)
    assert scored["rows"] == 200 and scored["models"] == {"churn": 1}
    recs = payload["recommendations"]
    assert recs["customers"] == 200 and recs["rows"] == 10 * 200
    assert recs["paths"]["personal"] > 0 and Path(recs["state"]).exists()


def test_features_build_show_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_json("synth", "--customers", 80, "--days", 40, "--out", data, "--project", tmp_path)
    run_json("ingest", data, "--project", tmp_path)
    built = run_json("features", "build", "--as-of", "2025-02-01", "--project", tmp_path)
    assert built["as_of"] == "2025-02-01T00:00:00"
    assert 0 < built["customers"] <= 80
    assert built["mode"] == "full" and built["reason"] == "no feature state yet"
    later = run_json("features", "build", "--as-of", "2025-02-03", "--project", tmp_path)
    assert later["mode"] == "incremental" and later["since"] == "2025-02-01T00:00:00"
    forced = run("features", "build", "--as-of", "2025-02-04", "--full", "--project", tmp_path)
    assert "full: full build requested" in forced
    shown = run_json("features", "show", "C000001", "--as-of", "2025-02-01", "--project", tmp_path)
    assert "recency_days" in shown["features"] and "loyalty_tier" in shown["features"]
    text = run("features", "show", "C000001", "--project", tmp_path)
    assert "days since the last order" in text
    listed = run_json("features", "list", "--project", tmp_path)
    assert listed["snapshots"][0] == "2025-02-01T00:00:00" and len(listed["snapshots"]) == 3
    assert {f["family"] for f in listed["features"]} >= {"rfm", "behaviour", "engagement"}
    missing = runner.invoke(app, ["features", "show", "NOPE", "--project", str(tmp_path)])
    assert missing.exit_code == 1 and "not in the snapshot" in missing.stderr
    bad = runner.invoke(app, ["features", "build", "--as-of", "soon", "--project", str(tmp_path)])
    assert bad.exit_code == 1 and "--as-of" in bad.stderr
    # work that does not fit the engine's memory cap names the setting to raise
    (tmp_path / "nextbest.yaml").write_text("warehouse:\n  memory_limit: 8MB\n")
    starved = runner.invoke(app, ["features", "build", "--full", "--project", str(tmp_path)])
    assert starved.exit_code == 1, starved.output
    assert "out of memory within the cap of 8MB" in starved.stderr
    assert "Raise warehouse.memory_limit" in starved.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "{tmp}/nope.csv"], "not found"),
        (["ingest", "{tmp}/export.csv"], "--mapping"),
        (["ingest", "{tmp}/customers.csv", "--mapping", "{tmp}/bad.yaml"], "no canonical column"),
        (["ingest", "{tmp}/customers.csv", "--mapping", "{tmp}/missing.yaml"], "no column 'mail'"),
        (["ingest", "{tmp}/empty.csv", "--mapping", "{tmp}/missing.yaml"], "empty"),
    ],
)
def test_user_errors_exit_1_with_a_message_and_no_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "customers.csv").write_text("customer_id,email\nC1,a@b.c\n")
    (tmp_path / "export.csv").write_text("a\n1\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "bad.yaml").write_text("tables:\n  customers:\n    columns:\n      colour: a\n")
    (tmp_path / "missing.yaml").write_text(
        "tables:\n  customers:\n    columns:\n      customer_id: customer_id\n      email: mail\n"
    )
    argv = [a.format(tmp=tmp_path) for a in args] + ["--project", str(tmp_path)]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    payload = json.loads(runner.invoke(app, [*argv, "--json"]).stdout)
    assert payload["ok"] is False and message in payload["message"]


def _commands():
    """(name, callback) of every command, sub-commands as 'group verb'."""
    for cmd in app.registered_commands:
        yield cmd.name, cmd.callback
    for group in app.registered_groups:
        for cmd in group.typer_instance.registered_commands:
            yield f"{group.name} {cmd.name}", cmd.callback


def test_every_command_takes_json_and_project() -> None:
    for name, callback in _commands():
        params = {p.name for p in _params(callback)}
        assert {"as_json", "project"} <= params, name


def _params(fn) -> list:
    import inspect

    return list(inspect.signature(fn).parameters.values())


def test_every_command_is_documented_in_the_readme() -> None:
    text = README.read_text()
    for name, _ in _commands():
        assert re.search(rf"nextbest {name}\b", text), f"README does not show `nextbest {name}`"


def test_segment_twice_reports_stability(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_json("synth", "--customers", 150, "--days", 90, "--out", data, "--project", tmp_path)
    run_json("ingest", data, "--project", tmp_path)
    first = run_json("segment", "--as-of", "2025-03-01", "--project", tmp_path)
    assert Path(first["html"]).exists()
    report = first["report"]
    assert report["stability"] is None
    assert sum(report["rfm_segments"].values()) == report["customers"]
    assert len(report["personas"]) == report["k"]
    second = run_json("segment", "--as-of", "2025-04-01", "--project", tmp_path)
    stab = second["report"]["stability"]
    assert stab["previous_as_of"] == "2025-03-01T00:00:00"
    assert -1 <= stab["clusters"]["adjusted_rand"] <= 1
    assert "segment" in run("segment", "--as-of", "2025-04-01", "--project", tmp_path)


def test_segment_without_data_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["segment", "--project", str(tmp_path)])
    assert result.exit_code == 1
    assert "no customers before" in result.stderr and "nextbest ingest" in result.stderr


def test_train_registers_a_model_and_lists_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_json("synth", "--customers", 300, "--days", 200, "--out", data, "--project", tmp_path)
    run_json("ingest", data, "--project", tmp_path)
    trained = run_json(
        "train", "churn", "--windows", 2, "--trials", 0, "--horizon", 30, "--project", tmp_path
    )
    assert trained["model"] == "churn" and trained["promoted"] and trained["stage"] == "champion"
    assert 0 < trained["metrics"]["roc_auc"] <= 1 and Path(trained["report"]).exists()
    listed = run_json("models", "list", "--project", tmp_path)
    assert [v["name"] for v in listed["models"]] == ["churn"]
    wrong = runner.invoke(app, ["train", "loyalty", "--project", str(tmp_path)])
    assert wrong.exit_code == 1 and "unknown target" in wrong.stderr
