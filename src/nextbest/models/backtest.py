"""Rolling-origin backtests over temporal cutoffs, and calibration out of time.

Training rows carry the cutoff they were observed at. Each *origin* is a cutoff
after the first: a model is fitted on the rows of the cutoffs before it and
predicts the origin's rows, so no origin is ever predicted by a model that saw its
own or later data. This is how the model would have done had it been trained and
used at each of those dates.

The same fits calibrate probabilities without mixing periods: the calibrator fitted
on one origin's (uncalibrated prediction, outcome) pairs is applied to the next
origin's predictions, which come from a model fitted one cutoff later. The
calibrator of the last origin is the one a model fitted on every cutoff uses
(:meth:`nextbest.models.tabular.PropensityModel.fit` with ``calibrator=``).

Predictions already made by an identical model (a hyper-parameter search fits
exactly these models on its rolling folds) can be passed in ``reuse``; those
origins are then not fitted again.

>>> import numpy as np, pandas as pd
>>> from nextbest.models.tabular import PropensityModel
>>> rng = np.random.default_rng(0)
>>> times = np.repeat(pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]), 300)
>>> X = pd.DataFrame({"x": rng.normal(size=900)})
>>> y = (X.x + rng.normal(size=900) > 0).astype(int).to_numpy()
>>> fits = rolling_origin(lambda: PropensityModel("logistic", calibration=None),
...                       X, y, times, calibration="isotonic")
>>> [(f"{f.origin:%m-%d}", [f"{t:%m-%d}" for t in f.trained_on]) for f in fits]
[('02-01', ['01-01']), ('03-01', ['01-01', '02-01'])]
>>> fits[0].calibrated is None, fits[1].calibrated is not None
(True, True)
>>> sorted(origin_metrics("binary", fits[1].y, fits[1].prediction))
['base_rate', 'brier', 'log_loss', 'n', 'pr_auc', 'roc_auc']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from nextbest.errors import ConfigError
from nextbest.models.tabular import fit_calibrator

__all__ = ["OriginFit", "origin_metrics", "rolling_origin"]

CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier")
REGRESSION_METRICS = ("rmse", "mae", "r2", "spearman")


@dataclass
class OriginFit:
    """One origin of a rolling-origin backtest.

    ``raw`` is the prediction of a model fitted on the ``trained_on`` cutoffs for
    the origin's rows (positions ``rows``, outcomes ``y``). For probabilities,
    ``calibrated`` is ``raw`` through the latest earlier origin's calibrator (None at
    the first origin, which has no earlier out-of-time predictions) and
    ``calibrator`` is fitted on this origin's ``raw`` and ``y`` (None when they hold
    one outcome only). ``reused`` says the predictions
    came from ``reuse`` rather than a new fit.
    """

    origin: Any
    trained_on: list[Any]
    rows: np.ndarray
    y: np.ndarray
    raw: np.ndarray
    calibrated: np.ndarray | None = None
    calibrator: Any = None
    reused: bool = False

    @property
    def prediction(self) -> np.ndarray:
        """The calibrated prediction where there is one, else the raw one."""
        return self.raw if self.calibrated is None else self.calibrated


def _cutoffs(times: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    stamps = pd.to_datetime(pd.Series(np.asarray(times))).to_numpy()
    if len(stamps) != n:
        raise ConfigError(f"times has {len(stamps)} values for {n} rows", field="times")
    if pd.isna(stamps).any():
        raise ConfigError("every row needs the cutoff it was observed at", field="times")
    return stamps, np.unique(stamps)


def _predict(model: Any, X: pd.DataFrame, task: str) -> np.ndarray:
    if task == "binary":
        return np.asarray(model.predict_proba(X)[:, 1], dtype=float)
    return np.asarray(model.predict(X), dtype=float)


def rolling_origin(
    make: Callable[[], Any],
    X: pd.DataFrame,
    y: Any,
    times: Any,
    *,
    task: Literal["binary", "regression"] = "binary",
    calibration: Literal["isotonic", "sigmoid"] | None = None,
    reuse: Mapping[Any, np.ndarray] | None = None,
) -> list[OriginFit]:
    """Fit on the cutoffs before each origin and predict it, oldest origin first.

    For probabilities, an origin whose earlier cutoffs hold one outcome only has
    nothing to learn from and is left out.

    Parameters
    ----------
    make
        ``() -> unfitted estimator``: a classifier with ``predict_proba`` (its raw,
        uncalibrated probability) for ``task="binary"``, else a regressor.
    X, y
        Rows of every cutoff and their outcomes.
    times
        Each row's cutoff; the distinct cutoffs after the first are the origins.
    calibration
        ``isotonic`` or ``sigmoid``: fit a calibrator on each origin's predictions and
        apply it to the next origin's (binary only).
    reuse
        Origin -> predictions for its rows (in row order) that an estimator from
        ``make`` fitted on the earlier cutoffs makes; those origins are not fitted.
    """
    if task not in ("binary", "regression"):
        raise ConfigError(f"unknown task {task!r}", field="task", hint="Use binary or regression.")
    if calibration is not None and task != "binary":
        raise ConfigError("only probabilities are calibrated", field="calibration")
    outcome = np.asarray(y)
    stamps, order = _cutoffs(times, len(outcome))
    if len(X) != len(outcome):
        raise ConfigError(f"X has {len(X)} rows but y has {len(outcome)}", field="y")
    known = {pd.Timestamp(k): v for k, v in (reuse or {}).items()}
    fits: list[OriginFit] = []
    calibrator = None
    for i, origin in enumerate(order[1:], start=1):
        fit_rows = np.flatnonzero(stamps < origin)
        rows = np.flatnonzero(stamps == origin)
        if task == "binary" and len(np.unique(outcome[fit_rows])) < 2:
            continue  # nothing to learn from yet: this origin is not backtested
        given = known.get(pd.Timestamp(origin))
        if given is not None and len(given) == len(rows):
            raw, reused = np.asarray(given, dtype=float), True
        else:
            model = make().fit(X.iloc[fit_rows], outcome[fit_rows])
            raw, reused = _predict(model, X.iloc[rows], task), False
        fit = OriginFit(
            origin=pd.Timestamp(origin).to_pydatetime(),
            trained_on=[pd.Timestamp(t).to_pydatetime() for t in order[:i]],
            rows=rows,
            y=outcome[rows],
            raw=raw,
            reused=reused,
        )
        if calibration is not None:
            if calibrator is not None:
                fit.calibrated = np.clip(calibrator.predict(raw), 0.0, 1.0)
            if len(np.unique(fit.y)) == 2:
                fit.calibrator = calibrator = fit_calibrator(raw, fit.y, calibration)
        fits.append(fit)
    return fits


def origin_metrics(task: str, y: Any, prediction: Any) -> dict[str, float | int | None]:
    """The backtest metrics of one origin: ROC-AUC, PR-AUC, log loss and Brier score for
    probabilities (and the base rate), RMSE, MAE, R² and Spearman for values; ``None``
    where a metric is undefined (one class only, constant values).

    >>> origin_metrics("regression", [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])["mae"]
    0.3333333333333333
    """
    from nextbest.evaluation.classification import brier_score, log_loss
    from nextbest.evaluation.curves import average_precision, roc_auc
    from nextbest.evaluation.regression import regression_metrics

    actual = np.asarray(y)
    pred = np.asarray(prediction, dtype=float)
    if task == "binary":
        out: dict[str, float | int | None] = {"n": int(actual.size)}
        out["base_rate"] = float(actual.mean()) if actual.size else None
        both = len(np.unique(actual)) == 2
        out["roc_auc"] = float(roc_auc(actual, pred)) if both else None
        out["pr_auc"] = float(average_precision(actual, pred)) if both else None
        out["log_loss"] = float(log_loss(actual, pred))
        out["brier"] = float(brier_score(actual, pred))
        return out
    m = regression_metrics(actual, pred)
    return {"n": int(m["n"]), **{k: m[k] for k in REGRESSION_METRICS}}
