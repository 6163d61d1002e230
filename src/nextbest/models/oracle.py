"""How close a propensity model gets to one that knows the synthetic store's truth.

A synthetic store (:mod:`nextbest.synth`) is driven by hidden per-customer truth.
An *oracle* is the same LightGBM propensity model trained on the same snapshot
features plus the part of that truth that is known at the cutoff:

- ``truth_alive``: 1 when the customer has not churned by the cutoff (``churn_at`` is
  null or later) or has come back by then (``reactivated_at`` at or before it);
- ``truth_activity_rate``, ``truth_engagement``, ``truth_price_sensitivity``: the
  fixed traits that drive sessions, conversion and churn.

Nothing that happens after the cutoff is used: a churn or reactivation date after
the cutoff only says "alive" / "not back yet", exactly what the cutoff could know.

:func:`compare` trains a logistic baseline, LightGBM and the oracle on the same
training cutoffs (:func:`nextbest.models.train.plan_cutoffs`), scores them on the
same evaluation cutoff and returns ROC-AUC and PR-AUC with paired bootstrap
intervals of LightGBM minus logistic and oracle minus LightGBM.

>>> import datetime as dt, pandas as pd
>>> truth = pd.DataFrame({
...     "customer_id": ["a", "b", "c"], "activity_rate": [0.1, 0.2, 0.3],
...     "engagement": [0.5, 0.6, 0.7], "price_sensitivity": [0.2, 0.4, 0.6],
...     "churn_at": pd.to_datetime([None, "2025-02-01", "2025-01-10"]),
...     "reactivated_at": pd.to_datetime([None, None, "2025-01-20"])})
>>> truth_at(truth, dt.datetime(2025, 1, 15)).truth_alive.tolist()
[1, 1, 0]
>>> truth_at(truth, dt.datetime(2025, 3, 1)).truth_alive.tolist()
[1, 0, 1]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nextbest.config import FeatureSettings
from nextbest.evaluation.bootstrap import PairedComparison, paired_auc_bootstrap
from nextbest.evaluation.curves import average_precision, roc_auc
from nextbest.features import REGISTRY, Context, default_as_of, snapshot_frame
from nextbest.features.labels import Target, outcomes, significant
from nextbest.features.registry import Feature
from nextbest.models.tabular import LIGHTGBM_DEFAULTS, PropensityModel
from nextbest.models.train import Plan, plan_cutoffs
from nextbest.warehouse import Warehouse

__all__ = [
    "LIGHTGBM_PARAMS",
    "MODELS",
    "TRUTH_FEATURES",
    "Comparison",
    "compare",
    "paired_ap_bootstrap",
    "read_truth",
    "truth_at",
]

TRUTH_FEATURES = (
    "truth_alive",
    "truth_activity_rate",
    "truth_engagement",
    "truth_price_sensitivity",
)
MODELS = ("logistic", "lightgbm", "oracle")
LIGHTGBM_PARAMS: dict[str, Any] = dict(LIGHTGBM_DEFAULTS)
"""The learner settings of the comparison: the propensity model's defaults."""


def read_truth(store: Path) -> pd.DataFrame:
    """The hidden truth a synthetic store was written with (``store/_truth/...``)."""
    truth = pd.read_parquet(Path(store) / "_truth" / "customers_truth.parquet")
    for column in ("churn_at", "reactivated_at"):
        values = pd.to_datetime(truth[column])
        if values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        truth[column] = values
    return truth


def truth_at(truth: pd.DataFrame, cutoff: dt.datetime) -> pd.DataFrame:
    """Per customer the truth known at ``cutoff``: alive or not, and the fixed traits."""
    at = pd.Timestamp(cutoff)
    churn, back = truth["churn_at"], truth["reactivated_at"]
    alive = churn.isna() | (churn > at) | (back.notna() & (back <= at))
    return pd.DataFrame(
        {
            "customer_id": truth["customer_id"].astype(str).to_numpy(),
            "truth_alive": alive.astype("int64").to_numpy(),
            "truth_activity_rate": truth["activity_rate"].astype(float).to_numpy(),
            "truth_engagement": truth["engagement"].astype(float).to_numpy(),
            "truth_price_sensitivity": truth["price_sensitivity"].astype(float).to_numpy(),
        }
    )


