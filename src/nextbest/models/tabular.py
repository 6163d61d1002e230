"""Models on the feature snapshot: purchase/churn propensity and customer value.

Both are scikit-learn estimators around one pipeline: the registry's preprocessing
(:func:`nextbest.features.preprocess.build_preprocessor`) and a learner, LightGBM by
default, with regularized logistic / ridge regression and random forests as the
alternatives. Propensities handle class imbalance with class weights (or SMOTE on
the preprocessed rows) and are calibrated (isotonic or Platt): on out-of-fold
predictions by default, or by a calibrator fitted elsewhere with :func:`fit_calibrator`
and passed to ``fit`` (training on temporal cutoffs fits it on a later period than the
model that produced its scores, see :mod:`nextbest.models.backtest`). The decision
threshold is chosen later, by an objective.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"recency_days": rng.exponential(30, 400)})
>>> X["tier"] = rng.choice(["a", "b"], 400)
>>> y = (X.recency_days < 20).astype(int)
>>> model = PropensityModel("logistic", calibration=None).fit(X, y)
>>> float(model.predict_proba(X)[:, 1][X.recency_days.argmin()]) > 0.9
True

A calibrator fitted on held-out scores is used as given, without extra fits:

>>> early = PropensityModel("logistic", calibration=None).fit(X[:200], y[:200])
>>> calibrator = fit_calibrator(early.predict_proba(X[200:])[:, 1], y[200:], "isotonic")
>>> model = PropensityModel("logistic").fit(X, y, calibrator=calibrator)
>>> model.calibrated_on_
'given'
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from nextbest.errors import ConfigError
from nextbest.features.preprocess import build_preprocessor
from nextbest.features.registry import Feature

__all__ = [
    "ALGORITHMS",
    "CALIBRATIONS",
    "LIGHTGBM_DEFAULTS",
    "PropensityModel",
    "ValueModel",
    "fit_calibrator",
    "infer_features",
]

ALGORITHMS = ("lightgbm", "logistic", "random_forest")
CALIBRATIONS = ("isotonic", "sigmoid")
LIGHTGBM_DEFAULTS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 5.0,
}
"""Small, regularised trees: on customer tables of a few thousand to a few hundred
thousand rows, 31-leaf trees overfit and tie with logistic regression; a search
(``nextbest train --trials``) tunes these per dataset."""


_LOG_LINK = ("poisson", "tweedie", "gamma")  # LightGBM objectives predicting exp(raw)


def infer_features(X: pd.DataFrame) -> list[Feature]:
    """Features for the columns of ``X``: text columns are categorical, the rest numeric."""
    out = []
    for name, dtype in X.dtypes.items():
        text = not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
        out.append(Feature(str(name), str(name), dtype="string" if text else "float64"))
    return out


class _Tabular(BaseEstimator):
    """What both models share: the features, the learner and its resources."""

    algorithm: str
    params: dict[str, Any] | None
    features: list[Feature] | None
    threads: int
    seed: int

    def _features(self, X: pd.DataFrame) -> list[Feature]:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(
                f"unknown algorithm {self.algorithm!r}",
                field="algorithm",
                hint=f"Use one of {', '.join(ALGORITHMS)}.",
            )
        if not isinstance(X, pd.DataFrame):
            raise ConfigError("models take a pandas DataFrame of features", field="X")
        features = self.features if self.features is not None else infer_features(X)
        missing = [f.name for f in features if f.name not in X.columns]
        if missing:
            raise ConfigError(
                f"the frame lacks features {', '.join(missing[:5])}",
                field="X",
                hint="Score with the features the model was trained on.",
            )
        return list(features)

    def _lightgbm(self, cls_name: str, **defaults: Any) -> Any:
        import lightgbm

        params = {
            **LIGHTGBM_DEFAULTS,
            **defaults,
            **(self.params or {}),
            "n_jobs": self.threads,
            "random_state": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        return getattr(lightgbm, cls_name)(**params)

    # fitted state besides the pipeline, saved as JSON
    _state: tuple[str, ...] = ()

    def save_parts(self, folder: Path) -> list[Path]:
        """Save the fitted model as parts without pickle (see :mod:`nextbest.models.persist`)."""
        from nextbest.models.persist import save_model

        check_is_fitted(self, "pipeline_")
        files = save_model(self.pipeline_, folder / "pipeline")
        calibrator = getattr(self, "calibrator_", None)
        if calibrator is not None:
            files += save_model(calibrator, folder / "calibrator")
        params = {k: v for k, v in self.get_params().items() if k != "features"}
        state = {k: getattr(self, k, None) for k in self._state}
        meta = {
            "params": params,
            "features": [asdict(f) for f in self.features_],
            "features_given": self.features is not None,
            "state": state,
        }
        path = folder / "estimator.json"
        path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return [*files, path]

    @classmethod
    def load_parts(cls, folder: Path, *, num_threads: int = 1) -> Any:
        """A model saved by :meth:`save_parts`."""
        from nextbest.models.persist import load_model

        meta = json.loads((folder / "estimator.json").read_text(encoding="utf-8"))
        features = [Feature(**f) for f in meta["features"]]
        model = cls(**meta["params"], features=features if meta["features_given"] else None)
        model.features_ = features
        model.pipeline_ = load_model(folder / "pipeline", num_threads=num_threads)
        if hasattr(model, "_calibrator"):  # a calibrating model; it may have none
            calibrated = (folder / "calibrator").exists()
            model.calibrator_ = load_model(folder / "calibrator") if calibrated else None
        for key, value in meta["state"].items():
            setattr(model, key, value)
        return model

    def _pipeline(self, features: list[Feature], learner: Any) -> Pipeline:
        scale = self.algorithm != "lightgbm" and self.algorithm != "random_forest"
        pre = build_preprocessor(features, scale=scale, random_state=self.seed)
        return Pipeline([("pre", pre), ("model", learner)])


class PropensityModel(ClassifierMixin, _Tabular):
    """The probability of a binary outcome (a purchase, churn) per customer.

    Parameters
    ----------
    algorithm
        ``lightgbm``, ``logistic`` (L2-regularized) or ``random_forest``.
    params
        Learner hyper-parameters (e.g. from a search), over the defaults.
    features
        The features to use (their dtype decides numeric vs categorical); default:
        every column of the training frame.
    class_weight
        ``balanced`` weighs classes inversely to their frequency; None does not.
    calibration
        ``isotonic``, ``sigmoid`` (Platt) or None: a calibrator fitted on
        ``calibration_folds``-fold out-of-fold predictions, unless ``fit`` is given
        a calibrator fitted elsewhere (see :meth:`fit`).
    smote
        Oversample the minority class with SMOTE on the preprocessed rows
        (needs ``imbalanced-learn``); then ``class_weight`` is not applied.
    threshold
        The decision threshold ``predict`` uses (set one with ``choose_threshold``).
    """

    _state = ("threshold_", "calibrated_on_")

    def __init__(
        self,
        algorithm: Literal["lightgbm", "logistic", "random_forest"] = "lightgbm",
        params: dict[str, Any] | None = None,
        features: list[Feature] | None = None,
        class_weight: Literal["balanced"] | None = "balanced",
        calibration: Literal["isotonic", "sigmoid"] | None = "isotonic",
        calibration_folds: int = 3,
        smote: bool = False,
        threshold: float = 0.5,
        threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.algorithm = algorithm
        self.params = params
        self.features = features
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.smote = smote
        self.threshold = threshold
        self.threads = threads
        self.seed = seed

    def _learner(self) -> Any:
        weight = None if self.smote else self.class_weight
        if self.algorithm == "lightgbm":
            return self._lightgbm("LGBMClassifier", class_weight=weight)
        if self.algorithm == "logistic":
            params = {"C": 1.0, "max_iter": 2000, **(self.params or {})}
            return LogisticRegression(class_weight=weight, random_state=self.seed, **params)
        from sklearn.ensemble import RandomForestClassifier

        params = {"n_estimators": 300, "min_samples_leaf": 5, **(self.params or {})}
        return RandomForestClassifier(
            class_weight=weight, n_jobs=self.threads, random_state=self.seed, **params
        )

    def _fit_pipeline(self, X: pd.DataFrame, y: np.ndarray, features: list[Feature]) -> Pipeline:
        pipe = self._pipeline(features, self._learner())
        if not self.smote:
            return pipe.fit(X, y)
        try:
            from imblearn.over_sampling import SMOTE
        except ImportError:
            raise ConfigError(
                "SMOTE needs the imbalanced-learn package",
                field="smote",
                hint="pip install imbalanced-learn, or use class weights.",
            ) from None
        pre = pipe.named_steps["pre"]
        Xt = pre.fit_transform(X, y)
        Xr, yr = SMOTE(random_state=self.seed).fit_resample(Xt, y)
        pipe.named_steps["model"].fit(Xr, yr)
        return pipe

    def fit(self, X: pd.DataFrame, y: Any, *, calibrator: Any = None) -> PropensityModel:
        """Fit the pipeline on ``X``, ``y`` and calibrate it.

        ``calibrator`` is a calibrator already fitted on held-out (uncalibrated
        probability, outcome) pairs, e.g. by :func:`fit_calibrator` on a later period
        than the rows a model of the same settings was fitted on: it is used as given
        and no out-of-fold fits are made (``calibrated_on_`` is ``"given"``). Without
        one, ``calibration`` decides: a calibrator on ``calibration_folds``-fold
        out-of-fold predictions (``"out-of-fold"``), or none.
        """
        features = self._features(X)
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) - {0, 1} or len(np.unique(y)) < 2:
            raise ConfigError(
                "a propensity model needs both outcomes (0 and 1) among the rows",
                field="y",
                hint="Use a longer history, a longer horizon or a broader target.",
            )
        X = X[[f.name for f in features]]
        self.features_ = features
        if calibrator is not None and not callable(getattr(calibrator, "predict", None)):
            raise ConfigError(
                f"the calibrator is a {type(calibrator).__name__}, which has no predict method",
                field="calibrator",
                hint="Pass one made by fit_calibrator(scores, outcomes, 'isotonic').",
            )
        self.pipeline_ = self._fit_pipeline(X, y, features)
        self.calibrated_on_: str | None
        if calibrator is not None:
            self.calibrator_, self.calibrated_on_ = calibrator, "given"
        elif self.calibration is None:
            self.calibrator_, self.calibrated_on_ = None, None
        else:
            self.calibrator_ = self._calibrator(X, y, features)
            self.calibrated_on_ = "out-of-fold"
        self.threshold_ = float(self.threshold)
        return self

    def _calibrator(self, X: pd.DataFrame, y: np.ndarray, features: list[Feature]) -> Any:
        """Isotonic or Platt scaling fitted on out-of-fold probabilities."""
        _check_calibration(self.calibration)
        folds = StratifiedKFold(self.calibration_folds, shuffle=True, random_state=self.seed)
        oof = np.empty(len(y))
        for train, valid in folds.split(X, y):
            pipe = self._fit_pipeline(X.iloc[train], y[train], features)
            oof[valid] = pipe.predict_proba(X.iloc[valid])[:, 1]
        return fit_calibrator(oof, y, self.calibration)  # type: ignore[arg-type]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The uncalibrated score (log-odds for LightGBM and logistic)."""
        check_is_fitted(self, "pipeline_")
        X = X[[f.name for f in self.features_]]
        model = self.pipeline_.named_steps["model"]
        Xt = self.pipeline_.named_steps["pre"].transform(X)
        if hasattr(model, "decision_function"):
            return np.asarray(model.decision_function(Xt), dtype=float)
        if self.algorithm == "lightgbm":
            return np.asarray(model.predict(Xt, raw_score=True), dtype=float)
        p = np.clip(model.predict_proba(Xt)[:, 1], 1e-9, 1 - 1e-9)
        return np.log(p / (1 - p))

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def uncalibrated_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The pipeline's probability of the positive outcome, before calibration (1-D)."""
        check_is_fitted(self, "pipeline_")
        X = X[[f.name for f in self.features_]]
        return np.asarray(self.pipeline_.predict_proba(X)[:, 1], dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([1 - (p := self._calibrated(self.uncalibrated_proba(X))), p])

    def _calibrated(self, p: np.ndarray) -> np.ndarray:
        if self.calibrator_ is not None:
            p = np.clip(self.calibrator_.predict(p), 0.0, 1.0)
        return p

    def from_raw(self, raw: np.ndarray) -> np.ndarray:
        """The (calibrated) probability for raw scores: the log-odds of LightGBM and
        logistic models, such as the sum of a row's contributions
        (:func:`nextbest.models.explain.contributions`)."""
        check_is_fitted(self, "pipeline_")
        return self._calibrated(1.0 / (1.0 + np.exp(-np.asarray(raw, dtype=float))))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= self.threshold_).astype(int)


