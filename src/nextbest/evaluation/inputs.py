"""What the evaluation functions accept: label and score arrays, checked once.

Every metric takes plain numpy arrays, lists or pandas Series. Labels are 0/1
(booleans are fine), scores are finite numbers, both of the same length.

>>> y, s = check_binary_scores([1, 0, True], [0.9, 0.2, 0.4])
>>> y.tolist(), s.tolist()
([1, 0, 1], [0.9, 0.2, 0.4])
>>> try:
...     check_binary_scores([1, 2], [0.5, 0.5])
... except EvaluationInputError as err:
...     print(err.field, "|", err.message)
y_true | labels must be 0 or 1; found 2 at position 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd

from nextbest.errors import NextBestError

__all__ = [
    "ArrayLike",
    "EvaluationInputError",
    "check_binary_scores",
    "check_bins",
    "check_paired",
    "check_share",
    "is_probability",
    "to_float_array",
]

ArrayLike: TypeAlias = Sequence[float] | np.ndarray | pd.Series


class EvaluationInputError(NextBestError, ValueError):
    """Inputs a metric cannot use: wrong lengths, non-binary labels, missing scores."""


def to_float_array(values: ArrayLike, field: str) -> np.ndarray:
    """A one-dimensional array of finite floats, or a clear error naming ``field``."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise EvaluationInputError(f"values must be numbers ({err}).", field=field) from err
    if arr.ndim != 1:
        raise EvaluationInputError(
            f"expected one value per row (a 1-d array); got shape {arr.shape}.", field=field
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise EvaluationInputError(
            f"values must be finite; found {arr[bad[0]]} at position {bad[0]}"
            f" ({bad.size} such row(s)).",
            field=field,
            hint="Drop or impute those rows before evaluating.",
        )
    return arr


def check_paired(a: ArrayLike, b: ArrayLike, names: tuple[str, str]) -> tuple[np.ndarray, ...]:
    """Two finite float arrays of the same, non-zero length."""
    x, y = to_float_array(a, names[0]), to_float_array(b, names[1])
    if x.shape != y.shape:
        raise EvaluationInputError(
            f"{names[0]} has {x.size} rows but {names[1]} has {y.size}; give one value per row"
            " in both.",
            field=names[1],
        )
    if x.size == 0:
        raise EvaluationInputError("no rows to evaluate.", field=names[0])
    return x, y


def check_binary_scores(
    y_true: ArrayLike, score: ArrayLike, *, field: str = "score", both_classes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """0/1 integer labels and float scores of the same length.

    With ``both_classes`` the labels must hold at least one 0 and one 1 (a ranking
    metric such as AUC says nothing otherwise).
    """
    y, s = check_paired(y_true, score, ("y_true", field))
    bad = np.flatnonzero((y != 0) & (y != 1))
    if bad.size:
        raise EvaluationInputError(
            f"labels must be 0 or 1; found {y[bad[0]]:g} at position {bad[0]}.", field="y_true"
        )
    labels = y.astype(np.int64)
    if both_classes and labels.min() == labels.max():
        raise EvaluationInputError(
            f"every label is {labels[0]}; this metric needs both positives and negatives.",
            field="y_true",
        )
    return labels, s


def is_probability(score: np.ndarray) -> bool:
    """Whether every score lies in [0, 1] (so log loss, Brier and 0.5 apply)."""
    return bool(score.size) and float(score.min()) >= 0.0 and float(score.max()) <= 1.0


def check_bins(bins: int, rows: int) -> int:
    """A bin count of at least 1 and at most the number of rows."""
    if int(bins) != bins or bins < 1:
        raise EvaluationInputError(f"bins must be a positive integer; got {bins!r}.", field="bins")
    if rows < bins:
        raise EvaluationInputError(
            f"{rows} row(s) cannot fill {bins} bins.", field="bins", hint="Use fewer bins."
        )
    return int(bins)


def check_share(value: float, field: str) -> float:
    """A share strictly above 0 and at most 1."""
    if not 0.0 < float(value) <= 1.0:
        raise EvaluationInputError(f"must lie in (0, 1]; got {value!r}.", field=field)
    return float(value)
