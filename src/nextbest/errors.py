"""Exception types users catch.

Every error NextBest raises for a user mistake derives from :class:`NextBestError`.
Each carries the HTTP status it maps to and a message that says what was wrong,
where (file, row, field) and what to do about it.

>>> try:
...     raise MappingError("column 'x' not found", source="a.csv", field="x")
... except NextBestError as err:
...     print(err)
a.csv: field 'x': column 'x' not found
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "MappingError",
    "ModelFileError",
    "NextBestError",
    "NotFoundError",
    "PromotionError",
    "SourceError",
    "UntrustedModelError",
    "WarehouseError",
]


class NextBestError(Exception):
    """Root of every error NextBest raises for something the user can fix."""

    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.row = row
        self.field = field
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.field:
            where.append(f"field {self.field!r}")
        text = (": ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" {self.hint}"
        return text

    @classmethod
    def from_yaml(cls, err: Exception, source: str, hint: str | None = None) -> NextBestError:
        """The error for a YAML file that does not parse, at the line the parser names."""
        mark = getattr(err, "problem_mark", None)
        return cls(
            f"not valid YAML ({getattr(err, 'problem', err)})",
            source=source,
            row=mark.line + 1 if mark else None,
            hint=hint,
        )

    @classmethod
    def from_validation(cls, err: Any, source: str, hint: str | None = None) -> NextBestError:
        """The error for settings that fail validation: the first problem and its field."""
        problems = err.errors()
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(
            first["msg"] + more,
            source=source,
            field=".".join(str(p) for p in first["loc"]),
            hint=hint,
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (used by ``--json`` output and the API)."""
        return {
            "error": type(self).__name__,
            "message": str(self),
            "source": self.source,
            "row": self.row,
            "field": self.field,
            "status": self.http_status,
        }


class ConfigError(NextBestError):
    """The project configuration (``nextbest.yaml`` or environment) is invalid."""


class MappingError(NextBestError):
    """A mapping file does not fit its source or the canonical schema."""


class SourceError(NextBestError):
    """A source file or database cannot be read as the format it claims."""


class NotFoundError(NextBestError):
    """Something the user named (a file, customer, table) does not exist."""

    http_status = 404


class WarehouseError(NextBestError):
    """The warehouse cannot be opened or written (locked, corrupt, wrong version)."""

    http_status = 503


class ModelFileError(NextBestError):
    """A saved model cannot be read or written (missing, corrupt, or an unsupported kind)."""

    http_status = 422


class UntrustedModelError(ModelFileError):
    """A saved model names a type outside the allowed modules, so it is not loaded."""


class PromotionError(NextBestError):
    """A model version cannot become champion (not better, or not comparable)."""

    http_status = 409
