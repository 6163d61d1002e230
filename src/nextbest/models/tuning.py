"""Hyper-parameter search with Optuna over time-ordered validation folds.

:func:`search` tries ``n_trials`` parameter sets drawn by a seeded TPE sampler: each is
built into a model by ``make_model(params)``, fitted on every fold's training rows and
scored on its validation rows. The running mean after each fold is reported to Optuna,
so a median pruner stops a trial early once it is clearly worse than the earlier ones.
The same seed gives the same trials and the same best parameters.

Folds are ``(train_index, validation_index)`` pairs the caller builds from rolling-origin
cutoffs (train on snapshots before a cutoff, validate on the one after it), or an ``int``
for scikit-learn's ``TimeSeriesSplit``. With ``times`` (each row's snapshot time) every
fold is checked: its validation rows must all come after its training rows.

A space maps each parameter to a distribution: ``(low, high)`` (ints or floats),
``(low, high, "log")``, a list of choices, an Optuna distribution, or a plain value that
stays fixed. :func:`default_space` gives one per algorithm and :func:`model_factory`
the matching ``make_model``.

>>> from sklearn.datasets import make_classification
>>> X, y = make_classification(n_samples=300, n_features=5, random_state=0)
>>> result = search(model_factory("logistic"), {"C": (1e-3, 10.0, "log")}, X, y,
...                 folds=3, n_trials=4)
>>> sorted(result.best_params), len(result.trials)
(['C'], 4)
>>> 0.5 < result.best_score <= 1.0
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import Pipeline

from nextbest.errors import NextBestError

if TYPE_CHECKING:
    from nextbest.features.registry import Feature

__all__ = [
    "METRICS",
    "SearchResult",
    "default_space",
    "evaluate",
    "make_folds",
    "model_factory",
    "search",
]

Fold = tuple[np.ndarray, np.ndarray]
Space = Mapping[str, Any] | Callable[[optuna.Trial], dict[str, Any]]
Algorithm = Literal["lightgbm", "logistic", "random_forest"]


@dataclass(frozen=True)
class _Metric:
    score: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
    output: Literal["proba", "predict"]
    direction: Literal["maximize", "minimize"]


def _rmse(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> float:
    return float(np.sqrt(mean_squared_error(y, pred, sample_weight=w)))


METRICS: dict[str, _Metric] = {
    "roc_auc": _Metric(lambda y, p, w: roc_auc_score(y, p, sample_weight=w), "proba", "maximize"),
    "average_precision": _Metric(
        lambda y, p, w: average_precision_score(y, p, sample_weight=w), "proba", "maximize"
    ),
    "neg_log_loss": _Metric(
        lambda y, p, w: -log_loss(y, p, sample_weight=w, labels=[0, 1]), "proba", "maximize"
    ),
    "rmse": _Metric(_rmse, "predict", "minimize"),
    "mae": _Metric(
        lambda y, p, w: mean_absolute_error(y, p, sample_weight=w), "predict", "minimize"
    ),
    "r2": _Metric(lambda y, p, w: r2_score(y, p, sample_weight=w), "predict", "maximize"),
}
"""The metrics a search can optimise: name -> how to score, and which way is better."""


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    ``trials`` has one row per trial: ``number``, ``state`` (``COMPLETE``, ``PRUNED``),
    ``score`` (mean over the folds it ran), ``folds`` (how many ran), ``seconds`` and
    one ``param_<name>`` column per parameter. With ``keep_predictions``,
    ``predictions`` holds the best trial's validation predictions, one array per fold
    (the probability of class 1 or the prediction, in the fold's row order): what a
    model with ``best_params`` fitted on each fold's training rows predicts, so a
    caller can reuse them instead of fitting those models again.
    """

    best_params: dict[str, Any]
    best_score: float
    trials: pd.DataFrame
    n_pruned: int
    seconds: float
    metric: str
    direction: str
    predictions: tuple[np.ndarray, ...] | None = None

    @property
    def fits(self) -> int:
        """How many models the search fitted (one per fold each trial ran)."""
        return int(self.trials["folds"].sum()) if len(self.trials) else 0


