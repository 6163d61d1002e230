"""Model cards: one Markdown page per registered model version.

The card says what the model is for, what data it saw (training and evaluation
windows, data fingerprint, features), how it was configured and how well it did
(on the evaluation window and, when recorded, at each origin of a rolling-origin
backtest), which features matter most to it, its stage history, the library
versions it was saved with, and the intended use and caveats. The registry writes
it as ``card.md`` beside the model and rewrites it when the stage changes.

>>> import datetime as dt
>>> from nextbest.models.registry import ModelVersion
>>> v = ModelVersion(name="churn", version=3, stage="candidate",
...     created_at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC), task="binary",
...     training_window=("2024-01-01", "2024-12-31"),
...     evaluation_window=("2025-01-01", "2025-03-31"), features=["recency", "frequency"],
...     params={"num_leaves": 15}, metrics={"roc_auc": 0.74, "log_loss": 0.52},
...     primary_metric="roc_auc", higher_is_better=True, data_fingerprint="9f2c")
>>> card = model_card(v)
>>> card.splitlines()[0]
'# Model card: churn v3'
>>> "| **roc_auc** (primary, higher is better) | 0.74 |" in card
True
>>> v.importance = [{"feature": "recency", "mean_abs_shap": 0.41, "share": 0.6}]
>>> "| 1 | `recency` | 0.41 | 0.6 |" in model_card(v)
True
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nextbest.models.registry import ModelVersion

__all__ = ["model_card"]

TOP_FEATURES = 10

PURPOSE = {
    "binary": (
        "Binary propensity: the probability that a customer does the target action "
        "(buys again, churns, converts) within the prediction horizon."
    ),
    "regression": (
        "Regression: a number per customer, such as spend or orders in the next period."
    ),
    "clv": (
        "Customer lifetime value: how many purchases a customer will make, whether "
        "they are still active, and what those purchases are worth."
    ),
}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _overlaps(version: ModelVersion) -> bool:
    train_end = dt.datetime.fromisoformat(version.training_window[1])
    eval_start = dt.datetime.fromisoformat(version.evaluation_window[0])
    return eval_start < train_end


_METRIC_ORDER = ("roc_auc", "pr_auc", "log_loss", "brier", "rmse", "mae", "r2", "spearman")
_IMPORTANCE_ORDER = ("mean_abs_shap", "share", "gain_share")


def _ordered(keys: Any, preferred: tuple[str, ...], skip: tuple[str, ...] = ()) -> list[str]:
    """``keys`` in the ``preferred`` order, then the others as they come."""
    present = [k for k in keys if k not in skip]
    return [k for k in preferred if k in present] + [k for k in present if k not in preferred]


def _day(value: Any) -> str:
    """An ISO timestamp as its date when it is midnight."""
    text = str(value)
    return text[:10] if text.endswith("T00:00:00") else text


def _backtest(records: list[dict[str, Any]]) -> list[str]:
    """A table of the rolling-origin backtest: one row per origin, model beside baseline."""
    if not records:
        return []
    metrics = _ordered(records[0].get("model", {}), _METRIC_ORDER, ("n", "base_rate"))
    header: tuple[str, ...] = ("origin", "trained on", "rows")
    header += tuple(f"{who} {m}" for m in metrics for who in ("model", "baseline"))
    rows = []
    for r in records:
        trained = [_day(t) for t in r.get("trained_on") or []]
        span = " to ".join(dict.fromkeys([trained[0], trained[-1]])) if trained else ""
        values = []
        for m in metrics:
            for who in ("model", "baseline"):
                value = r.get(who, {}).get(m)
                values.append("" if value is None else value)
        rows.append((_day(r.get("origin", "")), span, r.get("rows", ""), *values))
    return [
        "",
        "## Backtest",
        "",
        "Rolling origin: at each origin a model of the same settings is fitted on the "
        "cutoffs before it only, then scored there; the last origin is the evaluation window.",
        "",
        *_table(header, rows),
    ]


def _importance(records: list[dict[str, Any]]) -> list[str]:
    """The most important features, with their importance numbers."""
    if not records:
        return []
    columns = _ordered(records[0], _IMPORTANCE_ORDER, ("feature",))
    top = records[:TOP_FEATURES]
    rows = [
        (i, f"`{r.get('feature')}`", *(r.get(c, "") for c in columns)) for i, r in enumerate(top, 1)
    ]
    return [
        "",
        f"## Most important features (top {len(top)})",
        "",
        "Mean |SHAP| is the mean size of a feature's contribution to the raw score on a "
        "sample of evaluation rows; share is it as a fraction of the total"
        + (", gain share LightGBM's split gain likewise." if "gain_share" in columns else "."),
        "",
        *_table(("rank", "feature", *columns), rows),
    ]


def model_card(version: ModelVersion) -> str:
    """The Markdown model card of one registered version."""
    v = version
    train, evaluate = " to ".join(v.training_window), " to ".join(v.evaluation_window)
    direction = "higher" if v.higher_is_better else "lower"
    lines = [
        f"# Model card: {v.name} v{v.version}",
        "",
        f"- **Stage:** {v.stage}",
        f"- **Task:** {v.task}",
        f"- **Registered:** {v.created_at.isoformat()}",
        f"- **Saved as:** {v.kind or 'unknown'} ({', '.join(v.files) or 'no files'})",
        "",
        "## Purpose",
        "",
        PURPOSE.get(v.task, v.task),
    ]
    if v.notes:
        lines += ["", v.notes]
    lines += [
        "",
        "## Data",
        "",
        f"- **Training window:** {train}",
        f"- **Evaluation window:** {evaluate}",
        f"- **Data fingerprint:** `{v.data_fingerprint}`",
        "",
        f"## Features ({len(v.features)})",
        "",
    ]
    lines += [f"- `{f}`" for f in v.features] or ["(none listed)"]
    lines += ["", "## Parameters", ""]
    lines += _table(("parameter", "value"), sorted(v.params.items())) if v.params else ["(none)"]
    lines += ["", "## Metrics", ""]
    rows = [
        (f"**{k}** (primary, {direction} is better)" if k == v.primary_metric else k, value)
        for k, value in v.metrics.items()
    ]
    lines += _table(("metric", "value"), rows)
    lines += [
        "",
        f"Primary metric: **{v.primary_metric}** = {_cell(v.score)} ({direction} is better), "
        f"measured on {evaluate}. A challenger replaces the champion only if it does "
        "better on the same window.",
    ]
    lines += _backtest(v.backtest) + _importance(v.importance)
    lines += [
        "",
        "## Stage history",
        "",
    ]
    lines += _table(
        ("when", "stage", "reason"),
        [(h.get("at", ""), h.get("stage", ""), h.get("reason", "")) for h in v.stage_history],
    )
    lines += ["", "## Libraries", ""]
    lines += _table(("library", "version"), sorted(v.libraries.items()))
    lines += [
        "",
        "## Intended use and caveats",
        "",
        "- Intended for ranking and targeting this business's own customers in "
        "personalization decisions (which offer, message or product), scored on features "
        "computed the same way, as of the scoring date, from the features listed above.",
        f"- Learned from {train}. Behaviour shifts (season, prices, catalogue, campaigns, "
        "new channels) degrade it: monitor drift and re-evaluate on a recent window "
        "before relying on it.",
        f"- The metrics hold for {evaluate} only.",
    ]
    if _overlaps(v):
        lines.append(
            "- **The evaluation window starts before the training window ends:** the "
            "metrics may be optimistic."
        )
    lines += [
        "- Scores predict behaviour; they do not measure the effect of acting on it. "
        "Measure uplift with a holdout experiment.",
        "- Not for decisions with legal or similarly significant effects on people "
        "(credit, employment, individual pricing) without human review; check the "
        "features for protected attributes and their proxies.",
        "- Predictions are reproduced exactly only with the library versions above.",
        "",
    ]
    return "\n".join(lines)
