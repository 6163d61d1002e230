"""``nextbest recommend evaluate``: metrics as JSON and text, the report files, clear errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from helpers import app, run, run_json, runner, synth_project

from nextbest.config import load_settings

GENERATORS = [
    "popularity",
    "trending",
    "ease",
    "ease, decayed profile",
    "transitions",
    "co-occurrence",
    "item-kNN",
    "ALS",
    "BPR",
    "content",
    "LightGBM ranker",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return synth_project(tmp_path_factory.mktemp("project"), 200, 90)


@pytest.fixture(scope="module")
def evaluated(project: Path) -> dict:
    return run_json("recommend", "evaluate", "--k", 5, "--project", project)


def test_json_has_every_model_and_the_report_files(project: Path, evaluated: dict) -> None:
    reports = load_settings(project).reports_dir(project)
    assert evaluated["html"] == str(reports / "recommend-evaluation.html")
    assert evaluated["json"] == str(reports / "recommend-evaluation.json")
    report = evaluated["report"]
    assert report["k"] == 5 and report["baseline"] == "popularity"
    assert [m["generator"] for m in report["models"]] == GENERATORS
    for m in report["models"]:
        assert set(report["metrics"]) <= set(m) and len(m["ndcg_vs_popularity"]) == 3
    pop, ease = report["models"][0], report["models"][2]
    assert ease["ndcg"] > pop["ndcg"] and ease["ndcg_vs_popularity"][1] > 0
    p = report["protocol"]
    assert p["holdout_days"] == 28.0 and p["as_of"].endswith("T00:00:00")
    assert p["test"]["customers"] > 0 and p["validation"]["customers"] > 0
    assert p["weights"] == {"product_view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
    saved = json.loads(Path(evaluated["json"]).read_text(encoding="utf-8"))
    assert saved["models"] == report["models"]
    html = Path(evaluated["html"]).read_text(encoding="utf-8")
    assert '<table id="metrics">' in html and "LightGBM ranker" in html


def test_text_output_with_as_of_and_holdout_days(project: Path, evaluated: dict, tmp_path) -> None:
    as_of = evaluated["report"]["protocol"]["as_of"][:10]  # the default: midnight after the data
    text = run(
        "recommend",
        "evaluate",
        "--holdout-days",
        21,
        "--as-of",
        as_of,
        "--out",
        tmp_path,
        "--project",
        project,
    )
    assert "NDCG@10" in text and "ease, decayed" in text and "report:" in text
    assert "LightGBM ranker" in text and "vs popularity" in text
    saved = json.loads((tmp_path / "recommend-evaluation.json").read_text(encoding="utf-8"))
    p = saved["protocol"]
    assert p["holdout_days"] == 21.0 and p["as_of"][:10] == as_of
    start, cut, end = (
        dt.datetime.fromisoformat(p[n]) for n in ("validation_cut", "test_cut", "as_of")
    )
    assert end - cut == cut - start == dt.timedelta(days=21)
    assert saved["k"] == 10


def test_no_interactions_is_a_clear_error(tmp_path: Path) -> None:
    run_json("init", "--project", tmp_path)
    result = runner.invoke(app, ["recommend", "evaluate", "--project", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no product interactions" in result.output
    payload = run_json("recommend", "evaluate", "--project", tmp_path, code=1)
    assert payload["field"] == "events" and payload["error"] == "RecommendInputError"


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (["--holdout-days", 60], "holdout_days", "leave nothing to fit"),
        (["--holdout-days", -3], "holdout_days", "must be positive"),
        (["--as-of", "2000-01-01"], "events", "no product interactions before 2000-01-01"),
        (["--as-of", "soon"], "--as-of", "cannot read 'soon'"),
    ],
)
def test_bad_input_is_one_paragraph(project: Path, args: list, field: str, words: str) -> None:
    result = runner.invoke(
        app, ["recommend", "evaluate", *map(str, args), "--project", str(project)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert words in result.output and "\n\n" not in result.output.strip()
    payload = run_json("recommend", "evaluate", *args, "--project", project, code=1)
    assert payload["field"] == field