def _check_calibration(method: Any) -> str:
    if method not in CALIBRATIONS:
        raise ConfigError(
            f"unknown calibration {method!r}",
            field="calibration",
            hint="Use isotonic, sigmoid or none.",
        )
    return str(method)


def fit_calibrator(scores: Any, y: Any, method: Literal["isotonic", "sigmoid"] = "isotonic") -> Any:
    """A calibrator (``predict(p) -> calibrated p``) fitted on held-out probabilities.

    ``scores`` are uncalibrated probabilities of rows a model did not train on and
    ``y`` their 0/1 outcomes; ``method`` is ``isotonic`` (a monotone step function,
    kept within ``[1/(n+1), n/(n+1)]`` for ``n`` rows) or ``sigmoid`` (Platt scaling:
    a logistic curve over the log-odds, smoother and steadier on a few thousand rows).

    >>> cal = fit_calibrator([0.2, 0.4, 0.6, 0.8], [0, 0, 1, 1], "isotonic")
    >>> cal.predict(np.array([0.3, 0.7])).tolist()
    [0.2, 0.8]
    """
    method = _check_calibration(method)  # type: ignore[assignment]
    p = np.asarray(scores, dtype=float).ravel()
    outcome = np.asarray(y).ravel()
    if p.size != outcome.size or p.size == 0:
        raise ConfigError(
            f"a calibrator needs one outcome per score (got {p.size} scores, "
            f"{outcome.size} outcomes)",
            field="y",
        )
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ConfigError(
            "calibration scores must be probabilities in [0, 1]",
            field="scores",
            hint="Pass predict_proba(X)[:, 1] of an uncalibrated model.",
        )
    if set(np.unique(outcome).tolist()) - {0, 1} or len(np.unique(outcome)) < 2:
        raise ConfigError(
            "a calibrator needs both outcomes (0 and 1) among its rows",
            field="y",
            hint="Calibrate on a longer or broader period.",
        )
    outcome = outcome.astype(int)
    if method == "isotonic":
        # a step holding one outcome only would claim certainty (an infinite log loss
        # on the next miss): outputs stay within [1/(n+1), n/(n+1)]
        edge = 1.0 / (p.size + 1)
        iso = IsotonicRegression(out_of_bounds="clip", y_min=edge, y_max=1.0 - edge)
        return iso.fit(p, outcome)
    return _Platt().fit(p, outcome)


