"""Why a model scores a customer the way it does: contributions, importance, reason codes.

A propensity model is a scikit-learn ``Pipeline([("pre", ColumnTransformer), ("model",
estimator)])``. :func:`contributions` splits each customer's raw score (log-odds for a
classifier, the prediction for a regressor) into one additive part per *original*
feature plus a ``_bias`` column, so the parts of a row add up to its score:

- LightGBM: the booster's own TreeSHAP (``pred_contrib=True``), exact, run once per
  decision cell of each tree (:mod:`nextbest.models.treeshap`) so a million rows stay fast.
- Logistic (and other linear) models: ``coef * (x - mean)`` in the transformed space,
  the linear SHAP values under feature independence. The means are the training means:
  a ``StandardScaler``'s output has mean 0 by construction; columns without a scaler
  (one-hot, pass-through) take theirs from a ``background`` frame of training rows.
- Random forests are refused: their per-customer reasons would need a SHAP library.

Transformed columns are traced back to the feature they came from through the fitted
``ColumnTransformer`` (its column lists and each step's output widths), so the one-hot
columns ``tier_gold``, ``tier_silver`` sum into ``tier``.

A ``CalibratedClassifierCV`` is explained through its uncalibrated base pipelines: the
contributions of each one in ``calibrated_classifiers_`` are averaged, so they add up
to the mean of the base pipelines' raw scores (:func:`raw_score`).

>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import Pipeline
>>> from nextbest.features import Feature
>>> from nextbest.features.preprocess import build_preprocessor
>>> X = pd.DataFrame({"spend": [10.0, 50.0, 20.0, 90.0, 30.0, 70.0],
...                   "tier": ["gold", "basic", "basic", "gold", "basic", "gold"]})
>>> y = np.array([0, 1, 0, 1, 0, 1])
>>> feats = [Feature("spend", "spend in the last year"), Feature("tier", "tier", "string")]
>>> model = Pipeline([("pre", build_preprocessor(feats)), ("model", LogisticRegression())])
>>> contribs = contributions(model.fit(X, y), X, background=X)
>>> list(contribs.columns)
['spend', 'tier', '_bias']
>>> bool(np.allclose(contribs.sum(axis=1), raw_score(model, X)))
True
>>> reason_codes(contribs, X, top=1, descriptions=feats)["reason_1"].iloc[3]
'spend in the last year is high (90.0) ↑'
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from nextbest.errors import NextBestError
from nextbest.models.treeshap import tree_contributions

if TYPE_CHECKING:
    from nextbest.features.registry import Feature

__all__ = ["BIAS", "contributions", "global_importance", "raw_score", "reason_codes"]

BIAS = "_bias"
_INDICATOR = "missingindicator_"


class _Trace:
    """Per transformed column: the original feature it comes from and its known mean."""

    def __init__(self, sources: list[str], means: np.ndarray) -> None:
        self.sources = sources
        self.means = means

    def take(self, positions: Sequence[int], means: np.ndarray | None = None) -> _Trace:
        taken = [self.sources[p] for p in positions]
        return _Trace(taken, np.full(len(taken), np.nan) if means is None else means)


# --- tracing transformed columns back to their source ------------------------------------


def _column_names(selection: Any, names_in: Sequence[str]) -> list[str]:
    """The input column names a ``ColumnTransformer`` entry selected."""
    if isinstance(selection, str):
        return [selection]
    if isinstance(selection, slice):
        return list(names_in[selection])
    items = list(np.asarray(selection).ravel()) if not isinstance(selection, list) else selection
    if items and all(isinstance(s, str | np.str_) for s in items):
        return [str(s) for s in items]
    array = np.asarray(items)
    if array.dtype == bool:
        return [n for n, keep in zip(names_in, array, strict=True) if keep]
    return [names_in[int(i)] for i in array]


def _onehot_widths(encoder: OneHotEncoder) -> list[int]:
    """How many output columns each input of a fitted one-hot encoder has."""
    widths = []
    drop = getattr(encoder, "drop_idx_", None)
    infrequent = getattr(encoder, "infrequent_categories_", None)
    for i, categories in enumerate(encoder.categories_):
        width = len(categories)
        if infrequent is not None and infrequent[i] is not None:
            width = width - len(infrequent[i]) + 1
        if drop is not None and drop[i] is not None:
            width -= 1
        widths.append(width)
    return widths


def _trace_step(step: Any, trace: _Trace, names: list[str]) -> tuple[_Trace, list[str]]:
    """``trace`` and column ``names`` after one fitted transformer."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return trace, names
    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            trace, names = _trace_step(inner, trace, names)
        return trace, names
    if isinstance(step, ColumnTransformer):
        return _trace_columns(step, trace, names)
    out = [str(n) for n in step.get_feature_names_out(names)]
    n_in = len(names)
    if isinstance(step, OneHotEncoder):
        widths = _onehot_widths(step)
        positions = [i for i, w in enumerate(widths) for _ in range(w)]
    elif len(out) == n_in:
        positions = list(range(n_in))
        if isinstance(step, StandardScaler):
            means = np.zeros(n_in)
            if not step.with_mean and step.mean_ is not None:
                means = step.mean_ / (step.scale_ if step.with_std else 1.0)
            return trace.take(positions, np.asarray(means, dtype=float)), out
    elif isinstance(step, TargetEncoder) and len(out) % max(n_in, 1) == 0:
        per = len(out) // n_in  # multiclass: one block of class columns per feature
        positions = [i for i in range(n_in) for _ in range(per)]
    else:
        index = {n: i for i, n in enumerate(names)}
        positions = []
        for n in out:
            key = n[len(_INDICATOR) :] if n.startswith(_INDICATOR) else n
            if key not in index:
                raise NextBestError(
                    f"cannot tell which input column {type(step).__name__}'s output {n!r} "
                    "comes from",
                    hint="Explanations support imputers, scalers, one-hot and target encoders.",
                )
            positions.append(index[key])
    if len(positions) != len(out):
        raise NextBestError(
            f"{type(step).__name__} outputs {len(out)} columns but {len(positions)} were traced"
        )
    return trace.take(positions), out


