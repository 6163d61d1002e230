"""Evaluation reports: the JSON holds the numbers shown, the HTML embeds its charts."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from nextbest.evaluation import (
    EvaluationInputError,
    calibration_curve,
    classification_metrics,
    decile_calibration,
    lift_table,
    regression_metrics,
)
from nextbest.evaluation.report import (
    classification_report,
    write_classification_report,
    write_regression_report,
)


def _strict_json(path: Path) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _same_table(records: list[dict], frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(records), frame, check_dtype=False)


def _images(html: str) -> list[bytes]:
    found = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return [base64.b64decode(b) for b in found]


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    n = 600
    y = (rng.random(n) < 0.25).astype(int)
    model = 1 / (1 + np.exp(-(2.0 * y - 1.2 + rng.normal(0, 1, n))))
    baseline = np.round(1 / (1 + np.exp(-(0.8 * y - 1.1 + rng.normal(0, 1, n)))), 1)
    return y, model, baseline


def test_classification_report(tmp_path: Path, binary) -> None:
    y, model, baseline = binary
    html_path, json_path = write_classification_report(
        tmp_path / "out",
        "churn",
        y,
        {"lightgbm": model, "logistic": baseline},
        threshold=0.4,
        title="Churn in 90 days",
        extra={"window": "2025-01-01..2025-03-31", "note": "<script>x</script>"},
        n_boot=200,
    )
    assert html_path == tmp_path / "out" / "churn.html" and json_path.name == "churn.json"
    r = _strict_json(json_path)
    assert r["model"] == "lightgbm" and r["baselines"] == ["logistic"]
    assert (r["n"], r["positives"]) == (600, int(y.sum()))
    for name, s in {"lightgbm": model, "logistic": baseline}.items():
        m = r["models"][name]
        expected = classification_metrics(y, s, 0.4)
        assert m["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(y, s))
        for key in ("pr_auc", "log_loss", "brier", "f1", "tp", "fp", "fn", "tn"):
            assert m["metrics"][key] == pytest.approx(expected[key]), key
        assert m["metrics"]["top"][2]["precision"] == pytest.approx(expected["top"][2]["precision"])
        _same_table(m["lift"], lift_table(y, s))
        _same_table(m["calibration"], calibration_curve(y, s))
        assert m["roc"]["fpr"][0] == 0.0 and m["roc"]["tpr"][-1] == 1.0
        assert len(m["roc"]["fpr"]) <= 200 and len(m["pr"]["recall"]) <= 200
    cmp = r["comparisons"]["logistic"]
    assert cmp["a"] == pytest.approx(roc_auc_score(y, baseline))
    assert cmp["b"] == pytest.approx(roc_auc_score(y, model))
    assert cmp["low"] <= cmp["difference"] <= cmp["high"] and cmp["low"] > 0
    assert r["extra"]["window"] == "2025-01-01..2025-03-31"

    html = html_path.read_text(encoding="utf-8")
    images = _images(html)
    assert len(images) == 5  # ROC, PR, gains, lift, calibration
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    assert "Churn in 90 days" in html and "lightgbm" in html and "logistic" in html
    assert f"{r['models']['lightgbm']['metrics']['roc_auc']:,.3f}" in html
    assert f"<td>{r['models']['logistic']['metrics']['tp']:,}</td>" in html
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def test_raw_scores_need_per_model_thresholds_and_skip_calibration(binary) -> None:
    y, model, baseline = binary
    logit = np.log(model / (1 - model))
    r = classification_report(y, {"margin": logit, "rule": baseline}, {"margin": 0.0, "rule": 0.5})
    assert r["models"]["margin"]["calibration"] is None
    assert r["models"]["margin"]["metrics"]["log_loss"] is None
    assert r["models"]["margin"]["metrics"]["threshold"] == 0.0
    assert r["models"]["rule"]["calibration"] is not None
    assert r["models"]["rule"]["metrics"]["threshold"] == 0.5
    with pytest.raises(EvaluationInputError, match="threshold"):
        classification_report(y, {"margin": logit, "rule": baseline})
    with pytest.raises(EvaluationInputError, match="baseline"):
        classification_report(y, {"model": model})
    with pytest.raises(EvaluationInputError, match="no threshold"):
        classification_report(y, {"a": model, "b": baseline}, {"a": 0.5})
    with pytest.raises(EvaluationInputError) as info:
        classification_report(y, {"a": model, "b": baseline[:-1]})
    assert info.value.field == "b"


def test_regression_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = rng.gamma(2.0, 40.0, 300)
    model = y * rng.lognormal(0, 0.3, 300)
    mean_rule = np.full(300, y.mean())
    html_path, json_path = write_regression_report(
        tmp_path,
        "clv",
        y,
        {"gamma_gamma": model, "mean": mean_rule},
        title="CLV 12 months",
        n_boot=200,
    )
    r = _strict_json(json_path)
    assert r["kind"] == "regression" and r["model"] == "gamma_gamma"
    expected = regression_metrics(y, model)
    for key in ("rmse", "mae", "r2", "spearman", "bias"):
        assert r["models"]["gamma_gamma"]["metrics"][key] == pytest.approx(expected[key])
    assert r["models"]["mean"]["metrics"]["spearman"] is None
    _same_table(r["models"]["mean"]["deciles"], decile_calibration(y, mean_rule))
    cmp = r["comparisons"]["mean"]
    assert cmp["a"] == pytest.approx(expected["mae"])
    assert cmp["difference"] == pytest.approx(regression_metrics(y, mean_rule)["mae"] - cmp["a"])
    assert cmp["low"] > 0 and cmp["share_b_better"] == 1.0
    html = html_path.read_text(encoding="utf-8")
    images = _images(html)
    assert len(images) == 1 and images[0].startswith(b"\x89PNG")
    assert "CLV 12 months" in html and f"{expected['rmse']:,.3f}" in html
