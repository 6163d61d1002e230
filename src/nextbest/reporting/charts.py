"""Charts rendered to PNG data URIs, so a report is one self-contained HTML file.

>>> uri = bar_chart(["a", "b"], [3, 5], title="rows")
>>> uri.startswith("data:image/png;base64,")
True
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["bar_chart", "figure_uri", "histogram_chart", "line_chart"]

_COLOR = "#2b6cb0"


def figure_uri(fig: Figure) -> str:
    """Encode a figure as a PNG data URI and close it."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str = "",
    horizontal: bool = False,
    log: bool = False,
) -> str:
    height = max(2.5, 0.28 * len(labels) + 1) if horizontal else 3.2
    fig, ax = plt.subplots(figsize=(7, height))
    if horizontal:
        ax.barh(list(labels)[::-1], list(values)[::-1], color=_COLOR)
        ax.set_xlabel(xlabel)
        if log:
            ax.set_xscale("log")
    else:
        ax.bar(list(labels), list(values), color=_COLOR)
        ax.set_ylabel(xlabel)
        ax.tick_params(axis="x", rotation=30)
        if log:
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.8)
        for x, v in zip(labels, values, strict=True):
            ax.annotate(f"{v:,}", (x, max(v, 1)), ha="center", va="bottom", fontsize=7)
    ax.set_title(title)
    return figure_uri(fig)


def histogram_chart(edges: Sequence[float], counts: Sequence[int], *, title: str) -> str:
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    widths = [b - a for a, b in itertools.pairwise(edges)]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color=_COLOR, edgecolor="white")
    ax.set_title(title)
    ax.set_ylabel("rows")
    return figure_uri(fig)


def line_chart(series: dict[str, tuple[Any, Sequence[float]]], *, title: str) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for name, (x, y) in series.items():
        ax.plot(list(x), list(y), label=name, linewidth=1)
    ax.set_title(title)
    ax.set_yscale("symlog")
    if series:
        ax.legend(fontsize=7, ncols=4)
    fig.autofmt_xdate()
    return figure_uri(fig)
