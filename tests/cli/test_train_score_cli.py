"""``nextbest train clv`` registers BG/NBD x Gamma-Gamma too; ``nextbest score`` writes
its lifetime value, discounted at the configured or given annual rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import app, run, run_json, runner, synth_project

from nextbest.warehouse import Warehouse


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return synth_project(tmp_path_factory.mktemp("project"), 300, 200)


def _clv_rows(root: Path):
    with Warehouse(root / ".nextbest" / "warehouse.duckdb", read_only=True) as wh:
        table = wh.to_pandas(wh.table("scores"))
    return table[table.model == "clv_bgnbd"].sort_values("customer_id")


def test_train_clv_registers_both_models_with_backtest_and_importance(project: Path) -> None:
    trained = run_json("train", "clv", "--windows", 2, "--trials", 0, "--project", project)
    assert trained["model"] == "clv" and len(trained["backtest"]) == 2
    assert trained["fits"]["total"] == 2 and trained["importance"]
    (companion,) = trained["companions"]
    assert companion["model"] == "clv_bgnbd" and companion["stage"] == "champion"
    assert companion["metrics"]["rmse"] == trained["baseline"]["bgnbd_rmse"]
    listed = run_json("models", "list", "--project", project)
    assert {v["name"] for v in listed["models"]} == {"clv", "clv_bgnbd"}
    text = run("train", "clv", "--windows", 2, "--trials", 0, "--project", project)
    assert "backtest rmse by origin" in text and "top features" in text
    assert "clv_bgnbd v2" in text


def test_score_discounts_at_the_setting_or_the_flag(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXTBEST_TRAINING__DISCOUNT_RATE", "0")
    scored = run_json("score", "--model", "clv_bgnbd", "--project", project)
    assert scored["models"] == {"clv_bgnbd": 1} and scored["rows"] > 0
    flat = _clv_rows(project)
    assert np.allclose(flat.clv, flat.expected_purchases * flat.spend_per_purchase)
    run_json("score", "--model", "clv_bgnbd", "--discount-rate", 0.5, "--project", project)
    discounted = _clv_rows(project)
    assert (discounted.clv.to_numpy() < flat.clv.to_numpy()).all()
    bad = runner.invoke(
        app, ["score", "--model", "clv_bgnbd", "--discount-rate", "-1", "--project", str(project)]
    )
    assert bad.exit_code == 1 and "discount_rate" in bad.stderr