def _trace_columns(
    ct: ColumnTransformer, trace: _Trace, names: list[str]
) -> tuple[_Trace, list[str]]:
    """``trace`` after a fitted ``ColumnTransformer``, using its column lists."""
    index = {n: i for i, n in enumerate(names)}
    width = max((s.stop for s in ct.output_indices_.values()), default=0)
    sources: list[str] = [""] * width
    means = np.full(width, np.nan)
    for name, transformer, selection in ct.transformers_:
        where = ct.output_indices_.get(name, slice(0, 0))
        if (isinstance(transformer, str) and transformer == "drop") or where.stop == where.start:
            continue
        columns = _column_names(selection, names)
        sub = trace.take([index[c] for c in columns])
        sub.means = trace.means[[index[c] for c in columns]]
        sub, _ = _trace_step(transformer, sub, columns)
        if len(sub.sources) != where.stop - where.start:
            raise NextBestError(f"transformer {name!r}: its output columns could not be traced")
        sources[where] = sub.sources
        means[where] = sub.means
    out = [str(n) for n in ct.get_feature_names_out()]
    return _Trace(sources, means), out


# --- the model inside a pipeline ----------------------------------------------------------


def _bases(model: Any) -> list[Any]:
    """The uncalibrated pipelines behind ``model`` (itself unless it is calibrated)."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if calibrated is not None:
        return [c.estimator for c in calibrated]
    return [model]


def _split(pipeline: Any) -> tuple[Pipeline | None, Any]:
    if isinstance(pipeline, Pipeline):
        pre = pipeline[:-1] if len(pipeline.steps) > 1 else None
        return pre, pipeline[-1]
    return None, pipeline


def _kind(estimator: Any) -> Literal["lightgbm", "linear"]:
    module = type(estimator).__module__
    if module.startswith("lightgbm"):
        if getattr(estimator, "n_classes_", 2) > 2:
            raise NextBestError(
                "per-feature contributions are for binary classifiers and regressors; "
                f"this LightGBM model has {estimator.n_classes_} classes",
                hint="Train one binary model per outcome.",
            )
        return "lightgbm"
    coef = getattr(estimator, "coef_", None)
    if coef is not None and module.startswith("sklearn.linear_model"):
        if np.ndim(coef) == 2 and np.shape(coef)[0] > 1:
            raise NextBestError(
                f"{type(estimator).__name__} has {np.shape(coef)[0]} classes; contributions "
                "are for binary classifiers and regressors",
                hint="Train one binary model per outcome.",
            )
        return "linear"
    name = type(estimator).__name__
    if "Forest" in name or "Trees" in name:
        raise NextBestError(
            f"per-customer reasons are not available for {name}: they need a LightGBM "
            "(LGBMClassifier/LGBMRegressor) or logistic-regression model",
            hint="Retrain the propensity model with LightGBM to get reason codes.",
        )
    raise NextBestError(
        f"cannot explain a {name}: contributions need a LightGBM or logistic-regression model"
    )


def _prepared(pipeline: Any, X: pd.DataFrame) -> tuple[Any, Any, _Trace]:
    """The final estimator, ``X`` transformed for it, and the trace of its columns."""
    pre, estimator = _split(pipeline)
    kind = _kind(estimator)
    if pre is None:
        names = [str(c) for c in X.columns]
        trace = _Trace(names, np.full(len(names), np.nan))
        Xt: Any = X
    else:
        names = [str(c) for c in getattr(pre, "feature_names_in_", X.columns)]
        trace, _ = _trace_step(pre, _Trace(names, np.full(len(names), np.nan)), names)
        Xt = _as_array(pre, X[names])
    if kind == "linear":
        Xt = np.asarray(Xt, dtype=float)
    return estimator, Xt, trace


def _as_array(pre: Any, X: pd.DataFrame) -> Any:
    """``pre.transform(X)`` as one array: a frame's columns would be copied at every step."""
    if not isinstance(pre.transform(X.iloc[:1]), pd.DataFrame):
        return pre.transform(X)
    pre.set_output(transform="default")
    try:
        with warnings.catch_warnings():
            # steps after the first now see arrays; columns still come in fitted order
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return pre.transform(X)
    finally:
        pre.set_output(transform="pandas")


