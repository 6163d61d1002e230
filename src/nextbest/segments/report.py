"""The segmentation report: sizes, RFM heatmap, k selection, PCA scatter, profiles."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nextbest.reporting import bar_chart, write_report
from nextbest.reporting.charts import figure_uri
from nextbest.segments.rfm import SEGMENTS
from nextbest.segments.segment import SegmentResult

__all__ = ["segment_charts", "write_segment_report"]


def _heatmap(matrix: pd.DataFrame, title: str, fmt: str = "{:.0f}", cmap: str = "Blues") -> str:
    fig, ax = plt.subplots(
        figsize=(max(4.5, 0.9 * matrix.shape[1] + 2), max(3, 0.45 * matrix.shape[0] + 1))
    )
    values = matrix.to_numpy(dtype=float)
    limit = float(np.nanmax(np.abs(values))) if values.size else 1.0
    diverging = cmap == "RdBu_r"  # centre diverging colours on zero
    ax.imshow(
        values,
        cmap=cmap,
        aspect="auto",
        vmin=-limit if diverging else None,
        vmax=limit if diverging else None,
    )
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=30, ha="right")
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
    for (i, j), v in np.ndenumerate(matrix.to_numpy(dtype=float)):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7)
    ax.set_title(title)
    return figure_uri(fig)


def segment_charts(result: SegmentResult, transitions: dict[str, Any] | None) -> dict[str, str]:
    t = result.table
    sizes = t["rfm_segment"].value_counts().reindex(SEGMENTS).dropna()
    buyers = t.dropna(subset=["r"])
    heat = pd.crosstab(buyers["r"].astype(int), buyers["fm"].astype(int)).reindex(
        index=range(5, 0, -1), columns=range(1, 6), fill_value=0
    )
    heat.index.name, heat.columns.name = "R", "FM"
    scores = result.k_scores
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(scores.k, scores.silhouette, marker="o", label="silhouette")
    ax.plot(
        scores.k,
        scores.davies_bouldin / scores.davies_bouldin.max(),
        marker="s",
        label="Davies-Bouldin (scaled)",
    )
    ax.axvline(result.k, color="grey", linestyle=":")
    ax.set_xlabel("k")
    ax.legend(fontsize=7)
    ax.set_title("Choosing k")
    k_chart = figure_uri(fig)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    rng = np.random.default_rng(0)
    idx = rng.choice(len(t), size=min(len(t), 5000), replace=False)
    for c in sorted(t["cluster"].unique()):
        mask = t["cluster"].to_numpy()[idx] == c
        name = next(p.name for p in result.personas if p.cluster == c)
        points = result.projection[idx][mask]
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.5, label=f"{c}: {name}")
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.legend(fontsize=6, markerscale=3)
    ax.set_title("Clusters on the first two principal components")
    pca_chart = figure_uri(fig)
    names = {p.cluster: f"{p.cluster}: {p.name}" for p in result.personas}
    profiles = result.profile_z.rename(index=names)
    charts = {
        "rfm_sizes": bar_chart(
            list(sizes.index),
            [int(v) for v in sizes.to_numpy()],
            title="Customers per RFM segment",
            horizontal=True,
        ),
        "rfm_heatmap": _heatmap(heat, "Buyers by recency (R) and frequency-monetary (FM) score"),
        "k_scores": k_chart,
        "pca": pca_chart,
        "profiles": _heatmap(
            profiles, "Cluster profiles (z against all customers)", "{:+.1f}", "RdBu_r"
        ),
    }
    if transitions:
        matrix = pd.DataFrame(transitions).T.fillna(0.0)
        order = [s for s in SEGMENTS if s in matrix.index]
        cols = [s for s in SEGMENTS if s in matrix.columns]
        charts["transitions"] = _heatmap(
            matrix.reindex(index=order, columns=cols, fill_value=0.0),
            "RFM segment transitions (row: before, share after)",
            "{:.2f}",
        )
    return charts


def write_segment_report(
    report: dict[str, Any], result: SegmentResult, folder: Path
) -> tuple[Path, Path]:
    template = files("nextbest.segments").joinpath("report.html.j2").read_text(encoding="utf-8")
    transitions = (report.get("stability") or {}).get("rfm", {}).get("transitions")
    return write_report(folder, "segments", report, template, segment_charts(result, transitions))
