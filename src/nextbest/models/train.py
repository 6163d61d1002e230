"""Train, evaluate and register a model for a target, on temporal cutoffs.

The plan: with ``end`` the midnight after the latest data and ``h`` the target's
horizon, the evaluation cutoff is ``end - h`` (its outcomes are complete) and the
training cutoffs are the ``windows`` cutoffs ``h`` apart before it. Training rows
are snapshots at the training cutoffs with their outcomes, so no training outcome
reaches into the evaluation window. Hyper-parameters are searched with rolling-
origin folds over the training cutoffs (train on the earlier ones, validate on the
next), the decision threshold is chosen on the last training cutoff, and the model
is scored once on the evaluation cutoff, beside a logistic (or ridge) baseline.
The new version registers as a candidate and becomes champion when it beats the
champion on the same evaluation window (or is the first).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nextbest.config import FeatureSettings
from nextbest.errors import NextBestError
from nextbest.evaluation.classification import classification_metrics
from nextbest.evaluation.regression import regression_metrics
from nextbest.evaluation.report import write_classification_report, write_regression_report
from nextbest.evaluation.thresholds import choose_threshold
from nextbest.features import REGISTRY, Context, default_as_of
from nextbest.features.labels import Target, training_frame
from nextbest.features.registry import Feature
from nextbest.models.registry import ModelRegistry, ModelVersion, fingerprint
from nextbest.models.tabular import PropensityModel, ValueModel
from nextbest.warehouse import Warehouse

__all__ = ["Plan", "TrainOptions", "TrainResult", "clv_forecast", "plan_cutoffs", "train"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """Training cutoffs (oldest first), the evaluation cutoff and the data's end."""

    train: list[dt.datetime]
    test: dt.datetime
    end: dt.datetime


def plan_cutoffs(end: dt.datetime, horizon_days: int, windows: int) -> Plan:
    """Cutoffs ``horizon_days`` apart before ``end``; the last one is for evaluation."""
    step = dt.timedelta(days=horizon_days)
    test = end - step
    return Plan([test - step * i for i in range(windows, 0, -1)], test, end)


@dataclass
class TrainOptions:
    """How to train; every field has a working default."""

    algorithm: str = "lightgbm"
    baseline: str = "logistic"
    windows: int = 3
    trials: int = 20
    timeout_seconds: float | None = None
    calibration: str | None = "isotonic"
    class_weight: str | None = "balanced"
    smote: bool = False
    objective: str = "f1"
    budget: float = 0.1
    costs: dict[str, float] | None = None
    threads: int = 1
    seed: int = 0
    as_of: dt.datetime | None = None

    @property
    def steps(self) -> int:
        """How many progress messages :func:`train` gives (for a progress bar)."""
        return self.windows + 6


@dataclass
class TrainResult:
    """What a training run produced."""

    version: ModelVersion
    metrics: dict[str, float]
    baseline: dict[str, float]
    promoted: bool
    verdict: str
    report: Path | None
    plan: Plan
    rows: dict[str, int]
    seconds: float
    search: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.name,
            "version": self.version.version,
            "stage": self.version.stage,
            "promoted": self.promoted,
            "verdict": self.verdict,
            "metrics": self.metrics,
            "baseline": self.baseline,
            "train_cutoffs": [c.isoformat() for c in self.plan.train],
            "evaluation_window": [self.plan.test.isoformat(), self.plan.end.isoformat()],
            "rows": self.rows,
            "report": str(self.report) if self.report else None,
            "search": self.search,
            "seconds": round(self.seconds, 2),
        }