# --- folds --------------------------------------------------------------------------------


def make_folds(
    n: int, n_rows: int, times: Sequence[Any] | np.ndarray | pd.Series | None = None
) -> list[Fold]:
    """``n`` expanding-window folds over ``n_rows`` rows (scikit-learn's ``TimeSeriesSplit``).

    Without ``times`` the rows are taken to be in time order. With ``times`` the split is
    over the distinct times, so rows of one snapshot never straddle a cutoff.

    >>> [(t.tolist(), v.tolist()) for t, v in make_folds(2, 6)]
    [([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5])]
    >>> [(t.tolist(), v.tolist()) for t, v in make_folds(2, 6, times=[3, 1, 2, 1, 3, 2])]
    [([1, 3], [2, 5]), ([1, 2, 3, 5], [0, 4])]
    """
    if times is None:
        if n_rows <= n:
            raise NextBestError(f"{n} folds need more than {n} rows; there are {n_rows}")
        return [(t, v) for t, v in TimeSeriesSplit(n).split(np.arange(n_rows))]
    stamps = _as_times(times, n_rows)
    unique, codes = np.unique(stamps, return_inverse=True)
    if len(unique) <= n:
        raise NextBestError(
            f"{n} time-ordered folds need more than {n} distinct times; there are {len(unique)}",
            hint="Use fewer folds or more snapshots.",
        )
    folds = []
    for train_t, valid_t in TimeSeriesSplit(n).split(unique):
        folds.append(
            (np.flatnonzero(np.isin(codes, train_t)), np.flatnonzero(np.isin(codes, valid_t)))
        )
    return folds


def _as_times(times: Any, n_rows: int) -> np.ndarray:
    stamps = np.asarray(times)
    if stamps.dtype == object:
        stamps = pd.to_datetime(pd.Series(stamps), utc=True).to_numpy()
    if len(stamps) != n_rows:
        raise NextBestError(f"times has {len(stamps)} values for {n_rows} rows")
    return stamps


def _checked_folds(folds: Sequence[Fold], n_rows: int, times: Any | None) -> list[Fold]:
    stamps = None if times is None else _as_times(times, n_rows)
    checked = []
    for k, (train, valid) in enumerate(folds, start=1):
        train, valid = np.asarray(train, dtype=np.int64), np.asarray(valid, dtype=np.int64)
        if len(train) == 0 or len(valid) == 0:
            raise NextBestError(f"fold {k} has no training or no validation rows")
        for name, idx in (("training", train), ("validation", valid)):
            if idx.min() < 0 or idx.max() >= n_rows:
                raise NextBestError(
                    f"fold {k}: a {name} index is outside the {n_rows} rows of X",
                    hint="Folds hold row positions (0 .. len(X)-1), not labels.",
                )
        if np.intersect1d(train, valid).size:
            raise NextBestError(f"fold {k}: some rows are both in training and validation")
        if stamps is not None:
            last_train, first_valid = stamps[train].max(), stamps[valid].min()
            if not first_valid > last_train:
                raise NextBestError(
                    f"fold {k}: validation rows start at {first_valid} but training rows run "
                    f"to {last_train}; a model would be validated on its own past",
                    hint="Every fold's validation rows must all come after its training rows.",
                )
        checked.append((train, valid))
    if not checked:
        raise NextBestError("no folds given")
    return checked


# --- spaces and models --------------------------------------------------------------------


def _suggest(trial: optuna.Trial, name: str, spec: Any) -> Any:
    dist = optuna.distributions
    if isinstance(spec, dist.FloatDistribution):
        return trial.suggest_float(name, spec.low, spec.high, log=spec.log, step=spec.step)
    if isinstance(spec, dist.IntDistribution):
        return trial.suggest_int(name, spec.low, spec.high, log=spec.log, step=spec.step)
    if isinstance(spec, dist.CategoricalDistribution):
        return trial.suggest_categorical(name, spec.choices)
    if isinstance(spec, list):
        return trial.suggest_categorical(name, spec)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        low, high = spec[0], spec[1]
        scale = spec[2] if len(spec) == 3 else "linear"
        if scale not in ("linear", "log"):
            raise NextBestError(
                f"parameter {name!r}: the scale must be 'linear' or 'log', not {scale!r}"
            )
        if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
            return trial.suggest_int(name, low, high, log=scale == "log")
        return trial.suggest_float(name, float(low), float(high), log=scale == "log")
    return spec  # a fixed value


