"""Evaluation reports: one self-contained HTML file and a JSON file, model beside baselines.

A model's numbers mean little alone, so a report always compares the model (the
first entry of ``scores``) with at least one baseline (the others: a simpler
model, last period's model, a popularity rule). The JSON holds every number the
HTML shows, including the points of each drawn curve.

>>> y = [0, 1, 0, 1, 1, 0, 0, 1, 0, 0]
>>> model = [0.1, 0.9, 0.3, 0.7, 0.8, 0.2, 0.4, 0.6, 0.3, 0.1]
>>> baseline = [0.3, 0.5, 0.4, 0.4, 0.6, 0.5, 0.3, 0.4, 0.5, 0.2]
>>> r = classification_report(y, {"model": model, "baseline": baseline}, n_boot=100)
>>> r["models"]["model"]["metrics"]["roc_auc"], r["models"]["baseline"]["metrics"]["roc_auc"]
(1.0, 0.75)

:func:`write_classification_report` takes the same arguments plus a folder and a
file name, and writes ``<name>.html`` and ``<name>.json`` there.

Both kinds of report can also show a rolling-origin backtest (``backtest``: the
primary metric's name and one record per origin with the model's and the first
baseline's metrics, drawn as a line by origin) and the model's global feature
importance (``importance``: one record per feature, drawn as bars):

>>> bt = {"metric": "roc_auc", "origins": [
...     {"origin": "2025-02-01", "trained_on": ["2025-01-01"], "rows": 10,
...      "model": {"roc_auc": 0.8}, "baseline": {"roc_auc": 0.7}}]}
>>> imp = [{"feature": "recency", "mean_abs_shap": 0.5, "share": 1.0, "gain_share": 1.0}]
>>> r = classification_report(y, {"model": model, "baseline": baseline}, n_boot=10,
...                           backtest=bt, importance=imp)
>>> r["backtest"]["origins"][0]["model"]["roc_auc"], r["importance"][0]["feature"]
(0.8, 'recency')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from nextbest.evaluation.bootstrap import paired_auc_bootstrap, paired_bootstrap
from nextbest.evaluation.charts import (
    backtest_chart,
    calibration_chart,
    decile_chart,
    gains_chart,
    importance_chart,
    lift_chart,
    pr_chart,
    roc_chart,
)
from nextbest.evaluation.classification import (
    calibration_curve,
    classification_metrics,
    lift_table,
)
from nextbest.evaluation.curves import pr_curve, roc_curve, thin_curve
from nextbest.evaluation.inputs import (
    ArrayLike,
    EvaluationInputError,
    check_binary_scores,
    check_paired,
    is_probability,
)
from nextbest.evaluation.regression import decile_calibration, regression_metrics
from nextbest.reporting import write_report
from nextbest.reporting.jsonready import json_ready

__all__ = [
    "classification_report",
    "regression_report",
    "write_classification_report",
    "write_regression_report",
]

_CURVE_POINTS = 200


def _models(values: Mapping[str, ArrayLike], field: str) -> dict[str, ArrayLike]:
    if len(values) < 2:
        raise EvaluationInputError(
            f"got {len(values)} model(s); a report shows the model beside at least one baseline.",
            field=field,
            hint="Pass e.g. {'lightgbm': p, 'logistic': q}: the first is the model.",
        )
    return dict(values)


def _thresholds(
    threshold: float | Mapping[str, float] | None, names: list[str]
) -> dict[str, float | None]:
    if isinstance(threshold, Mapping):
        missing = [n for n in names if n not in threshold]
        if missing:
            raise EvaluationInputError(
                f"no threshold for {missing}; give one per model or a single number.",
                field="threshold",
            )
        return {n: float(threshold[n]) for n in names}
    return dict.fromkeys(names, None if threshold is None else float(threshold))


def _stamp(title: str, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "title": title,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "extra": dict(extra or {}),
    }


def classification_report(
    y_true: ArrayLike,
    scores: Mapping[str, ArrayLike],
    threshold: float | Mapping[str, float] | None = None,
    *,
    title: str = "Binary model evaluation",
    extra: Mapping[str, Any] | None = None,
    bins: int = 10,
    k_fracs: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2),
    n_boot: int = 1000,
    seed: int = 0,
    backtest: Mapping[str, Any] | None = None,
    importance: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The numbers of a classification report (see :func:`write_classification_report`)."""
    models = _models(scores, "scores")
    names = list(models)
    y, _ = check_binary_scores(y_true, models[names[0]], field=names[0], both_classes=True)
    checked = {n: check_binary_scores(y, s, field=n)[1] for n, s in models.items()}
    thresholds = _thresholds(threshold, names)
    out: dict[str, Any] = _stamp(title, extra) | {
        "kind": "classification",
        "model": names[0],
        "baselines": names[1:],
        "n": int(y.size),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()),
        "models": {},
        "comparisons": {},
    }
    for name, s in checked.items():
        fpr, tpr, _ = roc_curve(y, s)
        recall, precision, _ = pr_curve(y, s)
        roc_x, roc_y = thin_curve(fpr, tpr, _CURVE_POINTS)
        pr_x, pr_y = thin_curve(np.r_[0.0, recall], np.r_[precision[0], precision], _CURVE_POINTS)
        out["models"][name] = {
            "metrics": classification_metrics(y, s, thresholds[name], k_fracs),
            "lift": lift_table(y, s, bins),
            "calibration": calibration_curve(y, s, bins) if is_probability(s) else None,
            "roc": {"fpr": roc_x, "tpr": roc_y},
            "pr": {"recall": pr_x, "precision": pr_y},
        }
    for name in names[1:]:
        cmp = paired_auc_bootstrap(y, checked[name], checked[names[0]], n_boot=n_boot, seed=seed)
        out["comparisons"][name] = cmp.to_dict()
    return json_ready(_add_sections(out, backtest, importance))


