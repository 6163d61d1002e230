"""The time axis of a synthetic store: units, seasonality and the day-weighted clock.

Timestamps are integer microseconds since the Unix epoch (naive UTC). Activity
follows a weekly cycle, shopping holidays (Black Friday week, December before
Christmas) and an hour-of-day profile; :class:`_Clock` turns day weights into a
time axis on which a Poisson process with a constant rate gets that seasonality.
"""

from __future__ import annotations

import numpy as np

SEC = 1_000_000
HOUR = 3600 * SEC
DAY = 24 * HOUR

_WEEKDAY_WEIGHT = np.array([0.92, 0.9, 0.92, 0.95, 1.02, 1.25, 1.2])  # Monday first
_HOUR_WEIGHT = np.array(
    [0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.35, 0.6, 0.8, 0.9, 1.0, 1.1,
     1.25, 1.15, 1.0, 1.0, 1.05, 1.2, 1.4, 1.6, 1.75, 1.6, 1.15, 0.7]
)  # fmt: skip


class _Clock:
    """The period, its day weights (weekly cycle, holidays) and their inverse."""

    def __init__(self, start: np.datetime64, days: int) -> None:
        self.days = days
        self.start_day = start.astype("datetime64[D]")
        self.start = int(self.start_day.astype("datetime64[us]").astype(np.int64))
        self.end = self.start + days * DAY
        self.dates = self.start_day + np.arange(days)
        self.weights = _day_weights(self.dates)
        self.cum = np.zeros(days + 1)
        np.cumsum(self.weights, out=self.cum[1:])

    def mass(self, t: np.ndarray) -> np.ndarray:
        """Weighted days from the period start to ``t`` (clipped to the period)."""
        x = np.clip((np.asarray(t) - self.start) / DAY, 0.0, float(self.days))
        d = np.minimum(x.astype(np.int64), self.days - 1)
        return self.cum[d] + self.weights[d] * (x - d)

    def invert(self, y: np.ndarray) -> np.ndarray:
        """Timestamp (us) at which the weighted-day mass reaches ``y``."""
        d = np.clip(np.searchsorted(self.cum, y, side="right") - 1, 0, self.days - 1)
        x = d + (y - self.cum[d]) / self.weights[d]
        return self.start + np.round(x * DAY).astype(np.int64)

    def midnight(self, t: np.ndarray) -> np.ndarray:
        """Start (us) of the day that holds ``t``."""
        return self.start + (t - self.start) // DAY * DAY


def _hour_of_day(u: np.ndarray) -> np.ndarray:
    """Hours (0-23, UTC) drawn from the hourly profile, by inverse CDF of uniforms ``u``."""
    hour_cdf = np.cumsum(_HOUR_WEIGHT) / _HOUR_WEIGHT.sum()
    return np.minimum(np.searchsorted(hour_cdf, u, side="right"), 23)


def _weekday(dates: np.ndarray) -> np.ndarray:
    return (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # Monday = 0


def _month_day(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(month 1-12, day of month 1-31) of each date."""
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return month, dom


def _holiday_flags(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Black Friday week Thursday..Cyber Monday, December 1-22) masks."""
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    peak = np.zeros(len(dates), dtype=bool)
    for year in np.unique(years):
        nov1 = np.datetime64(f"{year}-11-01")
        thanksgiving = nov1 + int((3 - _weekday(np.array([nov1]))[0]) % 7) + 21
        peak |= (dates >= thanksgiving) & (dates <= thanksgiving + 4)
    month, dom = _month_day(dates)
    return peak, (month == 12) & (dom <= 22)


def _day_weights(dates: np.ndarray) -> np.ndarray:
    w = _WEEKDAY_WEIGHT[_weekday(dates)].copy()
    month, dom = _month_day(dates)
    peak, advent = _holiday_flags(dates)
    w[peak] *= 1.9
    w[advent] *= 1.5
    dec = month == 12
    w[dec & ((dom == 23) | (dom == 24))] *= 1.2
    w[dec & (dom == 25)] *= 0.6
    w[dec & (dom >= 26)] *= 1.15
    w[(month == 1) & (dom <= 15)] *= 0.9
    return w