def _frames(
    wh: Warehouse,
    plan: Plan,
    target: Target,
    settings: FeatureSettings | None,
    progress: Progress,
    snapshots: dict[dt.datetime, pd.DataFrame] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = []
    for cutoff in [*plan.train, plan.test]:
        progress(f"features and outcomes as of {cutoff:%Y-%m-%d}")
        frame = training_frame(wh, cutoff, target, settings, snapshots)
        parts.append(frame.assign(_cutoff=cutoff))
    train = pd.concat(parts[:-1], ignore_index=True)
    test = parts[-1]
    for name, frame in (("training", train), ("evaluation", test)):
        if frame.empty:
            raise NextBestError(
                f"no {name} rows for target {target.name!r}",
                field="target",
                hint="The warehouse needs history covering every cutoff: load more data, "
                "or use fewer --windows or a shorter --horizon.",
            )
    return train, test


def _features(train: pd.DataFrame, test: pd.DataFrame, ctx: Context) -> list[Feature]:
    """The registry's features both frames hold (affinity columns follow the data)."""
    known = {f.name: f for f in REGISTRY.declared(ctx)}
    out = []
    for column in train.columns:
        if column in ("customer_id", "y", "_cutoff") or column not in test.columns:
            continue
        out.append(known.get(column) or Feature(column, column))
    return out


def _folds(cutoffs: pd.Series, order: list[dt.datetime]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rolling origin: train on the cutoffs before each one, validate on it."""
    values = cutoffs.to_numpy()
    return [
        (np.flatnonzero(values < np.datetime64(c)), np.flatnonzero(values == np.datetime64(c)))
        for c in order[1:]
    ]


def _search(
    options: TrainOptions,
    make: Callable[[dict[str, Any]], Any],
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    metric: str,
    progress: Progress,
) -> tuple[dict[str, Any], dict[str, Any]]:
    if options.trials <= 0 or not folds or options.algorithm != "lightgbm":
        return {}, {"trials": 0}
    from nextbest.models.tuning import default_space, search

    progress(f"searching {options.trials} trials ({metric}, {len(folds)} rolling folds)")
    found = search(
        make,
        default_space(options.algorithm),  # type: ignore[arg-type]
        X,
        y,
        folds,
        metric=metric,
        n_trials=options.trials,
        timeout=options.timeout_seconds,
        seed=options.seed,
    )
    summary = {
        "trials": len(found.trials),
        "pruned": int(found.n_pruned),
        "best_score": float(found.best_score),
        "best_params": found.best_params,
        "seconds": round(float(found.seconds), 2),
    }
    return dict(found.best_params), summary


def train(
    wh: Warehouse,
    registry: ModelRegistry,
    target: Target,
    options: TrainOptions | None = None,
    *,
    feature_settings: FeatureSettings | None = None,
    report_dir: Path | None = None,
    progress: Progress | None = None,
    snapshots: dict[dt.datetime, pd.DataFrame] | None = None,
) -> TrainResult:
    """Train, evaluate, register (and maybe promote) a model for ``target``.

    ``snapshots`` (cutoff -> frame) lets several targets share their snapshots.
    """
    options = options or TrainOptions()
    say = progress or (lambda _: None)
    t0 = time.perf_counter()
    end = options.as_of or default_as_of(wh)
    plan = plan_cutoffs(end, target.horizon_days, options.windows)
    train_rows, test_rows = _frames(wh, plan, target, feature_settings, say, snapshots)
    features = _features(train_rows, test_rows, Context.empty(plan.test, feature_settings))
    names = [f.name for f in features]
    X, y = train_rows[names], train_rows["y"].to_numpy()
    Xt, yt = test_rows[names], test_rows["y"].to_numpy()
    folds = _folds(train_rows["_cutoff"], plan.train)
    if target.task == "binary":
        fit = _train_binary(options, features, X, y, Xt, yt, folds, say)
    else:
        fit = _train_value(options, features, X, y, Xt, yt, folds, say)
    model, metrics, baseline, scores, params, search_summary = fit
    if target.kind == "clv":
        say("fitting BG/NBD and Gamma-Gamma on the orders before the evaluation cutoff")
        forecast = clv_forecast(wh, plan.test, target.horizon_days)
        scores["bg/nbd x gamma-gamma"] = (
            forecast.reindex(test_rows["customer_id"]).fillna(0.0).to_numpy()
        )
        probabilistic = regression_metrics(yt, scores["bg/nbd x gamma-gamma"])
        baseline |= {f"bgnbd_{k}": float(v) for k, v in _flatten(probabilistic).items()}
    report = None
    if report_dir is not None:
        say("writing the evaluation report")
        title = f"{target.name} model: {options.algorithm} vs {options.baseline}"
        extra = {"target": target.name, "horizon_days": target.horizon_days}
        extra |= {"evaluation_window": [str(plan.test), str(plan.end)]}
        if target.task == "binary":
            report, _ = write_classification_report(
                report_dir, f"model-{target.name}", yt, scores, model.threshold_, title, extra
            )
        else:
            report, _ = write_regression_report(
                report_dir, f"model-{target.name}", yt, scores, title, extra
            )
    primary = "roc_auc" if target.task == "binary" else "rmse"
    flat = {
        k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and np.isfinite(v)
    }
    flat |= {f"baseline_{k}": v for k, v in baseline.items()}
    version = registry.register(
        target.name,
        model,
        task=target.task,
        training_window=(plan.train[0], plan.test),
        evaluation_window=(plan.test, plan.end),
        features=names,
        metrics=flat,
        primary_metric=primary,
        data_fingerprint=fingerprint(train_rows[["customer_id", "y"]], test_rows[["y"]]),
        params={
            "algorithm": options.algorithm,
            "learner": params,
            "horizon_days": target.horizon_days,
            "target": target.kind,
            "category": target.category,
            "active_days": target.active_days,
            **({"threshold": float(model.threshold_)} if target.task == "binary" else {}),
        },
        notes=f"trained on {len(train_rows):,} rows at {len(plan.train)} cutoffs",
    )
    promoted, verdict = _promote(registry, version)
    return TrainResult(
        registry.get(version.name, version.version),
        flat,
        baseline,
        promoted,
        verdict,
        report,
        plan,
        {"train": len(train_rows), "test": len(test_rows)},
        time.perf_counter() - t0,
        search_summary,
    )


def clv_forecast(wh: Warehouse, cutoff: dt.datetime, horizon_days: int) -> pd.Series:
    """Expected spend per customer in ``[cutoff, cutoff + horizon)`` from BG/NBD
    (expected purchase days) times Gamma-Gamma (expected spend per purchase day),
    both fitted in days on the orders before ``cutoff``."""
    import ibis

    from nextbest.models.clv import BGNBD, GammaGamma, rfm_summary

    orders = wh.table("orders")
    orders = orders.filter(orders.ordered_at < ibis.literal(cutoff, type="timestamp(6)"))
    frame = wh.to_pandas(
        orders.select("customer_id", timestamp="ordered_at", value=orders.total.cast("float64"))
    )
    summary = rfm_summary(frame, cutoff - dt.timedelta(days=1), unit="days")
    bgnbd = BGNBD().fit(summary.frequency, summary.recency, summary["T"])
    purchases = bgnbd.conditional_expected_number_of_purchases_up_to_time(
        horizon_days, summary.frequency, summary.recency, summary["T"]
    )
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    spend = GammaGamma().fit(repeat.frequency, repeat.monetary_value)
    per_purchase = np.asarray(
        spend.conditional_expected_average_profit(summary.frequency, summary.monetary_value),
        dtype=float,
    )
    return pd.Series(np.asarray(purchases, dtype=float) * per_purchase, index=summary.index)


def _promote(registry: ModelRegistry, version: ModelVersion) -> tuple[bool, str]:
    from nextbest.errors import PromotionError

    try:
        promoted = registry.promote(version.name, version.version)
    except PromotionError as err:
        return False, err.message
    return True, promoted.stage_history[-1].get("reason", "") if promoted.stage_history else ""


def _train_binary(
    options: TrainOptions,
    features: list[Feature],
    X: pd.DataFrame,
    y: np.ndarray,
    Xt: pd.DataFrame,
    yt: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    say: Progress,
) -> tuple[Any, dict[str, Any], dict[str, float], dict[str, np.ndarray], dict, dict]:
    def make(params: dict[str, Any], calibration: str | None = None) -> PropensityModel:
        return PropensityModel(
            options.algorithm,  # type: ignore[arg-type]
            params=params,
            features=features,
            class_weight=options.class_weight,  # type: ignore[arg-type]
            calibration=calibration,  # type: ignore[arg-type]
            smote=options.smote,
            threads=options.threads,
            seed=options.seed,
        )

    params, summary = _search(options, make, X, y, folds, "roc_auc", say)
    calibration = options.calibration

    def baseline_model() -> PropensityModel:
        return PropensityModel(
            options.baseline,  # type: ignore[arg-type]
            features=features,
            class_weight=options.class_weight,  # type: ignore[arg-type]
            calibration=calibration,  # type: ignore[arg-type]
            threads=options.threads,
            seed=options.seed,
        )

    say("choosing the decision thresholds on the last training cutoff")
    choice = _threshold(lambda: make(params, calibration), X, y, folds, options)
    base_choice = _threshold(baseline_model, X, y, folds, options)
    say(f"fitting {options.algorithm} on {len(X):,} rows")
    model = make(params, calibration).set_params(threshold=float(choice.threshold)).fit(X, y)
    say(f"fitting the {options.baseline} baseline")
    base = baseline_model().set_params(threshold=float(base_choice.threshold)).fit(X, y)
    p, q = model.predict_proba(Xt)[:, 1], base.predict_proba(Xt)[:, 1]
    metrics = classification_metrics(yt, p, float(choice.threshold))
    baseline = classification_metrics(yt, q, float(base_choice.threshold))
    keep = ("roc_auc", "pr_auc", "log_loss", "brier", "f1")
    return (
        model,
        _flatten(metrics),
        {k: float(baseline[k]) for k in keep if k in baseline},
        {options.algorithm: p, options.baseline: q},
        params,
        summary,
    )


def _threshold(
    make: Callable[[], PropensityModel],
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    options: TrainOptions,
) -> Any:
    """The objective's best threshold for a model of the earlier cutoffs, on the last."""
    if folds:
        fit_rows, valid_rows = folds[-1]
        early = make().fit(X.iloc[fit_rows], y[fit_rows])
        p_valid, y_valid = early.predict_proba(X.iloc[valid_rows])[:, 1], y[valid_rows]
    else:
        p_valid, y_valid = make().fit(X, y).predict_proba(X)[:, 1], y
    return choose_threshold(
        y_valid,
        p_valid,
        options.objective,  # type: ignore[arg-type]
        cost_matrix=options.costs,
        budget=options.budget,
    )


def _flatten(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out |= {f"{key}_{k}": v for k, v in value.items() if isinstance(v, int | float)}
        elif isinstance(value, int | float):
            out[key] = value
    return out


def _train_value(
    options: TrainOptions,
    features: list[Feature],
    X: pd.DataFrame,
    y: np.ndarray,
    Xt: pd.DataFrame,
    yt: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    say: Progress,
) -> tuple[Any, dict[str, Any], dict[str, float], dict[str, np.ndarray], dict, dict]:
    def make(params: dict[str, Any]) -> ValueModel:
        return ValueModel(
            options.algorithm,  # type: ignore[arg-type]
            params=params,
            features=features,
            threads=options.threads,
            seed=options.seed,
        )

    params, summary = _search(options, make, X, y, folds, "rmse", say)
    say(f"fitting {options.algorithm} on {len(X):,} rows")
    model = make(params).fit(X, y)
    base = ValueModel(options.baseline, features=features, seed=options.seed).fit(X, y)  # type: ignore[arg-type]
    p, q = model.predict(Xt), base.predict(Xt)
    metrics = regression_metrics(yt, p)
    baseline = regression_metrics(yt, q)
    return (
        model,
        _flatten(metrics),
        {k: float(v) for k, v in _flatten(baseline).items()},
        {options.algorithm: p, options.baseline: q},
        params,
        summary,
    )
