"""The model registry: versions, stages, promotion rules, atomic index, model cards."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nextbest.errors import ModelFileError, NextBestError, NotFoundError, PromotionError
from nextbest.models import BGNBD
from nextbest.models.card import model_card
from nextbest.models.registry import ModelRegistry, ModelVersion, fingerprint

TRAIN = ("2024-01-01", "2024-12-31")
EVAL = ("2025-01-01", "2025-03-31")


def bg(r: float = 0.25) -> BGNBD:
    return BGNBD.from_params(dict(r=r, alpha=4.4, a=0.8, b=2.4))


def register(reg: ModelRegistry, name: str = "churn", **overrides: Any) -> ModelVersion:
    model = overrides.pop("model", None) or bg()
    args: dict[str, Any] = dict(
        task="binary",
        training_window=TRAIN,
        evaluation_window=EVAL,
        features=["recency", "frequency"],
        params={"num_leaves": 15},
        metrics={"roc_auc": 0.70, "log_loss": 0.55},
        primary_metric="roc_auc",
        data_fingerprint="abc123",
        notes="weekly churn model",
    )
    args.update(overrides)
    return reg.register(name, model, **args)


@pytest.fixture
def reg(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models")


def test_register_writes_model_meta_and_card(reg: ModelRegistry) -> None:
    v1 = register(reg)
    v2 = register(reg)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.stage == "candidate" and v1.higher_is_better is True
    assert v1.path == reg.root / "churn" / "1"
    assert sorted(p.name for p in v1.path.iterdir()) == [
        "card.md",
        "meta.json",
        "model.json",
        "params.json",
    ]
    meta = json.loads((v1.path / "meta.json").read_text())
    assert meta["evaluation_window"] == list(EVAL) and meta["kind"] == "params"
    assert set(meta["files"]) == {"params.json", "model.json"}
    assert {"python", "numpy", "pandas", "sklearn", "lightgbm", "nextbest"} <= set(v1.libraries)
    assert v1.libraries["lightgbm"] == lgb.__version__
    assert v1.created_at.tzinfo is not None
    assert (v1.path / "card.md").read_text() == model_card(v1)
    assert reg.names() == ["churn"]
    index = json.loads(reg.index_path.read_text())
    assert index["models"]["churn"]["versions"]["2"]["stage"] == "candidate"


def test_get_picks_champion_else_latest(reg: ModelRegistry) -> None:
    register(reg)
    register(reg, metrics={"roc_auc": 0.6})
    assert reg.get("churn").version == 2
    reg.promote("churn", 1)
    assert reg.get("churn").version == 1
    assert reg.get("churn", 2).metrics["roc_auc"] == 0.6
    assert reg.load("churn").params_ == bg().params_


def test_better_challenger_replaces_champion(reg: ModelRegistry) -> None:
    register(reg)
    register(reg, metrics={"roc_auc": 0.74})
    first = reg.promote("churn", 1)
    assert first.stage == "champion"
    assert first.stage_history[-1]["reason"] == "first champion"
    second = reg.promote("churn", 2)
    assert second.stage == "champion"
    assert "roc_auc 0.74 > 0.7 of v1" in second.stage_history[-1]["reason"]
    old = reg.get("churn", 1)
    assert old.stage == "archived"
    assert [h["stage"] for h in old.stage_history] == ["candidate", "champion", "archived"]
    assert "replaced by v2" in old.stage_history[-1]["reason"]
    card = (old.path / "card.md").read_text()
    assert "- **Stage:** archived" in card and "replaced by v2" in card
    assert [v.stage for v in reg.versions("churn")] == ["archived", "champion"]
    assert reg.promote("churn", 2).stage == "champion"  # already champion: unchanged


def test_worse_or_equal_challenger_is_refused_with_both_numbers(reg: ModelRegistry) -> None:
    register(reg)
    register(reg, metrics={"roc_auc": 0.65})
    register(reg, metrics={"roc_auc": 0.70})
    reg.promote("churn", 1)
    with pytest.raises(PromotionError) as info:
        reg.promote("churn", 2)
    text = str(info.value)
    assert "churn v2 is not better than champion v1" in text
    assert "roc_auc 0.65 against 0.7 (higher is better)" in text
    assert "--force" in text and info.value.http_status == 409
    with pytest.raises(PromotionError, match="not better"):
        reg.promote("churn", 3)
    assert reg.get("churn").version == 1
    forced = reg.promote("churn", 2, force=True)
    assert forced.stage == "champion" and forced.stage_history[-1]["reason"].startswith("forced")


def test_lower_is_better_metrics(reg: ModelRegistry) -> None:
    common = dict(task="clv", primary_metric="rmse")
    register(reg, "clv", metrics={"rmse": 2.0}, **common)
    register(reg, "clv", metrics={"rmse": 2.5}, **common)
    register(reg, "clv", metrics={"rmse": 1.5}, **common)
    reg.promote("clv", 1)
    with pytest.raises(PromotionError, match=r"rmse 2\.5 against 2 \(lower is better\)"):
        reg.promote("clv", 2)
    assert reg.promote("clv", 3).stage == "champion"
    custom = register(reg, "gain", metrics={"profit": 3.0}, primary_metric="profit",
                      higher_is_better=True)  # fmt: skip
    assert custom.higher_is_better is True


def test_different_evaluation_window_is_not_comparable(reg: ModelRegistry) -> None:
    register(reg)
    register(reg, evaluation_window=("2025-02-01", "2025-04-30"), metrics={"roc_auc": 0.9})
    reg.promote("churn", 1)
    with pytest.raises(PromotionError) as info:
        reg.promote("churn", 2)
    text = str(info.value)
    assert "cannot be compared with champion v1" in text
    assert "2025-02-01..2025-04-30" in text and "2025-01-01..2025-03-31" in text
    assert reg.promote("churn", 2, force=True).stage == "champion"


def test_other_task_or_metric_is_not_comparable(reg: ModelRegistry) -> None:
    register(reg)
    register(reg, metrics={"log_loss": 0.3, "roc_auc": 0.9}, primary_metric="log_loss")
    register(reg, task="regression", metrics={"roc_auc": 0.9})
    reg.promote("churn", 1)
    with pytest.raises(PromotionError, match="ranked by log_loss, the champion by roc_auc"):
        reg.promote("churn", 2)
    with pytest.raises(PromotionError, match="regression model, the champion a binary"):
        reg.promote("churn", 3)


def test_windows_accept_dates_and_timestamps(reg: ModelRegistry) -> None:
    import datetime as dt

    v = register(
        reg,
        training_window=(dt.date(2024, 1, 1), pd.Timestamp("2024-12-31")),
        evaluation_window=(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), "2025-03-31T00:00:00"),
    )
    assert v.training_window == TRAIN and v.evaluation_window == EVAL
    assert reg.promote("churn", v.version).stage == "champion"


def test_archive(reg: ModelRegistry) -> None:
    register(reg)
    register(reg)
    reg.promote("churn", 1)
    assert reg.archive("churn", 1).stage == "archived"
    assert reg.champion("churn") is None
    assert reg.get("churn").version == 2  # no champion: the latest
    assert reg.promote("churn", 2).stage_history[-1]["reason"] == "first champion"


def test_unknown_names_and_versions(reg: ModelRegistry) -> None:
    with pytest.raises(NotFoundError, match=r"no model named 'churn'.*none yet"):
        reg.get("churn")
    assert reg.versions() == []
    register(reg)
    with pytest.raises(NotFoundError, match=r"no version 7 \(versions: 1\)"):
        reg.get("churn", 7)
    with pytest.raises(NotFoundError, match="registered: churn"):
        reg.promote("other", 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(task="ranking"), "task 'ranking' is not one of"),
        (dict(primary_metric="pr_auc"), "'pr_auc' is not among the metrics"),
        (dict(metrics={"gain": 1.0}, primary_metric="gain"), "direction of 'gain'"),
        (dict(metrics={"roc_auc": float("nan")}), "not finite"),
        (dict(evaluation_window=("2025-03-01", "2025-01-01")), "starts .* after it ends"),
        (dict(evaluation_window=("someday", "2025-01-01")), "cannot read 'someday'"),
        (dict(params={"rng": object()}), "cannot be saved as JSON"),
        (dict(model=object()), "skops|cannot"),
    ],
)
def test_invalid_registrations_are_clear_errors(
    reg: ModelRegistry, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(NextBestError, match=message):
        register(reg, **overrides)
    assert not reg.index_path.exists() or reg.versions("churn") == []
    leftovers = list((reg.root / "churn").glob(".incoming-*")) if reg.root.exists() else []
    assert leftovers == []


def test_bad_names_are_refused(reg: ModelRegistry) -> None:
    for name in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(NextBestError, match="is not allowed"):
            register(reg, name)


def test_load_checks_the_registered_files(reg: ModelRegistry) -> None:
    v = register(reg)
    params = v.path / "params.json"
    params.write_text(params.read_text().replace("0.25", "0.99"))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        reg.load("churn")


def test_lightgbm_pipeline_through_the_registry(reg: ModelRegistry) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(0, 0.5, 120) > 0).astype(int)
    model = make_pipeline(
        StandardScaler(),
        lgb.LGBMClassifier(n_estimators=5, num_leaves=5, num_threads=1, verbose=-1),
    ).fit(X, y)
    v = register(reg, model=model, features=list(X.columns), data_fingerprint=fingerprint(X, y))
    assert v.kind == "pipeline_lightgbm" and len(v.data_fingerprint) == 16
    loaded = reg.load("churn")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_failed_index_write_leaves_the_old_index(
    reg: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(reg)
    register(reg, metrics={"roc_auc": 0.8})
    reg.promote("churn", 1)
    before = reg.index_path.read_text()

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        reg.promote("churn", 2)
    monkeypatch.undo()
    assert reg.index_path.read_text() == before
    assert [p.name for p in reg.root.iterdir() if p.name.endswith(".tmp")] == []
    assert reg.get("churn").version == 1


def test_concurrent_readers_and_writers(reg: ModelRegistry) -> None:
    register(reg)
    reg.promote("churn", 1)
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                versions = reg.versions("churn")
                assert sum(v.stage == "champion" for v in versions) == 1
                json.loads(reg.index_path.read_text())
            except BaseException as err:  # collected and re-raised in the main thread
                errors.append(err)
                return

    def write(offset: int) -> None:
        try:
            for i in range(4):
                v = register(reg, metrics={"roc_auc": 0.7 + 0.01 * (2 * i + offset + 1)})
                # the other writer may have promoted a better one first
                with contextlib.suppress(PromotionError):
                    reg.promote("churn", v.version)
        except BaseException as err:
            errors.append(err)

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()
    assert errors == []
    versions = reg.versions("churn")
    assert [v.version for v in versions] == list(range(1, 10))
    assert [v.stage for v in versions].count("champion") == 1
    assert reg.get("churn").metrics["roc_auc"] == max(v.metrics["roc_auc"] for v in versions)


def test_model_card_sections(reg: ModelRegistry) -> None:
    v = register(reg, evaluation_window=("2024-12-01", "2025-01-31"))
    card = model_card(reg.promote("churn", v.version))
    for heading in (
        "## Purpose",
        "## Data",
        "## Features (2)",
        "## Parameters",
        "## Metrics",
        "## Stage history",
        "## Libraries",
        "## Intended use and caveats",
    ):
        assert heading in card
    assert "weekly churn model" in card and "`abc123`" in card
    assert "| num_leaves | 15 |" in card
    assert "| **roc_auc** (primary, higher is better) | 0.7 |" in card
    assert "| log_loss | 0.55 |" in card
    assert "first champion" in card and "- **Stage:** champion" in card
    assert "metrics may be optimistic" in card  # evaluation overlaps training
    assert "Binary propensity" in card
