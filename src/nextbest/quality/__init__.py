"""Data-quality reporting over the warehouse.

>>> from nextbest.quality import quality_report, write_quality_report
"""

from nextbest.quality.html import write_quality_report
from nextbest.quality.report import quality_report

__all__ = ["quality_report", "write_quality_report"]
