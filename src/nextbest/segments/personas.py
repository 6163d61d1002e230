"""Personas: what sets each cluster apart, and a readable name derived from it.

A cluster's distinctive features are those whose cluster mean is furthest from the
population mean, in population standard deviations (z). The name joins the
phrases of its two most distinctive features (from :data:`PHRASES`) and, when one
category holds at least 40% of the cluster, that category.

>>> import pandas as pd
>>> snap = pd.DataFrame({"monetary": [10, 12, 900, 950], "frequency": [1, 1, 9, 8],
...                      "favourite_category": ["books"] * 2 + ["electronics"] * 2})
>>> [p.name for p in describe_clusters(snap, [0, 0, 1, 1], ["monetary", "frequency"])]
['Low spenders, rare buyers · books', 'Big spenders, frequent buyers · electronics']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["PHRASES", "Persona", "cluster_z", "describe_clusters"]

# feature -> (phrase when high, phrase when low)
PHRASES: dict[str, tuple[str, str]] = {
    "monetary": ("big spenders", "low spenders"),
    "frequency": ("frequent buyers", "rare buyers"),
    "aov": ("large baskets", "small baskets"),
    "recency_days": ("lapsed", "recent buyers"),
    "sessions_90d": ("frequent visitors", "rare visitors"),
    "product_views_90d": ("keen browsers", "light browsers"),
    "cart_abandonments_90d": ("cart abandoners", "decisive shoppers"),
    "activity_score": ("highly active", "inactive"),
    "engagement_score": ("email-engaged", "email-silent"),
    "open_rate": ("email openers", "email ignorers"),
    "discount_share": ("deal seekers", "full-price buyers"),
    "price_index": ("premium buyers", "budget buyers"),
    "tenure_days": ("long-standing", "newcomers"),
}
CATEGORY_SHARE = 0.4


@dataclass
class Persona:
    """One cluster described: size, distinctive features, top categories, name."""

    cluster: int
    size: int
    share: float
    name: str
    distinctive: list[dict[str, float | str]] = field(default_factory=list)
    top_categories: list[dict[str, float | str]] = field(default_factory=list)
    means: dict[str, float] = field(default_factory=dict)


def _phrase(feature: str, z: float) -> str:
    high, low = PHRASES.get(feature, (f"high {feature}", f"low {feature}"))
    return high if z > 0 else low


def cluster_z(values: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Cluster x feature: (cluster mean - population mean) / population std (0 if constant)."""
    std = values.std(ddof=0).replace(0, np.nan)
    return ((values.groupby(labels).mean() - values.mean()) / std).fillna(0.0)


def describe_clusters(
    snapshot: pd.DataFrame, labels: Sequence[int] | np.ndarray, features: Sequence[str]
) -> list[Persona]:
    """A :class:`Persona` per cluster label, in label order."""
    labels = np.asarray(labels)
    values = snapshot[list(features)].astype(float)
    zs = cluster_z(values, labels)
    personas: list[Persona] = []
    for c in sorted(np.unique(labels)):
        part = values[labels == c]
        z = zs.loc[c]
        order = z.abs().sort_values(ascending=False).index
        distinctive = [
            {"feature": f, "z": round(float(z[f]), 3), "mean": float(part[f].mean())}
            for f in order[:3]
        ]
        top: list[dict[str, float | str]] = []
        if "favourite_category" in snapshot.columns:
            cats = snapshot.loc[labels == c, "favourite_category"].dropna()
            shares = cats.value_counts(normalize=True).head(3)
            top = [{"category": str(k), "share": round(float(v), 3)} for k, v in shares.items()]
        words = [_phrase(d["feature"], float(d["z"])) for d in distinctive[:2]]  # type: ignore[arg-type]
        name = ", ".join(words).capitalize()
        if top and float(top[0]["share"]) >= CATEGORY_SHARE:
            name += f" · {top[0]['category']}"
        personas.append(
            Persona(
                cluster=int(c),
                size=len(part),
                share=round(len(part) / len(values), 4),
                name=name,
                distinctive=distinctive,
                top_categories=top,
                means={f: float(part[f].mean()) for f in features},
            )
        )
    seen: dict[str, int] = {}
    for p in personas:  # keep names unique
        seen[p.name] = seen.get(p.name, 0) + 1
        if seen[p.name] > 1:
            p.name = f"{p.name} ({seen[p.name]})"
    return personas
