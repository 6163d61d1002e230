"""Shared report plumbing: charts as embedded images, sandboxed HTML, JSON files.

>>> from nextbest.reporting import bar_chart, render_html
"""

from nextbest.reporting.charts import bar_chart, histogram_chart, line_chart
from nextbest.reporting.html import render_html, write_report

__all__ = ["bar_chart", "histogram_chart", "line_chart", "render_html", "write_report"]
