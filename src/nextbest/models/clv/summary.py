"""From transactions to the inputs of the lifetime-value models.

Purchases on the same calendar day are merged into one (their values summed), as
Fader, Hardie & Lee do for CDNOW. For each customer whose first purchase falls on or
before ``calibration_end`` (the last day of the calibration period, inclusive):

* ``frequency``: the number of repeat purchase days (days with a purchase after the first);
* ``recency``: the time from the first to the last purchase day;
* ``T``: the time from the first purchase day to ``calibration_end``;
* ``monetary_value``: the mean value of the repeat purchase days (0 without repeats),

in ``unit`` ("days" or "weeks"). :func:`calibration_holdout_summary` adds the purchase
days after ``calibration_end`` up to ``holdout_end`` (inclusive) for the same customers.

>>> import pandas as pd
>>> tx = pd.DataFrame({
...     "customer_id": ["a", "a", "a", "a", "b"],
...     "timestamp": pd.to_datetime(["1997-01-01 09:00", "1997-01-01 18:00", "1997-01-15 12:00",
...                                  "1997-01-29 10:30", "1997-01-08 08:00"]),
...     "value": [10.0, 5.0, 20.0, 30.0, 8.0],
... })
>>> rfm_summary(tx, "1997-02-05", unit="weeks")  # doctest: +NORMALIZE_WHITESPACE
             frequency  recency    T  monetary_value
customer_id
a                    2      4.0  5.0            25.0
b                    0      0.0  4.0             0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nextbest.models.clv.base import ModelInputError

__all__ = ["UNITS", "calibration_holdout_summary", "rfm_summary"]

UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0}
"""Days per time unit."""

_ALIASES = {"d": "days", "day": "days", "w": "weeks", "week": "weeks"}


def _days_per_unit(unit: str) -> float:
    name = _ALIASES.get(unit.lower(), unit.lower())
    if name not in UNITS:
        raise ModelInputError(
            f"unknown time unit {unit!r}.", field="unit", hint="Use 'days' or 'weeks'."
        )
    return UNITS[name]


def _day(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ModelInputError(f"{name} is not a date ({err}).", field=name) from None
    if pd.isna(stamp):
        raise ModelInputError(f"{name} is missing.", field=name)
    return stamp.normalize()


def _daily(
    transactions: pd.DataFrame, customer_col: str, time_col: str, value_col: str | None
) -> pd.DataFrame:
    """One row per customer and purchase day: ``customer``, ``day``, ``value`` (summed)."""
    wanted = [customer_col, time_col] + ([value_col] if value_col else [])
    missing = [c for c in wanted if c not in transactions.columns]
    if missing:
        raise ModelInputError(
            f"the transactions have no column(s) {', '.join(map(repr, missing))} "
            f"(they have {', '.join(map(str, transactions.columns))}).",
            field=missing[0],
            hint="Name the columns with customer_col=, time_col=, value_col=.",
        )
    try:
        stamps = pd.to_datetime(transactions[time_col])
    except (TypeError, ValueError) as err:
        raise ModelInputError(f"{time_col} does not hold dates ({err}).", field=time_col) from None
    frame = pd.DataFrame(
        {
            "customer": transactions[customer_col].to_numpy(),
            "day": stamps.dt.normalize().to_numpy(),
            "value": (
                pd.to_numeric(transactions[value_col], errors="coerce").to_numpy(dtype=float)
                if value_col
                else 0.0
            ),
        }
    )
    for col, name in (("customer", customer_col), ("day", time_col), ("value", value_col)):
        bad = frame[col].isna().to_numpy()
        if bad.any():
            at = transactions.index[int(np.flatnonzero(bad)[0])]
            raise ModelInputError(
                f"{int(bad.sum())} transaction(s) have no usable {name} (first at row {at!r}).",
                field=name,
                hint="Drop or repair those rows first.",
            )
    daily = frame.groupby(["customer", "day"], sort=True, observed=True)["value"].sum()
    return daily.reset_index()


def _summarise(daily: pd.DataFrame, end: pd.Timestamp, per_unit: float) -> pd.DataFrame:
    grouped = daily.groupby("customer", sort=True, observed=True)
    first = grouped["day"].min()
    stats = pd.DataFrame(
        {
            "days": grouped.size(),
            "first": first,
            "last": grouped["day"].max(),
            "total": grouped["value"].sum(),
            "first_value": grouped["value"].first(),  # days are sorted within a customer
        }
    )
    frequency = stats["days"] - 1
    repeat_total = stats["total"] - stats["first_value"]
    out = pd.DataFrame(
        {
            "frequency": frequency.astype("int64"),
            "recency": (stats["last"] - stats["first"]).dt.days / per_unit,
            "T": (end - stats["first"]).dt.days / per_unit,
            "monetary_value": np.where(frequency > 0, repeat_total / frequency.clip(lower=1), 0.0),
        }
    )
    out.index.name = None
    return out


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: Any,
    *,
    unit: str = "weeks",
    customer_col: str = "customer_id",
    time_col: str = "timestamp",
    value_col: str | None = "value",
) -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer at ``calibration_end``.

    Parameters
    ----------
    transactions
        One row per purchase (or purchase line): customer, time, value.
    calibration_end
        Last day of the calibration period, inclusive. Later transactions are ignored.
    unit
        "days" or "weeks" for ``recency`` and ``T``.
    customer_col, time_col, value_col
        Column names; ``value_col=None`` when there is no value (``monetary_value`` is 0).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (named ``customer_col``), sorted.
    """
    per_unit = _days_per_unit(unit)
    end = _day(calibration_end, "calibration_end")
    daily = _daily(transactions, customer_col, time_col, value_col)
    out = _summarise(daily[daily["day"] <= end], end, per_unit)
    out.index.name = customer_col
    return out