def _booster_predict(estimator: Any, Xt: Any, num_threads: int | None, **kw: Any) -> np.ndarray:
    if num_threads is not None:
        kw["num_threads"] = num_threads
    return np.asarray(estimator.booster_.predict(Xt, **kw), dtype=float)


def _linear_parts(estimator: Any) -> tuple[np.ndarray, float]:
    coef = np.asarray(estimator.coef_, dtype=float).ravel()
    intercept = float(np.asarray(estimator.intercept_, dtype=float).ravel()[0])
    return coef, intercept


def raw_score(pipeline: Any, X: pd.DataFrame, *, num_threads: int | None = None) -> np.ndarray:
    """Each row's raw score: log-odds for a binary classifier, the prediction for a regressor.

    For a calibrated classifier, the mean raw score of its uncalibrated base pipelines.
    LightGBM regressors with a log link (Poisson, Tweedie) give the score before the link.
    """
    scores = []
    for base in _bases(pipeline):
        estimator, Xt, _ = _prepared(base, X)
        if _kind(estimator) == "lightgbm":
            scores.append(_booster_predict(estimator, Xt, num_threads, raw_score=True))
        else:
            coef, intercept = _linear_parts(estimator)
            scores.append(Xt @ coef + intercept)
    return np.mean(scores, axis=0)


def _fold(matrix: np.ndarray, sources: list[str], order: list[str]) -> np.ndarray:
    """Sum the columns of ``matrix`` that share a source, in the order of ``order``."""
    out = np.zeros((matrix.shape[0], len(order)))
    where: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        where.setdefault(source, []).append(i)
    for j, name in enumerate(order):
        columns = where.get(name, [])
        if len(columns) == 1:
            out[:, j] = matrix[:, columns[0]]
        elif columns:
            out[:, j] = matrix[:, columns].sum(axis=1)
    return out


def _order(sources: list[str], features: Sequence[Feature] | None) -> list[str]:
    seen = list(dict.fromkeys(sources))
    if features is None:
        return seen
    names = [f.name for f in features]
    missing = [s for s in seen if s not in names]
    if missing:
        raise NextBestError(
            f"the model uses {missing} which the feature list does not name",
            hint="Pass the features the pipeline was trained on.",
        )
    return names


