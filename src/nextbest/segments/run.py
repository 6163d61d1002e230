"""Segment the customers of a stored snapshot, store the result, compare with the last run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from nextbest.config import Settings
from nextbest.errors import NextBestError, NotFoundError
from nextbest.features.store import list_snapshots, load_snapshot, save_snapshot
from nextbest.segments.segment import SegmentResult, segment_snapshot
from nextbest.segments.stability import stability
from nextbest.segments.store import load_segments, previous_as_of, save_segments
from nextbest.warehouse import Warehouse

__all__ = ["run_segmentation"]


def run_segmentation(
    wh: Warehouse, as_of: dt.datetime, settings: Settings
) -> tuple[dict[str, Any], SegmentResult]:
    """Segment the snapshot as of ``as_of`` (built first if missing) and store the segments.

    The report compares with the latest earlier segmentation, when there is one.
    """
    if as_of not in list_snapshots(wh) and save_snapshot(wh, as_of, settings.features) == 0:
        raise NotFoundError(
            f"no customers before {as_of:%Y-%m-%d %H:%M}",
            hint="Load data with `nextbest ingest`, or pick a later --as-of.",
        )
    snapshot = load_snapshot(wh, as_of)
    needed = settings.segments.k_min + 1
    if len(snapshot) < needed:
        raise NextBestError(
            f"{len(snapshot)} customers are too few to segment (at least {needed} needed)",
            hint="Load more data, or lower segments.k_min.",
        )
    result = segment_snapshot(snapshot, settings.segments)
    save_segments(wh, as_of, result.table)
    report: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **result.summary(),
        "stability": None,
    }
    before = previous_as_of(wh, as_of)
    if before is not None:
        old = load_segments(wh, before).set_index("customer_id")
        new = result.table.set_index("customer_id")
        report["stability"] = {
            "previous_as_of": before.isoformat(),
            "clusters": stability(old["cluster"], new["cluster"]),
            "rfm": stability(old["rfm_segment"], new["rfm_segment"]),
        }
    return report, result
