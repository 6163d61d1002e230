"""Choose a decision threshold: best F1, most profit, or a contact budget.

Every distinct score is tried as a threshold (rows scoring at least it are
contacted), plus contacting nobody; the confusion counts at all of them come from
one sort (:func:`nextbest.evaluation.curves.threshold_counts`), so the choice is
exact. Among equally good thresholds the highest (fewest contacts) wins.

>>> y = [1, 1, 0, 1, 0, 0]
>>> p = [0.9, 0.8, 0.7, 0.6, 0.3, 0.1]
>>> choice = choose_threshold(y, p, "f1")
>>> choice.threshold, round(choice.value, 3)
(0.6, 0.857)
>>> choose_threshold(y, p, "profit", cost_matrix={"tp": 10, "fp": -12}).threshold
0.8
>>> choose_threshold(y, p, "budget", budget=0.5).contacted
3
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from nextbest.evaluation.curves import _counts
from nextbest.evaluation.inputs import (
    ArrayLike,
    EvaluationInputError,
    check_binary_scores,
    check_share,
)

__all__ = ["ThresholdChoice", "choose_threshold"]

_CELLS = ("tp", "fp", "fn", "tn")


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold, the objective's value there and the confusion counts.

    ``threshold`` is ``inf`` when contacting nobody is best. ``value`` is the F1
    for ``"f1"``, the total value ``sum(cost_matrix[cell] * count[cell])`` for
    ``"profit"``, and the recall (share of positives reached) for ``"budget"``.
    """

    objective: str
    threshold: float
    value: float
    contacted: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (an ``inf`` threshold becomes ``None``)."""
        out = asdict(self)
        out["threshold"] = None if math.isinf(self.threshold) else self.threshold
        return out


def _values(cost_matrix: Mapping[str, float] | None) -> dict[str, float]:
    if not cost_matrix:
        raise EvaluationInputError(
            "the profit objective needs a cost_matrix.",
            field="cost_matrix",
            hint="Give the value per customer of each cell, e.g. {'tp': 40, 'fp': -2}.",
        )
    unknown = sorted(set(cost_matrix) - set(_CELLS))
    if unknown:
        raise EvaluationInputError(
            f"unknown cell(s) {unknown}; use tp, fp, fn and tn.", field="cost_matrix"
        )
    return {cell: float(cost_matrix.get(cell, 0.0)) for cell in _CELLS}


def choose_threshold(
    y_true: ArrayLike,
    prob: ArrayLike,
    objective: Literal["f1", "profit", "budget"] = "f1",
    *,
    cost_matrix: Mapping[str, float] | None = None,
    budget: float = 0.1,
) -> ThresholdChoice:
    """The threshold that is best for ``objective`` on these labels and scores.

    Parameters
    ----------
    y_true : array of 0/1
        Observed outcomes; both classes must occur.
    prob : array of float
        Scores; customers scoring at least the threshold are contacted.
    objective : {"f1", "profit", "budget"}
        ``"f1"`` maximises F1. ``"profit"`` maximises the total of
        ``cost_matrix`` values over customers. ``"budget"`` contacts as many as
        possible without exceeding ``budget`` (a share of all customers); ties at
        the boundary are never split, so fewer may be contacted.
    cost_matrix : dict, optional
        Value per customer in each confusion cell (``tp``, ``fp``, ``fn``, ``tn``;
        missing cells are worth 0). Costs are negative values.
    budget : float
        Largest share of customers contacted, in (0, 1].

    Returns
    -------
    ThresholdChoice
    """
    y, s = check_binary_scores(y_true, prob, field="prob", both_classes=True)
    c = _counts(y, s)
    thresholds = np.r_[np.inf, c.thresholds]
    tp = np.r_[0, c.tp]
    fp = np.r_[0, c.fp]
    fn, tn = c.positives - tp, c.negatives - fp
    contacted = tp + fp
    if objective == "f1":
        value = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
        best = int(np.argmax(value))
    elif objective == "profit":
        v = _values(cost_matrix)
        value = tp * v["tp"] + fp * v["fp"] + fn * v["fn"] + tn * v["tn"]
        best = int(np.argmax(value))
    elif objective == "budget":
        limit = math.floor(check_share(budget, "budget") * y.size + 1e-9)
        best = int(np.flatnonzero(contacted <= limit)[-1])
        value = tp / c.positives
    else:
        raise EvaluationInputError(
            f"unknown objective {objective!r}; use 'f1', 'profit' or 'budget'.", field="objective"
        )
    k = best
    return ThresholdChoice(
        objective=objective,
        threshold=float(thresholds[k]),
        value=float(value[k]),
        contacted=int(contacted[k]),
        tp=int(tp[k]),
        fp=int(fp[k]),
        fn=int(fn[k]),
        tn=int(tn[k]),
        precision=float(tp[k] / contacted[k]) if contacted[k] else 0.0,
        recall=float(tp[k] / c.positives),
    )