def _one_contribution(
    base: Any,
    X: pd.DataFrame,
    background: pd.DataFrame | None,
    num_threads: int | None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Contributions in the transformed space (n, m), the bias (n,), and column sources."""
    estimator, Xt, trace = _prepared(base, X)
    if _kind(estimator) == "lightgbm":
        if isinstance(Xt, pd.DataFrame) and not all(
            pd.api.types.is_numeric_dtype(d) for d in Xt.dtypes
        ):  # LightGBM's own categorical columns
            parts = _booster_predict(estimator, Xt, num_threads, pred_contrib=True)
        else:
            parts = tree_contributions(estimator.booster_, np.asarray(Xt, dtype=float), num_threads)
        return parts[:, :-1], parts[:, -1], trace.sources
    coef, intercept = _linear_parts(estimator)
    means = trace.means.copy()
    unknown = np.isnan(means)
    if unknown.any():
        if background is None:
            columns = sorted({trace.sources[i] for i in np.flatnonzero(unknown)})
            raise NextBestError(
                f"the training means of {columns} are not stored in the pipeline (no scaler "
                "on those columns), so their contributions have no reference",
                hint="Pass background= a sample of the training rows.",
            )
        _, Bt, _ = _prepared(base, background)
        means[unknown] = Bt[:, unknown].mean(axis=0)
    parts = (Xt - means) * coef
    bias = np.full(len(Xt), intercept + float(means @ coef))
    return parts, bias, trace.sources


def contributions(
    pipeline: Any,
    X: pd.DataFrame,
    features: Sequence[Feature] | None = None,
    *,
    background: pd.DataFrame | None = None,
    num_threads: int | None = None,
) -> pd.DataFrame:
    """Each row's raw score split into one contribution per original feature plus ``_bias``.

    Parameters
    ----------
    pipeline
        A fitted ``Pipeline`` (preprocessing then a LightGBM or logistic model), the bare
        model, or a ``CalibratedClassifierCV`` around such a pipeline (its base pipelines'
        contributions are averaged).
    X
        The rows to explain, with the columns the pipeline was trained on.
    features
        The features in the order the result should have them; when given, every feature
        the model uses must be listed (unused ones get 0).
    background
        Training rows, for logistic models whose columns have no ``StandardScaler`` (one-hot
        columns, unscaled numbers): their training means are taken from here. Columns a
        scaler standardised use the scaler's training mean (0 after scaling).
    num_threads
        Threads for LightGBM's prediction (default: the model's own setting).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``X``: one column per feature and ``_bias``; each row sums to its
        :func:`raw_score`.

    Examples
    --------
    >>> import lightgbm as lgb, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    >>> y = (X["a"] > 0).astype(int)
    >>> model = lgb.LGBMClassifier(n_estimators=5, num_threads=1, verbose=-1).fit(X, y)
    >>> c = contributions(model, X)
    >>> bool(np.allclose(c.sum(axis=1), raw_score(model, X)))
    True
    >>> bool(c["a"].abs().mean() > c["b"].abs().mean())
    True
    """
    parts: list[np.ndarray] = []
    order: list[str] = []
    for base in _bases(pipeline):
        matrix, bias, sources = _one_contribution(base, X, background, num_threads)
        order = _order(sources, features)
        folded = _fold(matrix, sources, order)
        parts.append(np.column_stack([folded, bias]))
    values = parts[0] if len(parts) == 1 else np.mean(parts, axis=0)
    return pd.DataFrame(values, index=X.index, columns=[*order, BIAS])


def global_importance(
    pipeline: Any,
    X: pd.DataFrame,
    features: Sequence[Feature] | None = None,
    *,
    background: pd.DataFrame | None = None,
    num_threads: int | None = None,
) -> pd.DataFrame:
    """How much each original feature matters to the model over the rows ``X``.

    Columns: ``mean_abs_contribution`` (mean |SHAP| for LightGBM, mean |contribution| for
    logistic models), ``share`` (that as a fraction of the total) and, for LightGBM,
    ``gain_share`` (the booster's split gain summed per feature, as a fraction). Sorted
    by ``mean_abs_contribution``, largest first.

    Examples
    --------
    >>> import lightgbm as lgb, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    >>> model = lgb.LGBMClassifier(n_estimators=5, num_threads=1, verbose=-1)
    >>> imp = global_importance(model.fit(X, X["a"] > 0), X)
    >>> imp.index[0], list(imp.columns)
    ('a', ['mean_abs_contribution', 'share', 'gain_share'])
    """
    contribs = contributions(
        pipeline, X, features, background=background, num_threads=num_threads
    ).drop(columns=BIAS)
    mean_abs = contribs.abs().mean(axis=0)
    total = float(mean_abs.sum())
    table = pd.DataFrame(
        {"mean_abs_contribution": mean_abs, "share": mean_abs / total if total else 0.0}
    )
    gains = []
    for base in _bases(pipeline):
        estimator = _split(base)[1]
        if _kind(estimator) != "lightgbm":
            break
        trace = _prepared(base, X.iloc[:1])[2]
        gain = np.asarray(estimator.booster_.feature_importance("gain"), dtype=float)
        folded = _fold(gain[None, :], trace.sources, list(contribs.columns))[0]
        gains.append(folded / folded.sum() if folded.sum() else folded)
    if gains:
        table["gain_share"] = np.mean(gains, axis=0)
    table.index.name = "feature"
    return table.sort_values("mean_abs_contribution", ascending=False, kind="stable")


# --- reason codes -------------------------------------------------------------------------


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _rounded(values: np.ndarray) -> np.ndarray:
    """``values`` rounded as :func:`_fmt` shows them (so equal texts share one value)."""
    size = np.abs(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.where(size >= 1000, 0, np.where(size >= 1, 1, 2 - np.floor(np.log10(size))))
    scale = 10.0 ** np.where(np.isfinite(digits), digits, 0)
    return np.round(values * scale) / scale


_MEDIAN_ROWS = 200_000
_LEVELS = (" is missing", " is high ({})", " is low ({})", " is typical ({})", " is {}")


def _descriptions(
    names: list[str], descriptions: Mapping[str, str] | Sequence[Feature] | None
) -> list[str]:
    if descriptions is None:
        lookup: Mapping[str, str] = {}
    elif isinstance(descriptions, Mapping):
        lookup = descriptions
    else:
        lookup = {f.name: f.description for f in descriptions}
    return [lookup.get(n) or n.replace("_", " ") for n in names]


def reason_codes(
    contribs: pd.DataFrame,
    X: pd.DataFrame,
    top: int = 3,
    direction: Literal["up", "down", "both"] = "up",
    descriptions: Mapping[str, str] | Sequence[Feature] | None = None,
    *,
    medians: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The ``top`` reasons behind each row's score, as text and as machine columns.

    Parameters
    ----------
    contribs
        The output of :func:`contributions` (``_bias`` is ignored).
    X
        The same rows with their feature values (only the features in ``contribs``).
    top
        How many reasons per row.
    direction
        ``"up"``: the features that raise the score most (only positive contributions);
        ``"down"``: those that lower it most; ``"both"``: the largest in size either way.
    descriptions
        Readable names per feature: a mapping or the registry's ``Feature`` objects (their
        ``description``); otherwise the name with spaces for underscores.
    medians
        The reference for "high" and "low" per numeric feature (default: the median of
        ``X``, over evenly spaced rows when it has more than 200,000).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``X``. For each ``k`` in ``1..top``: ``reason_k`` (text such as
        ``"days since the last order is high (45.0) ↑"``; categorical, as many rows share
        a text), ``reason_k_feature`` (categorical), ``reason_k_value`` and
        ``reason_k_effect`` (the contribution). Rows with fewer qualifying reasons get
        missing values in the later slots. Numbers are shown to 3 significant digits
        (one decimal from 1 to 1,000); each distinct text is formatted once.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"recency": [45.0, 3.0, 10.0], "open_rate": [0.02, 0.5, 0.3]})
    >>> c = pd.DataFrame({"recency": [0.8, -0.4, 0.1], "open_rate": [-0.3, 0.6, 0.0]})
    >>> r = reason_codes(c, X, top=2, direction="both",
    ...                  descriptions={"recency": "days since the last order"})
    >>> r.loc[0, "reason_1"], r.loc[0, "reason_2"]
    ('days since the last order is high (45.0) ↑', 'open rate is low (0.02) ↓')
    >>> r.loc[1, "reason_1_feature"], float(r.loc[1, "reason_1_effect"])
    ('open_rate', 0.6)
    """
    if direction not in ("up", "down", "both"):
        raise NextBestError(f"direction must be 'up', 'down' or 'both', not {direction!r}")
    if top < 1:
        raise NextBestError(f"top must be at least 1, not {top}")
    names = [str(c) for c in contribs.columns if c != BIAS]
    if len(contribs) != len(X) or not contribs.index.equals(X.index):
        raise NextBestError("contribs and X must hold the same rows in the same order")
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise NextBestError(f"X has no column for the features {missing}")
    effects = contribs[names].to_numpy(dtype=float)
    n, p = effects.shape
    k = min(top, p)
    # the k best by repeated argmax: much faster than a partial sort for a few reasons
    score = {"up": effects.copy(), "down": -effects, "both": np.abs(effects)}[direction]
    rows = np.arange(n)
    best = np.empty((n, k), dtype=np.int64)
    for slot in range(k):
        best[:, slot] = np.argmax(score, axis=1)
        score[rows, best[:, slot]] = -np.inf
    del score
    chosen = np.take_along_axis(effects, best, 1)
    valid = {"up": chosen > 0, "down": chosen < 0, "both": chosen != 0}[direction]

    is_text = np.array(
        [not pd.api.types.is_numeric_dtype(X[c]) or X[c].dtype == bool for c in names]
    )
    numeric = np.empty((p, n))  # one row per feature: gathering is contiguous
    categories: list[Any] = []  # the text features' values, one id space over all of them
    text_codes: dict[int, np.ndarray] = {}
    for j, c in enumerate(names):
        if is_text[j]:
            codes, uniques = pd.factorize(X[c])
            text_codes[j] = np.where(codes >= 0, codes + len(categories), -1)
            categories.extend(str(u) for u in uniques)
            numeric[j] = np.nan
        elif X[c].dtype.kind == "f":
            numeric[j] = np.asarray(X[c], dtype=float)  # no copy through a missing-value mask
        else:
            numeric[j] = X[c].to_numpy(dtype=float, na_value=np.nan)
    if medians is None:
        # past _MEDIAN_ROWS rows, the median of evenly spaced rows (its error is far below
        # the spread that "high" and "low" describe)
        sample = numeric[:, :: max(1, n // _MEDIAN_ROWS)]
        present = [col[~np.isnan(col)] for col in sample]
        reference = np.array([np.median(v) if len(v) else np.nan for v in present])
    else:
        reference = np.array(
            [np.nan if t else float(medians[c]) for c, t in zip(names, is_text, strict=True)]
        )
    label = _descriptions(names, descriptions)
    category_array = np.array([*categories, np.nan], dtype=object)  # code -1: missing
    out: dict[str, Any] = {}
    for slot in range(k):
        feature = best[:, slot]
        ok = valid[:, slot]
        up = (chosen[:, slot] > 0).astype(np.int64)
        value = numeric[feature, rows]
        token, shown = pd.factorize(_rounded(value), use_na_sentinel=False)
        token = token.astype(np.int64)
        shown_text = [_fmt(v) for v in np.asarray(shown, dtype=float).tolist()]
        med = reference[feature]
        level = np.select([np.isnan(value), value > med, value < med], [0, 1, 2], 3)
        text_rows = is_text[feature]
        code = np.full(n, -1, dtype=np.int64)
        for j, codes in text_codes.items():
            hit = feature == j
            code[hit] = codes[hit]
        level = np.where(text_rows, np.where(code >= 0, 4, 0), level)
        token = np.where(text_rows, len(shown) + code, token)
        token[level == 0] = 0
        n_tokens = len(shown) + len(categories)
        key = ((feature.astype(np.int64) * 5 + level) * n_tokens + token) * 2 + up
        where, keys = pd.factorize(key)
        texts = []
        for item in np.asarray(keys).tolist():
            rest, arrow = divmod(item, 2)
            rest, tok = divmod(rest, n_tokens)
            j, lev = divmod(rest, 5)
            what = categories[tok - len(shown)] if lev == 4 else shown_text[tok]
            texts.append(label[j] + _LEVELS[lev].format(what) + (" ↑" if arrow else " ↓"))
        # as a categorical: one string per distinct text, not one per row
        text_code, unique_texts = pd.factorize(np.array(texts, dtype=object))
        codes = np.where(ok, text_code[where], -1)
        base = f"reason_{slot + 1}"
        out[base] = pd.Categorical.from_codes(codes, categories=unique_texts)
        out[f"{base}_feature"] = pd.Categorical.from_codes(
            np.where(ok, feature, -1), categories=names
        )
        if is_text.any():
            values: np.ndarray = value.astype(object)
            values[text_rows] = category_array[code[text_rows]]
            values[~ok] = np.nan
        else:
            values = np.where(ok, value, np.nan)
        out[f"{base}_value"] = values
        out[f"{base}_effect"] = np.where(ok, chosen[:, slot], np.nan)
    for slot in range(k, top):
        base = f"reason_{slot + 1}"
        out[base] = pd.Categorical.from_codes(np.full(n, -1), categories=[])
        out[f"{base}_feature"] = pd.Categorical.from_codes(np.full(n, -1), categories=names)
        out[f"{base}_value"] = np.full(n, np.nan)
        out[f"{base}_effect"] = np.full(n, np.nan)
    return pd.DataFrame(out, index=X.index)
