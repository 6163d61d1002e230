"""Customer features: point-in-time snapshots from engine-agnostic expressions.

>>> from nextbest.features import REGISTRY
>>> [f.name for f in REGISTRY]
['rfm', 'behaviour', 'preferences', 'engagement', 'lifecycle', 'custom']
"""

from nextbest.features.context import Context, default_as_of
from nextbest.features.registry import REGISTRY, Family, Feature, Registry
from nextbest.features.snapshot import build_snapshot, snapshot_frame

__all__ = [
    "REGISTRY",
    "Context",
    "Family",
    "Feature",
    "Registry",
    "build_snapshot",
    "default_as_of",
    "snapshot_frame",
]
