"""RFM scores (quintiles 1-5) and the standard RFM segment names.

Recency scores 5 for the most recent buyers; frequency and monetary value score 5
for the highest. Ties share a score (a score is 1 + the share of customers ranked
strictly below, in fifths), so the same data always gives the same scores. The
segment comes from the recency score and the mean of the frequency and monetary
scores (rounded half up), by the first matching rule of :data:`SEGMENT_RULES`.
Customers with no order before ``as_of`` are "No Purchases".

>>> import pandas as pd
>>> snap = pd.DataFrame({
...     "customer_id": list("abcdef"),
...     "recency_days": [2.0, 50.0, 10.0, 200.0, 5.0, None],
...     "frequency": [9, 1, 3, 1, 1, 0],
...     "monetary": [900.0, 20.0, 150.0, 10.0, 30.0, 0.0],
... })
>>> rfm_scores(snap)["rfm_segment"].tolist()  # doctest: +NORMALIZE_WHITESPACE
['Champions', 'Hibernating', 'Loyal Customers', 'Lost', 'Potential Loyalists',
 'No Purchases']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["NO_PURCHASES", "SEGMENTS", "SEGMENT_RULES", "rfm_scores", "segment_name"]

NO_PURCHASES = "No Purchases"

# (segment, allowed recency scores, allowed frequency-monetary scores); first match wins
SEGMENT_RULES: tuple[tuple[str, frozenset[int], frozenset[int]], ...] = (
    ("Champions", frozenset({5}), frozenset({4, 5})),
    ("Loyal Customers", frozenset({3, 4}), frozenset({4, 5})),
    ("Potential Loyalists", frozenset({4, 5}), frozenset({2, 3})),
    ("New Customers", frozenset({5}), frozenset({1})),
    ("Promising", frozenset({4}), frozenset({1})),
    ("Need Attention", frozenset({3}), frozenset({3})),
    ("About to Sleep", frozenset({3}), frozenset({1, 2})),
    ("Can't Lose Them", frozenset({1, 2}), frozenset({5})),
    ("At Risk", frozenset({1, 2}), frozenset({3, 4})),
    ("Hibernating", frozenset({2}), frozenset({1, 2})),
    ("Lost", frozenset({1}), frozenset({1, 2})),
)
SEGMENTS: tuple[str, ...] = (*(name for name, _, _ in SEGMENT_RULES), NO_PURCHASES)


def segment_name(r: int, fm: int) -> str:
    """The segment for a recency score and a frequency-monetary score (both 1-5)."""
    for name, rs, fms in SEGMENT_RULES:
        if r in rs and fm in fms:
            return name
    raise ValueError(f"no RFM segment for r={r}, fm={fm}")


def _quintile(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """1-5 by rank; ties share the lowest rank's score."""
    ranked = (values if higher_is_better else -values).rank(method="min") - 1
    return (1 + np.floor(5 * ranked / len(values))).clip(1, 5).astype(int)


def rfm_scores(snapshot: pd.DataFrame) -> pd.DataFrame:
    """R, F, M scores, the FM score and the segment of every customer in ``snapshot``.

    Needs columns ``customer_id``, ``recency_days``, ``frequency``, ``monetary``.
    """
    out = snapshot[["customer_id"]].copy()
    buyers = snapshot["frequency"].fillna(0) > 0
    b = snapshot[buyers]
    for col in ("r", "f", "m", "fm"):
        out[col] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out["rfm_segment"] = NO_PURCHASES
    if len(b):
        r = _quintile(b["recency_days"], higher_is_better=False)
        f = _quintile(b["frequency"].astype(float), higher_is_better=True)
        m = _quintile(b["monetary"].astype(float), higher_is_better=True)
        fm = np.floor((f + m) / 2 + 0.5).astype(int)
        out.loc[buyers, "r"] = r
        out.loc[buyers, "f"] = f
        out.loc[buyers, "m"] = m
        out.loc[buyers, "fm"] = fm
        out.loc[buyers, "rfm_segment"] = [segment_name(a, c) for a, c in zip(r, fm, strict=True)]
    return out
