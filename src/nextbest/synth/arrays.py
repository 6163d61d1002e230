"""Vectorised numpy building blocks: group offsets and ranks, sorted searches, random draws."""

from __future__ import annotations

import numpy as np


def _excl_cumsum(counts: np.ndarray) -> np.ndarray:
    """Start offset of each group given group sizes."""
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal, sorted group ids."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    first = np.ones(n, dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return idx - np.maximum.accumulate(np.where(first, idx, 0))


def _inverse_permutation(order: np.ndarray) -> np.ndarray:
    """Position of each element in ``order`` (a permutation of ``0..n-1``)."""
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(len(order))
    return out


def _rank(values: np.ndarray) -> np.ndarray:
    """0-based rank of each value (ties broken by position)."""
    return _inverse_permutation(np.argsort(values, kind="stable"))


def _first_after(
    keys: np.ndarray, times: np.ndarray, key: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by (keys, times): index of the first row of ``key`` with time > ``after``.

    Returns (index, found) with a vectorised binary search inside each key's segment.
    """
    lo = np.searchsorted(keys, key, side="left")
    end = np.searchsorted(keys, key, side="right")
    hi = end.copy()
    while True:
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        go = times[np.minimum(mid, len(times) - 1)] <= after
        lo = np.where(open_ & go, mid + 1, lo)
        hi = np.where(open_ & ~go, mid, hi)
    return lo, lo < end


def _inverse_cdf(cum: np.ndarray, group: np.ndarray, u: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw from many discrete distributions stored one after another.

    ``cum`` holds each group's cumulative probabilities shifted by the group number
    (group ``g`` covers ``(g, g + 1]``), so one sorted search serves every group.
    Returns the position in ``cum`` where ``u`` (uniform in [0, 1)) falls for each
    ``group``, at most ``last`` (the group's final position).
    """
    return np.minimum(np.searchsorted(cum, group + u, side="right"), last)


def _draw_member(
    rng: np.random.Generator, group: np.ndarray, start: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Uniformly drawn index into a list where group ``g`` is ``start[g]`` + ``0..size[g]-1``."""
    return start[group] + (rng.random(len(group)) * size[group]).astype(np.int64)


def _lognormal(
    rng: np.random.Generator, median: np.ndarray, sigma: float | np.ndarray
) -> np.ndarray:
    """Log-normal draws with the given medians and log-scale spread."""
    return median * np.exp(sigma * rng.standard_normal(len(median)))