def _with_truth(frame: pd.DataFrame, truth: pd.DataFrame, cutoff: dt.datetime) -> pd.DataFrame:
    known = truth_at(truth, cutoff)
    out = frame.merge(known, on="customer_id", how="left", validate="one_to_one")
    if out["truth_alive"].isna().any():
        missing = out.loc[out["truth_alive"].isna(), "customer_id"].iloc[0]
        raise ValueError(f"no truth for customer {missing!r}: is this the store's truth file?")
    return out


def paired_ap_bootstrap(
    y_true: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> PairedComparison:
    """PR-AUC (average precision) of ``score_b`` minus ``score_a``, stratified paired bootstrap.

    >>> y = np.array([0, 0, 1, 1, 0, 1])
    >>> r = paired_ap_bootstrap(y, np.array([.5, .4, .3, .6, .2, .7]), y * 0.5, n_boot=200)
    >>> r.b, r.difference > 0
    (1.0, True)
    """
    y = np.asarray(y_true).astype(int)
    a, b = np.asarray(score_a, float), np.asarray(score_b, float)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        rows = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        diffs[i] = average_precision(y[rows], b[rows]) - average_precision(y[rows], a[rows])
    ap_a, ap_b = average_precision(y, a), average_precision(y, b)
    tail = 50.0 * (1.0 - ci)
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return PairedComparison(
        a=ap_a,
        b=ap_b,
        difference=ap_b - ap_a,
        low=float(low),
        high=float(high),
        share_b_better=float(np.mean(diffs > 0)),
        ci=ci,
        n_boot=int(n_boot),
    )


@dataclass
class Comparison:
    """Logistic, LightGBM and the oracle on one evaluation cutoff.

    ``metrics[model]`` holds ``roc_auc`` and ``pr_auc``; ``auc_diff`` and ``ap_diff``
    hold the paired intervals ``lightgbm-logistic`` and ``oracle-lightgbm``.
    """

    target: Target
    plan: Plan
    rows: dict[str, int]
    base_rate: float
    y: np.ndarray
    scores: dict[str, np.ndarray]
    metrics: dict[str, dict[str, float]]
    auc_diff: dict[str, PairedComparison] = field(default_factory=dict)
    ap_diff: dict[str, PairedComparison] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.name,
            "horizon_days": self.target.horizon_days,
            "train_cutoffs": [c.isoformat() for c in self.plan.train],
            "evaluation_cutoff": self.plan.test.isoformat(),
            "rows": self.rows,
            "base_rate": self.base_rate,
            "metrics": self.metrics,
            "auc_diff": {k: v.to_dict() for k, v in self.auc_diff.items()},
            "ap_diff": {k: v.to_dict() for k, v in self.ap_diff.items()},
            "seconds": self.seconds,
        }


def _frame(
    wh: Warehouse,
    cutoff: dt.datetime,
    target: Target,
    settings: FeatureSettings | None,
    snapshots: dict[dt.datetime, pd.DataFrame],
) -> pd.DataFrame:
    """:func:`nextbest.features.labels.training_frame`, with the snapshot built once per cutoff."""
    if cutoff not in snapshots:
        snapshot = snapshot_frame(wh, cutoff, settings)
        for column in snapshot.columns:
            if snapshot[column].dtype == "float64":
                snapshot[column] = significant(snapshot[column].to_numpy())
        snapshots[cutoff] = snapshot
    y = wh.to_pandas(outcomes(wh, cutoff, target))
    frame = snapshots[cutoff].merge(y, on="customer_id", how="inner")
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _features(train: pd.DataFrame, test: pd.DataFrame, ctx: Context) -> list[Feature]:
    """The registry's features both frames hold, as :func:`nextbest.models.train.train` uses."""
    known = {f.name: f for f in REGISTRY.declared(ctx)}
    skip = {"customer_id", "y", "_cutoff", *TRUTH_FEATURES}
    return [
        known.get(c) or Feature(c, c) for c in train.columns if c not in skip and c in test.columns
    ]