def calibration_holdout_summary(
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any,
    *,
    unit: str = "weeks",
    customer_col: str = "customer_id",
    time_col: str = "timestamp",
    value_col: str | None = "value",
) -> pd.DataFrame:
    """:func:`rfm_summary` at ``calibration_end`` plus what followed until ``holdout_end``.

    Only customers whose first purchase falls in the calibration period are kept.
    Added columns: ``frequency_holdout`` (purchase days after ``calibration_end`` up to
    ``holdout_end`` inclusive), ``monetary_value_holdout`` (their mean value, 0 if none)
    and ``duration_holdout`` (the holdout length in ``unit``).

    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2], "value": [5.0, 6.0, 7.0, 4.0],
    ...     "timestamp": ["2024-01-01", "2024-01-08", "2024-01-20", "2024-01-25"]})
    >>> got = calibration_holdout_summary(tx, "2024-01-14", "2024-01-28", unit="days")
    >>> cols = ["frequency", "T", "frequency_holdout", "duration_holdout"]
    >>> got[cols]  # doctest: +NORMALIZE_WHITESPACE
                 frequency     T  frequency_holdout  duration_holdout
    customer_id
    1                    1  13.0                  1              14.0
    """
    per_unit = _days_per_unit(unit)
    end = _day(calibration_end, "calibration_end")
    stop = _day(holdout_end, "holdout_end")
    if stop <= end:
        raise ModelInputError(
            f"holdout_end ({stop.date()}) must be after calibration_end ({end.date()}).",
            field="holdout_end",
        )
    daily = _daily(transactions, customer_col, time_col, value_col)
    out = _summarise(daily[daily["day"] <= end], end, per_unit)
    later = daily[(daily["day"] > end) & (daily["day"] <= stop)]
    holdout = later.groupby("customer", observed=True)["value"].agg(["size", "mean"])
    holdout = holdout.reindex(out.index)
    out["frequency_holdout"] = holdout["size"].fillna(0).astype("int64")
    out["monetary_value_holdout"] = holdout["mean"].fillna(0.0)
    out["duration_holdout"] = (stop - end).days / per_unit
    out.index.name = customer_col
    return out
