"""Segment a feature snapshot: RFM segments, behavioural clusters and personas.

>>> import numpy as np, pandas as pd
>>> from nextbest.config import SegmentSettings
>>> rng = np.random.default_rng(1)
>>> snap = pd.DataFrame({"customer_id": [f"c{i}" for i in range(60)],
...     "recency_days": rng.exponential(30, 60), "frequency": rng.integers(1, 9, 60),
...     "monetary": rng.gamma(2, 50, 60)})
>>> result = segment_snapshot(snap, SegmentSettings(k_min=2, k_max=3))
>>> sorted(result.table.columns)[:4]
['cluster', 'customer_id', 'f', 'fm']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from nextbest.config import SegmentSettings
from nextbest.segments.clusters import DEFAULT_FEATURES, BehaviourClusters
from nextbest.segments.personas import Persona, cluster_z, describe_clusters
from nextbest.segments.rfm import rfm_scores

__all__ = ["SegmentResult", "segment_snapshot"]


@dataclass
class SegmentResult:
    """Per-customer segments plus what explains them."""

    table: pd.DataFrame  # customer_id, r, f, m, fm, rfm_segment, cluster, persona
    personas: list[Persona]
    k_scores: pd.DataFrame
    k: int
    features: list[str]
    profile_z: pd.DataFrame  # cluster x feature: (cluster mean - mean) / std
    projection: np.ndarray = field(repr=False)  # first two principal components

    def summary(self) -> dict[str, Any]:
        return {
            "customers": len(self.table),
            "rfm_segments": self.table["rfm_segment"].value_counts().to_dict(),
            "k": self.k,
            "k_scores": self.k_scores.round(6).to_dict("records"),
            "features": self.features,
            "personas": [p.__dict__ for p in self.personas],
        }


def segment_snapshot(
    snapshot: pd.DataFrame, settings: SegmentSettings | None = None
) -> SegmentResult:
    """RFM scores and segment names, k-means clusters with chosen k, and personas."""
    settings = settings or SegmentSettings()
    with threadpool_limits(limits=settings.threads):
        return _segment(snapshot, settings)


def _segment(snapshot: pd.DataFrame, settings: SegmentSettings) -> SegmentResult:
    table = rfm_scores(snapshot)
    model = BehaviourClusters(
        features=settings.features or DEFAULT_FEATURES,
        k_values=range(settings.k_min, settings.k_max + 1),
        pca_components=settings.pca_components,
        sample_size=settings.sample_size,
        random_state=settings.seed,
    ).fit(snapshot)
    personas = describe_clusters(snapshot, model.labels_, model.columns_)
    names = {p.cluster: p.name for p in personas}
    table["cluster"] = model.labels_.astype(int)
    table["persona"] = table["cluster"].map(names)
    Z = model.transform(snapshot)
    centred = Z - Z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred[: min(len(centred), 20_000)], full_matrices=False)
    projection = centred @ vt[:2].T
    profile_z = cluster_z(snapshot[model.columns_].astype(float), model.labels_)
    return SegmentResult(
        table, personas, model.scores_, model.k_, model.columns_, profile_z, projection
    )
