"""Segments: RFM scores and names, behavioural clusters, personas, stability.

>>> from nextbest.segments import SEGMENTS
>>> SEGMENTS[0]
'Champions'
"""

from nextbest.segments.clusters import DEFAULT_FEATURES, BehaviourClusters, dunn_index
from nextbest.segments.personas import Persona, describe_clusters
from nextbest.segments.rfm import NO_PURCHASES, SEGMENTS, rfm_scores, segment_name
from nextbest.segments.segment import SegmentResult, segment_snapshot
from nextbest.segments.stability import stability

__all__ = [
    "DEFAULT_FEATURES",
    "NO_PURCHASES",
    "SEGMENTS",
    "BehaviourClusters",
    "Persona",
    "SegmentResult",
    "describe_clusters",
    "dunn_index",
    "rfm_scores",
    "segment_name",
    "segment_snapshot",
    "stability",
]