def _add_sections(
    out: dict[str, Any],
    backtest: Mapping[str, Any] | None,
    importance: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    if backtest is not None:
        origins = list(backtest.get("origins", []))
        if "metric" not in backtest or not origins:
            raise EvaluationInputError(
                "a backtest needs its metric and at least one origin.",
                field="backtest",
                hint="Pass {'metric': 'roc_auc', 'origins': [{'origin': ..., 'model': {...}, "
                "'baseline': {...}}, ...]}.",
            )
        out["backtest"] = {"metric": str(backtest["metric"]), "origins": origins}
    if importance is not None:
        out["importance"] = [dict(r) for r in importance]
    return out


def _section_charts(r: dict[str, Any]) -> dict[str, str]:
    charts: dict[str, str] = {}
    backtest = r.get("backtest")
    if backtest:
        metric, origins = backtest["metric"], backtest["origins"]
        names = {"model": r["model"], "baseline": (r["baselines"] or ["baseline"])[0]}
        charts["backtest"] = backtest_chart(
            [str(o["origin"])[:10] for o in origins],
            {label: [o.get(key, {}).get(metric) for o in origins] for key, label in names.items()},
            metric,
            title=f"Backtest: {metric} by origin",
        )
    importance = r.get("importance")
    if importance:
        bars = {"mean |SHAP|": [row.get("share") or 0.0 for row in importance]}
        if all(row.get("gain_share") is not None for row in importance):
            bars["gain"] = [row["gain_share"] for row in importance]
        charts["importance"] = importance_chart([row["feature"] for row in importance], bars)
    return charts


def _classification_charts(r: dict[str, Any]) -> dict[str, str]:
    models = r["models"]
    calibrated = {n: m["calibration"] for n, m in models.items() if m["calibration"]}
    charts = {
        "roc": roc_chart({n: (m["roc"]["fpr"], m["roc"]["tpr"]) for n, m in models.items()}),
        "pr": pr_chart(
            {n: (m["pr"]["recall"], m["pr"]["precision"]) for n, m in models.items()},
            r["base_rate"],
        ),
        "gains": gains_chart(
            {
                n: (
                    [row["cum_customers"] / r["n"] for row in m["lift"]],
                    [row["cum_gain"] for row in m["lift"]],
                )
                for n, m in models.items()
            }
        ),
        "lift": lift_chart({n: [row["lift"] for row in m["lift"]] for n, m in models.items()}),
    }
    if calibrated:
        charts["calibration"] = calibration_chart(
            {
                n: ([b["mean_predicted"] for b in c], [b["observed_rate"] for b in c])
                for n, c in calibrated.items()
            }
        )
    return charts | _section_charts(r)


def _template() -> str:
    return files("nextbest.evaluation").joinpath("report.html.j2").read_text(encoding="utf-8")


def write_classification_report(
    folder: Path,
    name: str,
    y_true: ArrayLike,
    scores: Mapping[str, ArrayLike],
    threshold: float | Mapping[str, float] | None = None,
    title: str = "Binary model evaluation",
    extra: Mapping[str, Any] | None = None,
    *,
    bins: int = 10,
    k_fracs: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2),
    n_boot: int = 1000,
    seed: int = 0,
    backtest: Mapping[str, Any] | None = None,
    importance: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Path, Path]:
    """Write ``<name>.html`` and ``<name>.json`` comparing a binary model with its baselines.

    Parameters
    ----------
    folder : Path
        Created if missing.
    name : str
        File stem.
    y_true : array of 0/1
        Observed outcomes.
    scores : dict of name -> array
        Scores per model on the same rows: the first is the model, the others
        baselines (at least one).
    threshold : float or dict of name -> float, optional
        Decision threshold for the confusion matrix and threshold metrics, one
        for all or one per model; default 0.5 (probabilities only).
    title : str
        Report heading.
    extra : dict, optional
        Anything else to record (training window, features, parameters); shown
        as a table and stored under ``extra``.
    bins, k_fracs : int, tuple of float
        Deciles for lift and calibration; top shares for precision at top-k.
    n_boot, seed : int
        Stratified bootstrap of each baseline's AUC against the model's.
    backtest : dict, optional
        ``{"metric": name, "origins": [record, ...]}``, a record per rolling origin
        (oldest first) with ``origin``, ``trained_on``, ``rows`` and the ``model``'s
        and ``baseline``'s metrics: a table and a line chart of ``metric`` by origin.
    importance : list of dict, optional
        One record per feature (``feature``, ``mean_abs_shap``, ``share``,
        ``gain_share``), most important first: a table and a bar chart.

    Returns
    -------
    (Path, Path)
        The HTML and JSON paths.
    """
    r = classification_report(
        y_true,
        scores,
        threshold,
        title=title,
        extra=extra,
        bins=bins,
        k_fracs=k_fracs,
        n_boot=n_boot,
        seed=seed,
        backtest=backtest,
        importance=importance,
    )
    return write_report(Path(folder), name, r, _template(), _classification_charts(r))


