"""Engine functions the portable expressions need but Ibis does not name.

They are declared as Ibis builtin UDFs, so an expression that uses them stays an
Ibis expression; each backend maps the name to its own function (DuckDB here).

>>> import ibis
>>> expr = try_strptime(ibis.literal("20240131"), "%Y%m%d")
>>> ibis.duckdb.connect().execute(expr)
Timestamp('2024-01-31 00:00:00')
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

__all__ = ["hash64", "json_valid", "local_to_utc", "trim_blanks", "try_strptime"]


@ibis.udf.scalar.builtin(name="try_strptime")
def try_strptime(value: str, fmt: str) -> dt.Timestamp(scale=6):  # type: ignore[valid-type]
    """Parse ``value`` with a strptime format; NULL when it does not parse."""


@ibis.udf.scalar.builtin(name="trim")
def trim_blanks(value: str) -> str:
    """``value`` without leading and trailing blanks (faster than a character-set strip)."""


@ibis.udf.scalar.builtin(name="hash")
def hash64(value: str) -> dt.UInt64:  # type: ignore[valid-type]
    """A 64-bit hash of ``value``, as the engine computes it (no conversion to signed)."""


@ibis.udf.scalar.builtin(name="json_valid")
def json_valid(value: str) -> bool:
    """True when ``value`` is valid JSON text."""


@ibis.udf.scalar.builtin(name="timezone")
def _timezone(zone: str, ts: dt.Timestamp(scale=6)) -> dt.Timestamp(scale=6, timezone="UTC"):  # type: ignore[valid-type]
    """Interpret a naive timestamp as local time in ``zone``."""


def local_to_utc(ts: ibis.Value, zone: str) -> ibis.Value:
    """A naive timestamp read in time zone ``zone`` as a naive UTC timestamp."""
    if zone.upper() in ("UTC", "Z", "ETC/UTC", "GMT"):
        return ts
    return _timezone(zone, ts).cast("timestamp(6)")