def compare(
    wh: Warehouse,
    truth: pd.DataFrame,
    target: Target,
    *,
    windows: int = 2,
    as_of: dt.datetime | None = None,
    params: dict[str, Any] | None = None,
    class_weight: str | None = "balanced",
    calibration: str | None = None,
    feature_settings: FeatureSettings | None = None,
    n_boot: int = 1000,
    threads: int = 1,
    seed: int = 0,
    snapshots: dict[dt.datetime, pd.DataFrame] | None = None,
) -> Comparison:
    """Train logistic, LightGBM and the oracle on ``windows`` cutoffs; score the next one.

    The cutoffs are those of :func:`nextbest.models.train.train` (evaluation at
    ``end - horizon``, training cutoffs one horizon apart before it). ``params``
    are LightGBM hyper-parameters for both LightGBM and the oracle. ROC-AUC and
    PR-AUC rank customers, so ``calibration`` (monotone) is off by default.
    Pass the same ``snapshots`` dict to several calls to build each cutoff's
    feature snapshot once (targets with the same horizon share their cutoffs).
    """
    import time

    end = as_of or default_as_of(wh)
    plan = plan_cutoffs(end, target.horizon_days, windows)
    t0 = time.perf_counter()
    snapshots = {} if snapshots is None else snapshots
    parts = []
    for cutoff in [*plan.train, plan.test]:
        frame = _frame(wh, cutoff, target, feature_settings, snapshots)
        parts.append(_with_truth(frame, truth, cutoff).assign(_cutoff=cutoff))
    train_rows = pd.concat(parts[:-1], ignore_index=True)
    test_rows = parts[-1]
    seconds = {"frames": time.perf_counter() - t0}
    features = _features(train_rows, test_rows, Context.empty(plan.test, feature_settings))
    oracle_features = [*features, *(Feature(n, n, dtype="float64") for n in TRUTH_FEATURES)]
    y, yt = train_rows["y"].to_numpy(), test_rows["y"].to_numpy()
    common: dict[str, Any] = {
        "class_weight": class_weight,
        "calibration": calibration,
        "threads": threads,
        "seed": seed,
    }
    models = {
        "logistic": PropensityModel("logistic", features=features, **common),
        "lightgbm": PropensityModel("lightgbm", params=params, features=features, **common),
        "oracle": PropensityModel("lightgbm", params=params, features=oracle_features, **common),
    }
    scores: dict[str, np.ndarray] = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(train_rows, y)
        scores[name] = model.predict_proba(test_rows)[:, 1]
        seconds[name] = time.perf_counter() - t0
    metrics = {
        name: {"roc_auc": roc_auc(yt, s), "pr_auc": average_precision(yt, s)}
        for name, s in scores.items()
    }
    pairs = {
        "lightgbm-logistic": ("logistic", "lightgbm"),
        "oracle-lightgbm": ("lightgbm", "oracle"),
    }
    t0 = time.perf_counter()
    auc_diff = {
        k: paired_auc_bootstrap(yt, scores[a], scores[b], n_boot=n_boot, seed=seed)
        for k, (a, b) in pairs.items()
    }
    ap_diff = {
        k: paired_ap_bootstrap(yt, scores[a], scores[b], n_boot=n_boot, seed=seed)
        for k, (a, b) in pairs.items()
    }
    seconds["bootstrap"] = time.perf_counter() - t0
    return Comparison(
        target=target,
        plan=plan,
        rows={"train": len(train_rows), "test": len(test_rows)},
        base_rate=float(yt.mean()),
        y=yt,
        scores=scores,
        metrics=metrics,
        auc_diff=auc_diff,
        ap_diff=ap_diff,
        seconds=seconds,
    )
