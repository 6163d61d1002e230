"""Batch scoring: every champion model's score per customer, with its reasons.

The ``scores`` table holds one row per customer and model for each ``as_of``:
the score (a probability, or a value for value models), its decile (1 = the top
tenth), the customer's RFM segment and persona when segments are stored, the top
three reasons behind the score in words, and the model version that produced it.

A lifetime-value model (task ``clv``, such as ``clv_bgnbd``) scores the customers
with an order before ``as_of`` from their order history (frequency, recency, age and
mean repeat spend in days), not from the feature snapshot. Its rows add
``p_alive``, ``expected_purchases`` (purchase days in the model's horizon),
``spend_per_purchase`` and ``clv`` (the expected spend in the horizon, discounted
at the annual ``discount_rate``); ``score`` is the ``clv``. Other models' rows
leave those columns empty.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.config import FeatureSettings
from nextbest.errors import NextBestError, NotFoundError
from nextbest.features import REGISTRY, Context, default_as_of, snapshot_frame
from nextbest.features.store import list_snapshots, load_snapshot
from nextbest.models.registry import ModelRegistry, ModelVersion
from nextbest.warehouse import Warehouse

__all__ = [
    "CLV_COLUMNS",
    "SCORES_TABLE",
    "ScoreResult",
    "clv_score_frame",
    "deciles",
    "score_frame",
    "score_warehouse",
]

SCORES_TABLE = "scores"
REASONS = 3
CLV_COLUMNS = ("p_alive", "expected_purchases", "spend_per_purchase", "clv")


@dataclass
class ScoreResult:
    as_of: dt.datetime
    rows: int
    models: dict[str, int] = field(default_factory=dict)  # name -> version
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "models": self.models,
            "seconds": round(self.seconds, 2),
        }


def deciles(score: np.ndarray) -> np.ndarray:
    """1 for the highest-scoring tenth, ..., 10 for the lowest (ties by position).

    >>> deciles(np.array([0.9, 0.1, 0.5, 0.7])).tolist()
    [1, 8, 6, 3]
    """
    n = len(score)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return (rank * 10 // max(n, 1) + 1).astype(np.int64)


def _plain(X: pd.DataFrame) -> pd.DataFrame:
    """``X`` with NumPy columns: Arrow-backed ones would be converted at every step."""
    out = {}
    for name, column in X.items():
        if isinstance(column.dtype, pd.ArrowDtype) and pd.api.types.is_numeric_dtype(column):
            values = pa.array(column.array).cast(pa.float64())
            out[name] = pc.fill_null(values, np.nan).to_numpy()
        else:
            out[name] = column
    return pd.DataFrame(out, index=X.index)


def _explained(model: Any, X: pd.DataFrame, descriptions: dict[str, str]) -> tuple[Any, Any]:
    """Scores and the top reasons per row from one pass over the model's trees.

    A row's contributions add up to its raw score, so the score comes from them: the
    model is not run a second time. Learners that cannot explain give (None, None).
    """
    from nextbest.models.explain import contributions, reason_codes

    if getattr(model, "algorithm", "") not in ("lightgbm", "logistic"):
        return None, None
    # columns a linear model's pipeline did not scale (one-hot) are measured from the
    # scored rows' mean; trees need no reference
    background = X.iloc[:: max(1, len(X) // 100_000)]
    contribs = contributions(model.pipeline_, X, background=background)
    score = model.from_raw(contribs.to_numpy().sum(axis=1))
    codes = reason_codes(contribs, X, top=REASONS, direction="up", descriptions=descriptions)
    texts = pd.DataFrame(
        {
            f"reason_{i}": codes[f"reason_{i}"].astype(object).fillna("").astype(str).to_numpy()
            for i in range(1, REASONS + 1)
        }
    )
    return score, texts


def score_frame(
    model: Any,
    version: ModelVersion,
    snapshot: pd.DataFrame,
    descriptions: dict[str, str] | None = None,
    *,
    reasons: bool = True,
) -> pd.DataFrame:
    """Score ``snapshot`` (one row per customer) with one model version."""
    missing = [f for f in version.features if f not in snapshot.columns]
    if missing:
        raise NextBestError(
            f"{version.label} needs features the snapshot lacks: {', '.join(missing[:5])}",
            field="features",
            hint="Build the snapshot with the feature settings the model was trained with, "
            "or train the model again.",
        )
    X = _plain(snapshot[version.features])
    score, texts = _explained(model, X, descriptions or {}) if reasons else (None, None)
    if score is None:
        score = model.predict_proba(X)[:, 1] if version.task == "binary" else model.predict(X)
    out = pd.DataFrame(
        {
            "customer_id": snapshot["customer_id"].to_numpy(),
            "model": version.name,
            "version": version.version,
            "score": np.asarray(score, dtype=float),
            "decile": deciles(np.asarray(score, dtype=float)),
        }
    )
    if texts is not None:
        out = pd.concat([out, texts], axis=1)
    else:
        for i in range(1, REASONS + 1):
            out[f"reason_{i}"] = ""
    return out


def _texts(values: np.ndarray, template: str) -> np.ndarray:
    """``template`` formatted once per distinct rounded value, spread over the rows."""
    distinct, inverse = np.unique(np.round(values, 2), return_inverse=True)
    return np.array([template.format(v) for v in distinct], dtype=object)[inverse]


def clv_score_frame(
    model: Any,
    version: ModelVersion,
    summary: pd.DataFrame,
    *,
    discount_rate: float | None = None,
    reasons: bool = True,
) -> pd.DataFrame:
    """Score customers' order summaries (index: customer id) with a lifetime-value model.

    ``summary`` has the model's inputs (``frequency``, ``recency``, ``T``,
    ``monetary_value`` in days, as :func:`nextbest.models.train.order_summary` gives);
    ``discount_rate`` overrides the annual rate the model was trained with.
    """
    missing = [f for f in version.features if f not in summary.columns]
    if missing:
        raise NextBestError(
            f"{version.label} needs inputs the order summary lacks: {', '.join(missing)}",
            field="features",
        )
    forecast = model.predict_frame(summary, discount_rate=discount_rate)
    clv = forecast["clv"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "customer_id": summary.index.to_numpy(),
            "model": version.name,
            "version": version.version,
            "score": clv,
            "decile": deciles(clv),
        }
    )
    if reasons:
        horizon = int(model.horizon_days)
        out["reason_1"] = _texts(forecast["p_alive"].to_numpy(), "P(still active) {:.2f}")
        out["reason_2"] = _texts(
            forecast["expected_purchases"].to_numpy(),
            "{:.2f} purchases expected in the next " + f"{horizon} days",
        )
        out["reason_3"] = _texts(
            forecast["spend_per_purchase"].to_numpy(), "about {:,.2f} per purchase"
        )
    else:
        for i in range(1, REASONS + 1):
            out[f"reason_{i}"] = ""
    for column in CLV_COLUMNS:
        out[column] = forecast[column].to_numpy(dtype=float)
    return out


def _snapshot(wh: Warehouse, as_of: dt.datetime, settings: FeatureSettings | None) -> pd.DataFrame:
    if as_of in list_snapshots(wh):
        return load_snapshot(wh, as_of).drop(columns="as_of")
    return snapshot_frame(wh, as_of, settings)


def _segments(wh: Warehouse, as_of: dt.datetime) -> pd.DataFrame | None:
    from nextbest.segments.store import SEGMENT_TABLE, load_segments

    if SEGMENT_TABLE not in wh.list_tables():
        return None
    frame = load_segments(wh, as_of)
    if frame.empty:
        return None
    frame = frame[["customer_id", "rfm_segment", "persona"]].astype(object)
    return frame.rename(columns={"rfm_segment": "segment"})


def score_warehouse(
    wh: Warehouse,
    registry: ModelRegistry,
    as_of: dt.datetime | None = None,
    settings: FeatureSettings | None = None,
    *,
    models: list[str] | None = None,
    reasons: bool = True,
    progress: Callable[[str], None] | None = None,
    discount_rate: float | None = None,
) -> ScoreResult:
    """Score every customer with each champion (or the named models) and store it.

    ``discount_rate`` is the annual rate lifetime-value models discount with (None:
    the rate each was trained with).
    """
    say = progress or (lambda _: None)
    t0 = time.perf_counter()
    names = models or registry.names()
    chosen = [(n, v) for n in names if (v := registry.champion(n)) is not None]
    if not chosen:
        raise NotFoundError(
            "no champion model to score with",
            hint="Train one first: nextbest train purchase (or churn, clv).",
        )
    as_of = as_of or default_as_of(wh)
    say(f"features as of {as_of:%Y-%m-%d}")
    snapshot = _snapshot(wh, as_of, settings)
    descriptions = {f.name: f.description for f in REGISTRY.declared(Context.empty(as_of))}
    parts = []
    summary: pd.DataFrame | None = None
    for name, version in chosen:
        say(f"scoring with {version.label}")
        model = registry.load(name, version.version)
        if version.task == "clv":
            if summary is None:
                from nextbest.models.train import order_summary

                summary = order_summary(wh, as_of)
                summary = summary[summary.index.isin(snapshot["customer_id"])]
            parts.append(
                clv_score_frame(
                    model, version, summary, discount_rate=discount_rate, reasons=reasons
                )
            )
            continue
        parts.append(score_frame(model, version, snapshot, descriptions, reasons=reasons))
    scores = pd.concat(parts, ignore_index=True)
    segments = _segments(wh, as_of)
    if segments is not None:
        scores = scores.merge(segments, on="customer_id", how="left")
    else:
        scores["segment"] = None
        scores["persona"] = None
    scores.insert(0, "as_of", pd.Timestamp(as_of))
    say("writing the scores table")
    data = wh.from_arrow(pa.Table.from_pandas(scores, preserve_index=False))
    data = data.mutate(as_of=data.as_of.cast("timestamp(6)"))
    wh.replace_slice(SCORES_TABLE, data, "as_of", as_of)
    wh.clear_scratch()
    return ScoreResult(
        as_of,
        len(scores),
        {n: v.version for n, v in chosen},
        time.perf_counter() - t0,
    )