class _Platt(BaseEstimator):
    """Platt scaling: a logistic curve over the log-odds of the raw probability."""

    def fit(self, p: np.ndarray, y: np.ndarray) -> _Platt:
        self.curve_ = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        return self.curve_.predict_proba(_logit(np.asarray(p))[:, None])[:, 1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class ValueModel(RegressorMixin, _Tabular):
    """Expected spend (or any value) per customer over the target's horizon.

    ``algorithm`` is ``lightgbm`` (Tweedie loss by default: most customers spend
    nothing, a few a lot), ``logistic`` (meaning the linear baseline: ridge
    regression) or ``random_forest``.
    """

    def __init__(
        self,
        algorithm: Literal["lightgbm", "logistic", "random_forest"] = "lightgbm",
        params: dict[str, Any] | None = None,
        features: list[Feature] | None = None,
        objective: str = "tweedie",
        threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.algorithm = algorithm
        self.params = params
        self.features = features
        self.objective = objective
        self.threads = threads
        self.seed = seed

    def _learner(self) -> Any:
        if self.algorithm == "lightgbm":
            return self._lightgbm("LGBMRegressor", objective=self.objective)
        if self.algorithm == "logistic":
            return Ridge(**{"alpha": 1.0, **(self.params or {})})
        from sklearn.ensemble import RandomForestRegressor

        params = {"n_estimators": 300, "min_samples_leaf": 5, **(self.params or {})}
        return RandomForestRegressor(n_jobs=self.threads, random_state=self.seed, **params)

    def fit(self, X: pd.DataFrame, y: Any) -> ValueModel:
        features = self._features(X)
        self.features_ = features
        X = X[[f.name for f in features]]
        self.pipeline_ = self._pipeline(features, self._learner()).fit(X, np.asarray(y, float))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        pred = self.pipeline_.predict(X[[f.name for f in self.features_]])
        return np.maximum(np.asarray(pred, dtype=float), 0.0)

    def from_raw(self, raw: np.ndarray) -> np.ndarray:
        """The prediction for raw scores (before LightGBM's log link, where it has one),
        such as the sum of a row's contributions."""
        check_is_fitted(self, "pipeline_")
        raw = np.asarray(raw, dtype=float)
        if self.algorithm == "lightgbm" and self.objective in _LOG_LINK:
            raw = np.exp(raw)
        return np.maximum(raw, 0.0)