def default_space(algorithm: Algorithm) -> dict[str, Any]:
    """A sensible search space for ``"lightgbm"``, ``"logistic"`` or ``"random_forest"``.

    >>> default_space("logistic")
    {'C': (0.001, 100.0, 'log')}
    >>> default_space("lightgbm")["learning_rate"]
    (0.01, 0.3, 'log')
    """
    if algorithm == "lightgbm":
        return {
            "n_estimators": (50, 400, "log"),
            "learning_rate": (0.01, 0.3, "log"),
            # small trees: on customer tables bigger ones did not score better on later
            # data, and exact reasons for every customer stay affordable (their cost
            # grows with the decision cells per tree, see nextbest.models.treeshap)
            "num_leaves": (4, 15, "log"),
            "min_child_samples": (5, 200, "log"),
            "subsample": (0.5, 1.0),
            "subsample_freq": 1,  # bagging only happens with a frequency
            "colsample_bytree": (0.4, 1.0),
            "reg_lambda": (1e-3, 10.0, "log"),
        }
    if algorithm == "logistic":
        return {"C": (1e-3, 100.0, "log")}
    if algorithm == "random_forest":
        return {
            "n_estimators": (100, 500, "log"),
            "max_depth": [None, 6, 10, 16],
            "min_samples_leaf": (1, 50, "log"),
            "max_features": (0.2, 1.0),
        }
    raise NextBestError(
        f"no default space for {algorithm!r}; use 'lightgbm', 'logistic' or 'random_forest'"
    )


def model_factory(
    algorithm: Algorithm,
    *,
    task: Literal["classification", "regression"] = "classification",
    features: Sequence[Feature] | None = None,
    num_threads: int = 1,
    seed: int = 0,
    encode: Literal["onehot", "target"] = "onehot",
) -> Callable[[dict[str, Any]], Any]:
    """``make_model`` for :func:`search`: params -> an unfitted model of ``algorithm``.

    With ``features`` the model is ``Pipeline([("pre", build_preprocessor(...)),
    ("model", estimator)])`` (scaled for logistic models only); without, the bare
    estimator. LightGBM gets ``num_threads``, ``deterministic=True`` and the ``seed``; the
    random forest gets ``n_jobs=num_threads`` and the seed. For regression, ``"logistic"``
    means its linear counterpart: ``Ridge`` with ``alpha = 1 / C``.

    >>> model_factory("lightgbm", num_threads=1)({"num_leaves": 15}).get_params()["num_leaves"]
    15
    """

    def make(params: dict[str, Any]) -> Any:
        estimator: Any
        if algorithm == "lightgbm":
            import lightgbm as lgb

            cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
            fixed = dict(
                num_threads=num_threads,
                deterministic=True,
                force_col_wise=True,
                random_state=seed,
                verbose=-1,
            )
            estimator = cls(**{**fixed, **params})
        elif algorithm == "logistic":
            from sklearn.linear_model import LogisticRegression, Ridge

            if task == "classification":
                estimator = LogisticRegression(**{"max_iter": 1000, **params})
            else:
                estimator = Ridge(**{"alpha": 1.0 / params.get("C", 1.0)})
        elif algorithm == "random_forest":
            from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

            cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
            estimator = cls(**{"n_jobs": num_threads, "random_state": seed, **params})
        else:
            raise NextBestError(
                f"unknown algorithm {algorithm!r}; use 'lightgbm', 'logistic' or 'random_forest'"
            )
        if features is None:
            return estimator
        from nextbest.features.preprocess import build_preprocessor

        pre = build_preprocessor(
            features, scale=algorithm == "logistic", encode=encode, random_state=seed
        )
        return Pipeline([("pre", pre), ("model", estimator)])

    return make


