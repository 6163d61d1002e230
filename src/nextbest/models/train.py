"""Train, evaluate and register a model for a target, on temporal cutoffs.

The plan: with ``end`` the midnight after the latest data and ``h`` the target's
horizon, the evaluation cutoff is ``end - h`` (its outcomes are complete) and the
training cutoffs are the ``windows`` cutoffs ``h`` apart before it. Training rows
are snapshots at the training cutoffs with their outcomes, so no training outcome
reaches into the evaluation window.

Every training cutoff after the first is a rolling origin
(:mod:`nextbest.models.backtest`): a model fitted on the cutoffs before it predicts
it. Those fits serve three purposes at once. Hyper-parameters are searched over
them (the best trial's predictions are kept, so the origins are not fitted again);
probabilities are calibrated out of time, by isotonic or Platt scaling fitted on the
last training cutoff's predictions from the model of the earlier cutoffs, and the
decision threshold is chosen on those calibrated predictions; and they are the
backtest, which ends with the evaluation cutoff scored by the model fitted on every
training cutoff. With ``windows=1`` there is no origin: the model calibrates on
out-of-fold predictions instead.

The model is scored on the evaluation cutoff beside a logistic (or ridge) baseline,
explained by its global feature importance on a sample of evaluation rows, and
registered as a candidate that becomes champion when it beats the champion on the
same evaluation window (or is the first). For ``clv`` the BG/NBD x Gamma-Gamma model
fitted on the orders before the evaluation cutoff is evaluated on the same window
and registered too, as ``clv_bgnbd``.
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
from nextbest.models.backtest import OriginFit, origin_metrics, rolling_origin
from nextbest.models.registry import ModelRegistry, ModelVersion, fingerprint
from nextbest.models.tabular import PropensityModel, ValueModel
from nextbest.warehouse import Warehouse

__all__ = [
    "CLV_INPUTS",
    "Plan",
    "TrainOptions",
    "TrainResult",
    "clv_forecast",
    "order_summary",
    "plan_cutoffs",
    "train",
]

Progress = Callable[[str], None]
TOP_FEATURES = 15
CLV_INPUTS = ["frequency", "recency", "T", "monetary_value"]


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
    """How to train; every field has a working default.

    ``discount_rate`` is the annual rate the ``clv_bgnbd`` model discounts lifetime
    value at; ``importance_rows`` bounds the evaluation rows global importance is
    computed on (a seeded sample); ``clv_bgnbd`` registers the BG/NBD x Gamma-Gamma
    model beside a ``clv`` model.
    """

    algorithm: str = "lightgbm"
    baseline: str = "logistic"
    windows: int = 3
    trials: int = 20
    timeout_seconds: float | None = None
    calibration: str | None = "sigmoid"
    class_weight: str | None = "balanced"
    smote: bool = False
    objective: str = "f1"
    budget: float = 0.1
    costs: dict[str, float] | None = None
    threads: int = 1
    seed: int = 0
    as_of: dt.datetime | None = None
    discount_rate: float = 0.1
    importance_rows: int = 20_000
    clv_bgnbd: bool = True

    @property
    def steps(self) -> int:
        """How many progress messages :func:`train` gives at most (for a progress bar)."""
        return self.windows + 8


@dataclass
class TrainResult:
    """What a training run produced.

    ``backtest`` has one record per rolling origin (oldest first, the evaluation
    cutoff last): ``origin``, ``trained_on`` (the cutoffs its model was fitted on),
    ``rows``, ``calibrated`` and the ``model``'s and ``baseline``'s metrics there.
    ``importance`` lists the most important features; ``fits`` counts the models
    fitted (``search``, ``backtest``, ``final`` and ``total`` of the chosen
    algorithm, ``baseline``); ``companions`` describes models registered beside it
    (``clv_bgnbd``).
    """

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
    backtest: list[dict[str, Any]] = field(default_factory=list)
    importance: list[dict[str, Any]] = field(default_factory=list)
    fits: dict[str, int] = field(default_factory=dict)
    companions: list[dict[str, Any]] = field(default_factory=list)

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
            "backtest": self.backtest,
            "importance": self.importance,
            "fits": self.fits,
            "companions": self.companions,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class _Fitted:
    """What fitting a model and its baseline on the training rows produced."""

    model: Any
    metrics: dict[str, Any]
    baseline: dict[str, float]
    scores: dict[str, np.ndarray]
    params: dict[str, Any]
    search: dict[str, Any]
    backtest: list[dict[str, Any]]
    fits: dict[str, int]


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
    order: list[dt.datetime],
    metric: str,
    progress: Progress,
) -> tuple[dict[str, Any], dict[str, Any], dict[dt.datetime, np.ndarray], int]:
    """Best parameters, a summary, the best trial's predictions per origin, the fit count."""
    if options.trials <= 0 or not folds or options.algorithm != "lightgbm":
        return {}, {"trials": 0}, {}, 0
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
        keep_predictions=True,
    )
    summary = {
        "trials": len(found.trials),
        "pruned": int(found.n_pruned),
        "best_score": float(found.best_score),
        "best_params": found.best_params,
        "seconds": round(float(found.seconds), 2),
    }
    # fold k validates on the cutoff order[k + 1]: its model is the backtest's there
    reuse = dict(zip(order[1:], found.predictions or (), strict=False))
    return dict(found.best_params), summary, reuse, found.fits


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
    """Train, backtest, evaluate, register (and maybe promote) a model for ``target``.

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
    times = train_rows["_cutoff"]
    data = (options, features, X, y, Xt, yt, times, plan, say)
    fit = _train_binary(*data) if target.task == "binary" else _train_value(*data)
    model, metrics, baseline, scores = fit.model, fit.metrics, fit.baseline, fit.scores
    importance, sampled = _importance(model, X, Xt, features, options, say)
    probabilistic = None
    if target.kind == "clv" and options.clv_bgnbd:
        probabilistic = _fit_probabilistic(wh, plan, target, options, test_rows, yt, say)
        if probabilistic.predictions is not None:
            scores["bg/nbd x gamma-gamma"] = probabilistic.predictions
            baseline |= {f"bgnbd_{k}": v for k, v in probabilistic.metrics.items()}
    report = None
    if report_dir is not None:
        say("writing the evaluation report")
        title = f"{target.name} model: {options.algorithm} vs {options.baseline}"
        extra = {"target": target.name, "horizon_days": target.horizon_days}
        extra |= {"evaluation_window": [str(plan.test), str(plan.end)]}
        extra |= {"fits": fit.fits, "importance_rows": sampled}
        if not importance:
            extra["global importance"] = f"not computed for {options.algorithm} models"
        if probabilistic is not None and probabilistic.model is None:
            extra["bg/nbd x gamma-gamma"] = probabilistic.reason
        primary = "roc_auc" if target.task == "binary" else "rmse"
        sections = {
            "backtest": {"metric": primary, "origins": fit.backtest},
            "importance": importance or None,
        }
        if target.task == "binary":
            report, _ = write_classification_report(
                report_dir,
                f"model-{target.name}",
                yt,
                scores,
                model.threshold_,
                title,
                extra,
                **sections,  # type: ignore[arg-type]
            )
        else:
            report, _ = write_regression_report(
                report_dir,
                f"model-{target.name}",
                yt,
                scores,
                title,
                extra,
                **sections,  # type: ignore[arg-type]
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
            "learner": fit.params,
            "horizon_days": target.horizon_days,
            "target": target.kind,
            "category": target.category,
            "active_days": target.active_days,
            **({"threshold": float(model.threshold_)} if target.task == "binary" else {}),
            **(
                {"calibration": options.calibration, "calibrated_on": model.calibrated_on_}
                if target.task == "binary"
                else {}
            ),
        },
        notes=f"trained on {len(train_rows):,} rows at {len(plan.train)} cutoffs",
        importance=importance,
        backtest=fit.backtest,
    )
    promoted, verdict = _promote(registry, version)
    companions = []
    if probabilistic is not None:
        companions.append(_register_probabilistic(registry, probabilistic, plan, target))
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
        fit.search,
        fit.backtest,
        importance,
        fit.fits,
        companions,
    )


def order_summary(wh: Warehouse, cutoff: dt.datetime) -> pd.DataFrame:
    """Frequency, recency, T and mean repeat spend per customer from the orders before
    ``cutoff``, in days (:func:`nextbest.models.clv.rfm_summary`; the last day is the
    day before ``cutoff``)."""
    import ibis

    from nextbest.models.clv import rfm_summary

    orders = wh.table("orders")
    orders = orders.filter(orders.ordered_at < ibis.literal(cutoff, type="timestamp(6)"))
    frame = wh.to_pandas(
        orders.select("customer_id", timestamp="ordered_at", value=orders.total.cast("float64"))
    )
    return rfm_summary(frame, cutoff - dt.timedelta(days=1), unit="days")


def clv_forecast(wh: Warehouse, cutoff: dt.datetime, horizon_days: int) -> pd.Series:
    """Expected spend per customer in ``[cutoff, cutoff + horizon)`` from BG/NBD
    (expected purchase days) times Gamma-Gamma (expected spend per purchase day),
    both fitted in days on the orders before ``cutoff``
    (:class:`~nextbest.models.clv.BGNBDGammaGamma`)."""
    from nextbest.models.clv import BGNBDGammaGamma

    summary = order_summary(wh, cutoff)
    model = BGNBDGammaGamma(horizon_days=horizon_days).fit(summary)
    return model.predict_frame(summary)["expected_value"]


@dataclass
class _Probabilistic:
    """The BG/NBD x Gamma-Gamma model of a clv target, or why there is none."""

    model: Any = None
    summary: pd.DataFrame | None = None
    predictions: np.ndarray | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def _fit_probabilistic(
    wh: Warehouse,
    plan: Plan,
    target: Target,
    options: TrainOptions,
    test_rows: pd.DataFrame,
    yt: np.ndarray,
    say: Progress,
) -> _Probabilistic:
    from nextbest.models.clv import BGNBDGammaGamma

    say("fitting BG/NBD and Gamma-Gamma on the orders before the evaluation cutoff")
    summary = order_summary(wh, plan.test)
    try:
        model = BGNBDGammaGamma(
            horizon_days=target.horizon_days, discount_rate=options.discount_rate
        ).fit(summary)
    except NextBestError as err:
        return _Probabilistic(reason=f"not fitted: {err.message}")
    forecast = model.predict_frame(summary)["expected_value"]
    predictions = forecast.reindex(test_rows["customer_id"]).fillna(0.0).to_numpy()
    metrics = {
        k: float(v)
        for k, v in _flatten(regression_metrics(yt, predictions)).items()
        if v is not None and np.isfinite(v)
    }
    return _Probabilistic(model, summary, predictions, metrics)


def _register_probabilistic(
    registry: ModelRegistry, fitted: _Probabilistic, plan: Plan, target: Target
) -> dict[str, Any]:
    name = f"{target.name}_bgnbd"
    if fitted.model is None or fitted.summary is None:
        return {"model": name, "registered": False, "verdict": fitted.reason}
    model, summary = fitted.model, fitted.summary
    first = plan.test - dt.timedelta(days=float(summary["T"].max()) + 1)
    version = registry.register(
        name,
        model,
        task="clv",
        training_window=(min(first, plan.test), plan.test),
        evaluation_window=(plan.test, plan.end),
        features=CLV_INPUTS,
        metrics=fitted.metrics,
        primary_metric="rmse",
        data_fingerprint=fingerprint(summary),
        params={
            "horizon_days": target.horizon_days,
            "discount_rate": model.discount_rate,
            "unit": "days",
            **model.params_,
        },
        notes=(
            f"BG/NBD x Gamma-Gamma fitted in days on the orders of {len(summary):,} "
            f"customers before {plan.test:%Y-%m-%d}; metrics compare its expected spend in "
            f"the {target.horizon_days} days after that with the actual spend."
        ),
    )
    promoted, verdict = _promote(registry, version)
    return {
        "model": name,
        "registered": True,
        "version": version.version,
        "stage": registry.get(name, version.version).stage,
        "promoted": promoted,
        "verdict": verdict,
        "metrics": fitted.metrics,
    }


def _promote(registry: ModelRegistry, version: ModelVersion) -> tuple[bool, str]:
    from nextbest.errors import PromotionError

    try:
        promoted = registry.promote(version.name, version.version)
    except PromotionError as err:
        return False, err.message
    return True, promoted.stage_history[-1].get("reason", "") if promoted.stage_history else ""


def _flatten(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out |= {f"{key}_{k}": v for k, v in value.items() if isinstance(v, int | float)}
        elif isinstance(value, int | float):
            out[key] = value
    return out


def _origin_record(
    task: str,
    origin: dt.datetime,
    trained_on: list[dt.datetime],
    y: np.ndarray,
    model: np.ndarray,
    baseline: np.ndarray,
    calibrated: bool | None,
) -> dict[str, Any]:
    return {
        "origin": origin.isoformat(),
        "trained_on": [c.isoformat() for c in trained_on],
        "rows": len(y),
        "calibrated": calibrated,
        "model": origin_metrics(task, y, model),
        "baseline": origin_metrics(task, y, baseline),
    }


def _backtest(
    task: str,
    model_fits: list[OriginFit],
    base_fits: list[OriginFit],
    plan: Plan,
    yt: np.ndarray,
    p: np.ndarray,
    q: np.ndarray,
    calibrated: bool | None,
) -> list[dict[str, Any]]:
    """One record per origin, oldest first; the evaluation cutoff last, scored by the
    models fitted on every training cutoff."""
    records = []
    for mine, theirs in zip(model_fits, base_fits, strict=True):
        state = None if calibrated is None else mine.calibrated is not None
        records.append(
            _origin_record(
                task,
                mine.origin,
                mine.trained_on,
                mine.y,
                mine.prediction,
                theirs.prediction,
                state,
            )
        )
    records.append(_origin_record(task, plan.test, plan.train, yt, p, q, calibrated))
    return records


def _train_binary(
    options: TrainOptions,
    features: list[Feature],
    X: pd.DataFrame,
    y: np.ndarray,
    Xt: pd.DataFrame,
    yt: np.ndarray,
    times: pd.Series,
    plan: Plan,
    say: Progress,
) -> _Fitted:
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

    def baseline_model(calibration: str | None = None) -> PropensityModel:
        return PropensityModel(
            options.baseline,  # type: ignore[arg-type]
            features=features,
            class_weight=options.class_weight,  # type: ignore[arg-type]
            calibration=calibration,  # type: ignore[arg-type]
            threads=options.threads,
            seed=options.seed,
        )

    folds = _folds(times, plan.train)
    params, summary, reuse, searched = _search(
        options, make, X, y, folds, plan.train, "roc_auc", say
    )
    calibration = options.calibration
    if folds:
        say(f"backtesting {len(folds)} rolling origins; calibrating on the last training cutoff")
    model_fits = rolling_origin(
        lambda: make(params),
        X,
        y,
        times,
        calibration=calibration,  # type: ignore[arg-type]
        reuse=reuse,
    )
    base_fits = rolling_origin(baseline_model, X, y, times, calibration=calibration)  # type: ignore[arg-type]
    say(f"fitting {options.algorithm} on {len(X):,} rows")
    model = _fit_final(make(params, calibration), model_fits, X, y, options)
    say(f"fitting the {options.baseline} baseline")
    base = _fit_final(baseline_model(calibration), base_fits, X, y, options)
    p, q = model.predict_proba(Xt)[:, 1], base.predict_proba(Xt)[:, 1]
    metrics = classification_metrics(yt, p, float(model.threshold_))
    baseline = classification_metrics(yt, q, float(base.threshold_))
    keep = ("roc_auc", "pr_auc", "log_loss", "brier", "f1")
    calibrated = None if calibration is None else model.calibrator_ is not None
    folds_per_fit = 1 + (model.calibration_folds if model.calibrated_on_ == "out-of-fold" else 0)
    backtested = sum(not f.reused for f in model_fits)
    fits = {
        "search": searched,
        "backtest": backtested,
        "final": folds_per_fit,
        "total": searched + backtested + folds_per_fit,
        "baseline": len(base_fits)
        + 1
        + (base.calibration_folds if base.calibrated_on_ == "out-of-fold" else 0),
    }
    return _Fitted(
        model,
        _flatten(metrics),
        {k: float(baseline[k]) for k in keep if k in baseline},
        _named(options, p, q),
        params,
        summary,
        _backtest("binary", model_fits, base_fits, plan, yt, p, q, calibrated),
        fits,
    )


def _fit_final(
    model: PropensityModel,
    origins: list[OriginFit],
    X: pd.DataFrame,
    y: np.ndarray,
    options: TrainOptions,
) -> PropensityModel:
    """Fit on every training cutoff with the last origin's calibrator and a threshold
    chosen on that origin's calibrated out-of-time probabilities.

    Without an origin (one training cutoff) the model calibrates on out-of-fold
    predictions and the threshold is chosen on its own training rows."""

    def threshold(y_valid: np.ndarray, p_valid: np.ndarray) -> float:
        choice = choose_threshold(
            y_valid,
            p_valid,
            options.objective,  # type: ignore[arg-type]
            cost_matrix=options.costs,
            budget=options.budget,
        )
        return float(choice.threshold)

    if not origins:
        model.fit(X, y)
        model.threshold = model.threshold_ = threshold(y, model.predict_proba(X)[:, 1])
        return model
    last = origins[-1]
    calibrator = last.calibrator
    p_valid = last.raw if calibrator is None else np.clip(calibrator.predict(last.raw), 0, 1)
    model.set_params(threshold=threshold(last.y, p_valid))
    if calibrator is None and model.calibration is not None:
        return model.fit(X, y)  # the last origin held one outcome only: out-of-fold
    return model.fit(X, y, calibrator=calibrator)


def _train_value(
    options: TrainOptions,
    features: list[Feature],
    X: pd.DataFrame,
    y: np.ndarray,
    Xt: pd.DataFrame,
    yt: np.ndarray,
    times: pd.Series,
    plan: Plan,
    say: Progress,
) -> _Fitted:
    def make(params: dict[str, Any]) -> ValueModel:
        return ValueModel(
            options.algorithm,  # type: ignore[arg-type]
            params=params,
            features=features,
            threads=options.threads,
            seed=options.seed,
        )

    def baseline_model() -> ValueModel:
        return ValueModel(options.baseline, features=features, seed=options.seed)  # type: ignore[arg-type]

    folds = _folds(times, plan.train)
    params, summary, reuse, searched = _search(options, make, X, y, folds, plan.train, "rmse", say)
    if folds:
        say(f"backtesting {len(folds)} rolling origins")
    model_fits = rolling_origin(lambda: make(params), X, y, times, task="regression", reuse=reuse)
    base_fits = rolling_origin(baseline_model, X, y, times, task="regression")
    say(f"fitting {options.algorithm} on {len(X):,} rows")
    model = make(params).fit(X, y)
    base = baseline_model().fit(X, y)
    p, q = model.predict(Xt), base.predict(Xt)
    metrics = regression_metrics(yt, p)
    baseline = regression_metrics(yt, q)
    backtested = sum(not f.reused for f in model_fits)
    fits = {
        "search": searched,
        "backtest": backtested,
        "final": 1,
        "total": searched + backtested + 1,
        "baseline": len(base_fits) + 1,
    }
    return _Fitted(
        model,
        _flatten(metrics),
        {k: float(v) for k, v in _flatten(baseline).items()},
        _named(options, p, q),
        params,
        summary,
        _backtest("regression", model_fits, base_fits, plan, yt, p, q, None),
        fits,
    )


def _importance(
    model: Any,
    X: pd.DataFrame,
    Xt: pd.DataFrame,
    features: list[Feature],
    options: TrainOptions,
    say: Progress,
) -> tuple[list[dict[str, Any]], int]:
    """Mean |SHAP| (and LightGBM's gain) per feature on at most ``importance_rows``
    evaluation rows drawn with the seed; the top features and the rows used."""
    from nextbest.models.explain import global_importance

    if model.algorithm == "random_forest" or len(Xt) == 0:
        return [], 0
    rng = np.random.default_rng(options.seed)
    n = min(len(Xt), max(1, int(options.importance_rows)))
    sample = Xt.iloc[np.sort(rng.choice(len(Xt), n, replace=False))]
    background = X.iloc[np.sort(rng.choice(len(X), min(len(X), n), replace=False))]
    say(f"global importance on {n:,} evaluation rows")
    table = global_importance(
        model.pipeline_, sample, features, background=background, num_threads=options.threads
    )
    records = []
    for name, row in table.head(TOP_FEATURES).iterrows():
        record: dict[str, Any] = {
            "feature": str(name),
            "mean_abs_shap": float(row["mean_abs_contribution"]),
            "share": float(row["share"]),
        }
        if "gain_share" in table.columns:
            record["gain_share"] = float(row["gain_share"])
        records.append(record)
    return records, n


def _named(options: TrainOptions, p: np.ndarray, q: np.ndarray) -> dict[str, np.ndarray]:
    """The model's and the baseline's scores by name (told apart when they share one)."""
    base = options.baseline if options.baseline != options.algorithm else "baseline"
    return {options.algorithm: p, base: q}
