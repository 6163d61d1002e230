"""Arrow columns of the clean tables: their schema, strings picked from a vocabulary, timestamps."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from nextbest.schema import TABLES

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "decimal": pa.float64(),
    "float": pa.float64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema a clean synthetic table has (canonical names and order).

    Money is ``float64`` rounded to cents, timestamps are naive ``timestamp[us]`` in
    UTC and JSON columns are text.

    Examples
    --------
    >>> arrow_schema("orders").field("total").type
    DataType(double)
    """
    spec = TABLES[table]
    return pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in spec.columns])


def _pick(vocab: pa.Array | list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
    """Strings ``vocab[idx]``, null where ``idx < 0``."""
    arr = vocab if isinstance(vocab, pa.Array) else pa.array(list(vocab), type=pa.string())
    idx = np.asarray(idx)
    neg = idx < 0
    return arr.take(pa.array(idx, mask=neg if neg.any() else None))


def _ts(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Naive UTC ``timestamp[us]`` column from microseconds, null where ``valid`` is False."""
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.timestamp("us"), mask=mask)
