"""Mapping files: how a source's columns become canonical columns.

A mapping is YAML with a ``source`` section (format and reading options) and a
``tables`` section naming, per canonical table, where each canonical column comes
from. A column is either a source column name, or a spec:

``from``      source column (a list of columns builds a JSON object, for json columns)
``expr``      an SQL expression over the source columns (and ``_line``, the line number)
``value``     a constant
``format``    strptime format for timestamps/dates, or ``epoch_s`` / ``epoch_ms`` / ``epoch_us``
``timezone``  the zone naive source timestamps are in (converted to UTC)
``values``    a value map applied before the cast (``{M: male, F: female}``)
``default``   used when the source value is missing
``lower``     lower-case text (always on for ``email``)

Canonical columns the mapping does not name are taken from a source column of the
same name when there is one.

>>> m = Mapping.model_validate({"tables": {"orders": {"columns": {"order_id": "id"}}}})
>>> m.tables["orders"].columns["order_id"].from_
'id'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nextbest.errors import MappingError
from nextbest.schema import TABLES

__all__ = ["ColumnSpec", "Mapping", "SourceSpec", "TableSpec", "load_mapping"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ColumnSpec(_Strict):
    from_: str | list[str] | None = Field(None, alias="from")
    expr: str | None = None
    value: Any = None
    format: str | None = None
    timezone: str | None = None
    values: dict[str, Any] | None = None
    default: Any = None
    lower: bool = False


class TableSpec(_Strict):
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    event_types: list[str] = Field(
        default_factory=list, description="extra allowed values of events.event_type"
    )
    check_references: bool | None = Field(
        None, description="override the project setting for this table"
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"from": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class SourceSpec(_Strict):
    format: str | None = None
    header: bool = True
    delimiter: str | None = None
    columns: list[str] | None = None
    query: str | None = None
    timezone: str = "UTC"
    encoding: str | None = None


class Mapping(_Strict):
    source: SourceSpec = Field(default_factory=SourceSpec)
    tables: dict[str, TableSpec]

    @classmethod
    def identity(cls, table: str) -> Mapping:
        """Canonical columns taken as they are (a file already in the canonical layout)."""
        return cls(tables={table: TableSpec()})

    def check_names(self, source: str) -> None:
        """Every table and column the mapping names must be canonical."""
        for name, spec in self.tables.items():
            if name not in TABLES:
                raise MappingError(
                    f"unknown canonical table {name!r}",
                    source=source,
                    field=f"tables.{name}",
                    hint=f"Canonical tables: {', '.join(TABLES)}.",
                )
            known = TABLES[name].names
            for col in spec.columns:
                if col not in known:
                    raise MappingError(
                        f"{name} has no canonical column {col!r}",
                        source=source,
                        field=f"tables.{name}.columns.{col}",
                        hint=f"Columns of {name}: {', '.join(known)}.",
                    )


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file."""
    path = Path(path)
    if not path.exists():
        raise MappingError("mapping file not found", source=str(path), hint="Check the path.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise MappingError.from_yaml(err, str(path)) from None
    if not isinstance(data, dict) or "tables" not in data:
        raise MappingError(
            "a mapping needs a 'tables' section",
            source=str(path),
            hint="See examples/cdnow.yaml for the layout.",
        )
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as err:
        hint = "See examples/cdnow.yaml for the layout."
        raise MappingError.from_validation(err, str(path), hint) from None
    mapping.check_names(str(path))
    return mapping