# --- scoring ------------------------------------------------------------------------------


def _rows(data: Any, index: np.ndarray) -> Any:
    return data.iloc[index] if isinstance(data, pd.DataFrame | pd.Series) else data[index]


def _fit(model: Any, X: Any, y: np.ndarray, weight: np.ndarray | None) -> Any:
    if weight is None:
        return model.fit(X, y)
    if isinstance(model, Pipeline):
        return model.fit(X, y, **{f"{model.steps[-1][0]}__sample_weight": weight})
    return model.fit(X, y, sample_weight=weight)


def _metric(metric: str) -> _Metric:
    if metric not in METRICS:
        raise NextBestError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}")
    return METRICS[metric]


def _fold_score(
    model: Any,
    X: Any,
    y: np.ndarray,
    weight: np.ndarray | None,
    fold: Fold,
    k: int,
    metric: _Metric,
) -> tuple[float, np.ndarray]:
    train, valid = fold
    _fit(model, _rows(X, train), y[train], None if weight is None else weight[train])
    X_valid, y_valid = _rows(X, valid), y[valid]
    if metric.output == "proba":
        if len(np.unique(y_valid)) < 2:
            raise NextBestError(
                f"fold {k}: the validation rows hold only one class, so it cannot be scored",
                hint="Use later or longer validation windows.",
            )
        pred = model.predict_proba(X_valid)[:, 1]
    else:
        pred = model.predict(X_valid)
    score = float(metric.score(y_valid, pred, None if weight is None else weight[valid]))
    if not math.isfinite(score):
        raise NextBestError(f"fold {k}: the score is {score}")
    return score, np.asarray(pred)


def evaluate(
    make_model: Callable[[dict[str, Any]], Any],
    params: dict[str, Any],
    X: Any,
    y: Any,
    folds: Sequence[Fold] | int,
    metric: str = "roc_auc",
    *,
    sample_weight: Any = None,
    times: Any = None,
) -> float:
    """The mean validation score of one fixed parameter set over ``folds``.

    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    >>> round(evaluate(model_factory("logistic"), {"C": 1.0}, X, y, folds=2), 3)
    0.986
    """
    measure = _metric(metric)
    y_arr = np.asarray(y)
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    checked = _prepare_folds(folds, len(y_arr), times)
    scores = [
        _fold_score(make_model(dict(params)), X, y_arr, weight, fold, k, measure)[0]
        for k, fold in enumerate(checked, start=1)
    ]
    return float(np.mean(scores))


def _prepare_folds(folds: Sequence[Fold] | int, n_rows: int, times: Any) -> list[Fold]:
    if isinstance(folds, int | np.integer):
        return _checked_folds(make_folds(int(folds), n_rows, times), n_rows, times)
    return _checked_folds(folds, n_rows, times)


def _pruner(pruner: Any) -> optuna.pruners.BasePruner:
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    raise NextBestError(f"unknown pruner {pruner!r}; use 'median', 'none' or an Optuna pruner")