def regression_report(
    y_true: ArrayLike,
    predictions: Mapping[str, ArrayLike],
    *,
    title: str = "Regression model evaluation",
    extra: Mapping[str, Any] | None = None,
    bins: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    backtest: Mapping[str, Any] | None = None,
    importance: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The numbers of a regression report (see :func:`write_regression_report`)."""
    models = _models(predictions, "predictions")
    names = list(models)
    checked = {}
    for n, p in models.items():
        y, checked[n] = check_paired(y_true, p, ("y_true", n))
    out: dict[str, Any] = _stamp(title, extra) | {
        "kind": "regression",
        "model": names[0],
        "baselines": names[1:],
        "n": int(y.size),
        "models": {
            n: {"metrics": regression_metrics(y, p), "deciles": decile_calibration(y, p, bins)}
            for n, p in checked.items()
        },
        "comparisons": {},
    }
    model_error = np.abs(checked[names[0]] - y)
    for n in names[1:]:
        cmp = paired_bootstrap(model_error, np.abs(checked[n] - y), n_boot=n_boot, seed=seed)
        out["comparisons"][n] = cmp.to_dict()
    return json_ready(_add_sections(out, backtest, importance))


def write_regression_report(
    folder: Path,
    name: str,
    y_true: ArrayLike,
    predictions: Mapping[str, ArrayLike],
    title: str = "Regression model evaluation",
    extra: Mapping[str, Any] | None = None,
    *,
    bins: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    backtest: Mapping[str, Any] | None = None,
    importance: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Path, Path]:
    """Write ``<name>.html`` and ``<name>.json`` comparing a numeric model with its baselines.

    ``predictions`` maps names to predictions on the same rows, the model first.
    The report holds the metrics of :func:`regression_metrics` side by side, the
    predicted-against-actual decile table and chart, and for each baseline a
    paired bootstrap of its absolute error minus the model's (``difference`` is
    how much the model lowers MAE; ``share_b_better`` the share of resamples in
    which the baseline's error is higher). ``backtest`` and ``importance`` are as
    for :func:`write_classification_report`. Returns the HTML and JSON paths.
    """
    r = regression_report(
        y_true,
        predictions,
        title=title,
        extra=extra,
        bins=bins,
        n_boot=n_boot,
        seed=seed,
        backtest=backtest,
        importance=importance,
    )
    charts = {
        "deciles": decile_chart(
            {
                n: (
                    [d["mean_predicted"] for d in m["deciles"]],
                    [d["mean_actual"] for d in m["deciles"]],
                )
                for n, m in r["models"].items()
            }
        )
    }
    return write_report(Path(folder), name, r, _template(), charts | _section_charts(r))
