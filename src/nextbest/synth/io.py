"""Write a synthetic store to disk as Parquet or CSV files.

One file per canonical table (``<table>.parquet`` or ``<table>.csv``), the hidden
truth in ``_truth/customers_truth.parquet`` (always Parquet), the list of injected
faults in ``_truth/spoiled.csv`` when there is one, and a ``manifest.json`` with the
generation arguments and row counts.

Examples
--------
>>> import tempfile
>>> from nextbest.synth import generate
>>> with tempfile.TemporaryDirectory() as tmp:
...     paths = write_store(generate(customers=30, days=7, seed=1), tmp, fmt="csv")
...     sorted(p.name for p in paths.values())[:3]
['consents.csv', 'customers.csv', 'customers_truth.parquet']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from nextbest.errors import NextBestError
from nextbest.schema import TABLES
from nextbest.synth.store import SynthStore

__all__ = ["TRUTH_DIR", "write_store"]

TRUTH_DIR = "_truth"
Format = Literal["parquet", "csv"]


def _write(table: pa.Table, path: Path, fmt: Format) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    else:
        pcsv.write_csv(table, path)


def write_store(
    store: SynthStore,
    out_dir: str | Path,
    fmt: Format = "parquet",
    spoiled: pa.Table | None = None,
) -> dict[str, Path]:
    """Write every table of ``store`` into ``out_dir``.

    Parameters
    ----------
    store : SynthStore
        A clean or spoiled store.
    out_dir : str or Path
        Target folder; created if missing, existing files of the same name are
        replaced.
    fmt : {"parquet", "csv"}
        File format of the canonical tables. CSV files have a header line, so row
        ``i`` of a table is line ``i + 2`` of its file.
    spoiled : pyarrow.Table, optional
        The fault list returned by :func:`nextbest.synth.spoil`; written to
        ``_truth/spoiled.csv``.

    Returns
    -------
    dict of str to Path
        One entry per canonical table, plus ``truth``, ``manifest`` and, when given,
        ``spoiled``.

    Examples
    --------
    >>> import tempfile
    >>> from nextbest.synth import generate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_store(generate(customers=20, days=5, seed=3), tmp)
    ...     paths["orders"].name, paths["truth"].parent.name
    ('orders.parquet', '_truth')
    """
    if fmt not in ("parquet", "csv"):
        raise NextBestError(f"unknown format {fmt!r}", field="fmt", hint="Use 'parquet' or 'csv'.")
    out = Path(out_dir)
    truth_dir = out / TRUTH_DIR
    truth_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in TABLES:
        path = out / f"{name}.{fmt}"
        _write(store.tables[name], path, fmt)
        paths[name] = path
    paths["truth"] = truth_dir / "customers_truth.parquet"
    pq.write_table(store.truth, paths["truth"], compression="zstd")
    if spoiled is not None:
        paths["spoiled"] = truth_dir / "spoiled.csv"
        pcsv.write_csv(spoiled, paths["spoiled"])
    manifest = {
        "seed": store.seed,
        "customers": store.n_customers,
        "days": store.days,
        "start": store.start,
        "format": fmt,
        "categories": store.categories,
        "rows": store.row_counts(),
        "spoiled_rows": None if spoiled is None else spoiled.num_rows,
    }
    paths["manifest"] = out / "manifest.json"
    paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return paths