def search(
    make_model: Callable[[dict[str, Any]], Any],
    space: Space,
    X: Any,
    y: Any,
    folds: Sequence[Fold] | int,
    metric: str = "roc_auc",
    n_trials: int | None = 20,
    timeout: float | None = None,
    seed: int = 0,
    pruner: Literal["median", "none"] | optuna.pruners.BasePruner | None = "median",
    sample_weight: Any = None,
    *,
    times: Any = None,
    verbose: bool = False,
    keep_predictions: bool = False,
) -> SearchResult:
    """Search ``space`` for the parameters of ``make_model`` that score best over ``folds``.

    Parameters
    ----------
    make_model
        ``params -> unfitted estimator`` (e.g. :func:`model_factory`); called once per fold.
    space
        ``{name: distribution}`` (see the module notes) or ``trial -> params`` for spaces
        with conditions.
    X, y
        Features (frame or array) and target; ``folds`` index their rows by position.
    folds
        ``(train_index, validation_index)`` pairs in time order, or ``n`` for
        :func:`make_folds` (``TimeSeriesSplit``).
    metric
        A name in :data:`METRICS`: ``roc_auc``, ``average_precision``, ``neg_log_loss``
        (maximised), ``rmse``, ``mae`` (minimised) or ``r2``.
    n_trials, timeout
        Stop after this many trials or seconds, whichever comes first (``None``: no limit).
    seed
        Seeds the TPE sampler: the same seed on the same data gives the same trials.
    pruner
        ``"median"`` stops a trial whose running mean after a fold is worse than the
        median of earlier trials at that fold (after 5 complete trials); ``"none"``.
    sample_weight
        Row weights, used to fit (routed to the pipeline's last step) and to score.
    times
        Each row's snapshot time: every fold's validation rows must come after its
        training rows, else a :class:`~nextbest.errors.NextBestError`.
    verbose
        Let Optuna log each trial (by default it only logs errors; a failing fit's
        exception is raised either way).
    keep_predictions
        Keep the best trial's validation predictions per fold
        (:attr:`SearchResult.predictions`); only the best so far is held in memory.
    """
    measure = _metric(metric)
    y_arr = np.asarray(y)
    if len(y_arr) != len(X):
        raise NextBestError(f"X has {len(X)} rows but y has {len(y_arr)}")
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    checked = _prepare_folds(folds, len(y_arr), times)
    if n_trials is None and timeout is None:
        raise NextBestError("give n_trials or timeout, or the search would never end")

    kept: dict[str, Any] = {"number": None, "score": None, "predictions": None}

    def keep(trial: optuna.Trial, score: float, predictions: list[np.ndarray]) -> None:
        best = kept["score"]
        better = best is None or (score > best if measure.direction == "maximize" else score < best)
        if keep_predictions and better:  # ties keep the earlier trial, as Optuna does
            kept.update(number=trial.number, score=score, predictions=tuple(predictions))

    def objective(trial: optuna.Trial) -> float:
        if callable(space):
            params = dict(space(trial))
        else:
            params = {name: _suggest(trial, name, spec) for name, spec in space.items()}
        trial.set_user_attr("params", params)
        scores: list[float] = []
        predictions: list[np.ndarray] = []
        for k, fold in enumerate(checked, start=1):
            score, pred = _fold_score(make_model(dict(params)), X, y_arr, weight, fold, k, measure)
            scores.append(score)
            if keep_predictions:
                predictions.append(pred)
            running = float(np.mean(scores))
            trial.set_user_attr("folds", k)
            trial.set_user_attr("score", running)
            trial.report(running, step=k - 1)
            if k < len(checked) and trial.should_prune():
                raise optuna.TrialPruned()
        keep(trial, float(np.mean(scores)), predictions)
        return float(np.mean(scores))

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    started = time.perf_counter()
    try:
        study = optuna.create_study(
            direction=measure.direction,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=_pruner(pruner),
        )
        study.optimize(objective, n_trials=n_trials, timeout=timeout, gc_after_trial=False)
    finally:
        optuna.logging.set_verbosity(previous)
    seconds = time.perf_counter() - started
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise NextBestError(
            "no trial completed within the limits",
            hint="Raise n_trials or timeout, or make each fit faster.",
        )
    best = study.best_trial
    return SearchResult(
        best_params=dict(best.user_attrs["params"]),
        best_score=float(best.value),  # type: ignore[arg-type]
        trials=_table(study),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        seconds=seconds,
        metric=metric,
        direction=measure.direction,
        predictions=kept["predictions"] if kept["number"] == best.number else None,
    )


def _table(study: optuna.Study) -> pd.DataFrame:
    rows = []
    for t in study.trials:
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else float("nan")
        )
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "score": t.value if t.value is not None else t.user_attrs.get("score", np.nan),
            "folds": t.user_attrs.get("folds", 0),
            "seconds": seconds,
        }
        row.update({f"param_{k}": v for k, v in t.user_attrs.get("params", {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)
