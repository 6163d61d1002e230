"""Segment stability between two snapshots: adjusted Rand index and transitions.

>>> import pandas as pd
>>> a = pd.Series(["x", "x", "y", "y"], index=list("abcd"))
>>> b = pd.Series(["p", "p", "q", "q"], index=list("abcd"))
>>> stability(a, b)["adjusted_rand"]
1.0
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.metrics import adjusted_rand_score

__all__ = ["stability"]


def stability(before: pd.Series, after: pd.Series) -> dict[str, Any]:
    """Compare two labelings indexed by customer id (only customers in both count).

    Returns the adjusted Rand index (1 = the same partition, about 0 = chance), the
    customers compared, and the transition matrix: for each label before, the share
    of its customers in each label after.
    """
    common = before.index.intersection(after.index)
    a, b = before.loc[common].astype(str), after.loc[common].astype(str)
    matrix = pd.crosstab(a, b, normalize="index") if len(common) else pd.DataFrame()
    return {
        "customers": len(common),
        "adjusted_rand": round(float(adjusted_rand_score(a, b)), 6) if len(common) else None,
        "transitions": {
            str(i): {str(j): round(float(v), 4) for j, v in row.items() if v > 0}
            for i, row in matrix.iterrows()
        },
    }
