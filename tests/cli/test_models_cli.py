"""``nextbest models list|show|promote`` through the CLI runner, errors included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.models import BGNBD, ModelRegistry

runner = CliRunner()


def invoke(*args: Any, code: int = 0) -> Any:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output + str(result.exception)
    assert "Traceback" not in result.output
    return result


def as_json(*args: Any, code: int = 0) -> dict:
    payload = json.loads(invoke(*args, "--json", code=code).stdout)
    assert payload["ok"] is (code == 0)
    return payload


@pytest.fixture
def project(tmp_path: Path) -> Path:
    registry = ModelRegistry(tmp_path / ".nextbest" / "models")
    for auc in (0.70, 0.65, 0.74):
        registry.register(
            "churn",
            BGNBD.from_params(dict(r=0.25, alpha=4.4, a=0.8, b=2.4)),
            task="binary",
            training_window=("2024-01-01", "2024-12-31"),
            evaluation_window=("2025-01-01", "2025-03-31"),
            features=["recency", "frequency"],
            params={"num_leaves": 15},
            metrics={"roc_auc": auc},
            primary_metric="roc_auc",
            data_fingerprint="abc123",
        )
    registry.promote("churn", 1)
    return tmp_path


def test_list(project: Path) -> None:
    payload = as_json("models", "list", "--project", project)
    assert [(m["version"], m["stage"]) for m in payload["models"]] == [
        (1, "champion"),
        (2, "candidate"),
        (3, "candidate"),
    ]
    assert payload["registry"] == str(project / ".nextbest" / "models")
    text = invoke("models", "list", "--name", "churn", "--project", project).stdout
    assert "champion" in text and "roc_auc 0.74" in text


def test_list_empty_project(tmp_path: Path) -> None:
    assert as_json("models", "list", "--project", tmp_path)["models"] == []
    assert "no models registered" in invoke("models", "list", "--project", tmp_path).stdout


def test_show_prints_the_card(project: Path) -> None:
    text = invoke("models", "show", "churn", "--project", project).stdout
    assert text.startswith("# Model card: churn v1")
    assert "## Intended use and caveats" in text
    payload = as_json("models", "show", "churn", "--version", 3, "--project", project)
    assert payload["model"]["metrics"] == {"roc_auc": 0.74}
    assert payload["card"].startswith("# Model card: churn v3")


def test_promote_better_and_worse(project: Path) -> None:
    result = invoke("models", "promote", "churn", 2, "--project", project, code=1)
    assert "churn v2 is not better than champion v1" in result.stderr
    assert "roc_auc 0.65 against 0.7 (higher is better)" in result.stderr
    payload = as_json("models", "promote", "churn", 2, "--project", project, code=1)
    assert payload["error"] == "PromotionError" and payload["status"] == 409

    text = invoke("models", "promote", "churn", 3, "--project", project).stdout
    assert "churn v3 is now the champion (roc_auc 0.74 > 0.7 of v1" in text
    assert "v1 is archived" in text
    assert "already the champion" in invoke("models", "promote", "churn", 3, "-p", project).stdout

    forced = as_json("models", "promote", "churn", 2, "--force", "--project", project)
    assert forced["model"]["stage"] == "champion"
    assert forced["previous"]["version"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "nope"), "no model named 'nope'"),
        (("show", "churn", "--version", 9), "no version 9"),
        (("promote", "nope", 1), "no model named 'nope'"),
        (("promote", "churn", 9), "no version 9"),
        (("list", "--name", "nope"), "registered: churn"),
    ],
)
def test_unknown_models_are_clear_errors(project: Path, args: tuple, message: str) -> None:
    result = invoke("models", *args, "--project", project, code=1)
    assert message in result.stderr
    assert result.stdout == ""
