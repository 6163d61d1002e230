"""Ingestion: sources mapped to the canonical tables, validated, deduplicated.

>>> from nextbest.ingest import ingest, load_mapping
"""

from nextbest.ingest.load import IngestReport, TableReport, ingest, plan_folder
from nextbest.ingest.mapping import ColumnSpec, Mapping, SourceSpec, TableSpec, load_mapping

__all__ = [
    "ColumnSpec",
    "IngestReport",
    "Mapping",
    "SourceSpec",
    "TableReport",
    "TableSpec",
    "ingest",
    "load_mapping",
    "plan_folder",
]
