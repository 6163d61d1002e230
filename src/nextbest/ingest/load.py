"""Load a source into the warehouse: map, validate, quarantine, dedupe, append.

One call loads one source (a file, a database query, or a folder in the canonical
layout) into every table its mapping names, in a single transaction: killed half
way, the warehouse holds exactly what it held before. Rows already present (same
natural key) are counted as duplicates and not added again, so loading the same
file twice adds nothing; bad rows go to ``_quarantine`` with their reason, field,
line and raw record, and the good rows still load.

>>> import tempfile, pathlib
>>> from nextbest.warehouse import Warehouse
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "customers.csv").write_text("customer_id,email\\nC1, A@X.COM \\nC1,a@x.com\\n")
>>> with Warehouse(folder / "w.duckdb") as wh:
...     report = ingest(wh, folder / "customers.csv")
>>> report.tables["customers"].loaded, report.tables["customers"].duplicates
(1, 1)
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.config import IngestSettings
from nextbest.errors import MappingError, SourceError
from nextbest.ingest.mapping import Mapping, TableSpec, load_mapping
from nextbest.ingest.transform import canonical_rows, canonical_values
from nextbest.schema import EVENT_TYPES, MESSAGE_CHANNELS, TABLES, load_order
from nextbest.warehouse import Warehouse, guess_format
from nextbest.warehouse.functions import hash64

__all__ = ["IngestReport", "TableReport", "ingest", "plan_folder"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass
class TableReport:
    """Counts for one canonical table in one load."""

    table: str
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class IngestReport:
    """What one ``ingest`` call did, per source file and canonical table."""

    load_id: str
    sources: list[str] = field(default_factory=list)
    tables: dict[str, TableReport] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, report: TableReport) -> None:
        mine = self.tables.setdefault(report.table, TableReport(report.table))
        mine.read += report.read
        mine.loaded += report.loaded
        mine.duplicates += report.duplicates
        mine.quarantined += report.quarantined
        for reason, n in report.reasons.items():
            mine.reasons[reason] = mine.reasons.get(reason, 0) + n

    @property
    def totals(self) -> dict[str, int]:
        keys = ("read", "loaded", "duplicates", "quarantined")
        return {k: sum(getattr(t, k) for t in self.tables.values()) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return {
            "load_id": self.load_id,
            "sources": self.sources,
            "seconds": round(self.seconds, 3),
            "totals": self.totals,
            "tables": {name: asdict(t) for name, t in self.tables.items()},
        }


def plan_folder(folder: Path) -> list[tuple[Path, Mapping]]:
    """The canonical files in ``folder`` (``orders.parquet``, ``events.csv`` ...) in load order."""
    plan = []
    for table in load_order():
        found = sorted(
            p
            for p in folder.glob(f"{table.name}.*")
            if p.suffix.lower() in (".parquet", ".csv", ".tsv", ".jsonl")
        )
        if len(found) > 1:
            raise SourceError(
                f"more than one file for table {table.name}: {', '.join(p.name for p in found)}",
                source=str(folder),
                hint="Keep one file per canonical table in the folder.",
            )
        if found:
            plan.append((found[0], Mapping.identity(table.name)))
    if not plan:
        raise SourceError(
            "no canonical files in this folder",
            source=str(folder),
            hint="Name files after the tables (customers.parquet, orders.csv, ...) "
            "or pass a file with --mapping.",
        )
    return plan


def ingest(
    wh: Warehouse,
    source: str | Path,
    mapping: Mapping | str | Path | None = None,
    *,
    settings: IngestSettings | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Load ``source`` (file or canonical folder) into the warehouse atomically.

    Every table is first staged: read, mapped and checked, every row getting its
    verdict (good, failing and why, or a later repeat of a key), which changes
    nothing. Then one transaction appends the new rows and the quarantined ones and
    logs the load. The mapped rows are not kept in between: the write maps the
    source again and appends the rows the checks found good, so a large file is not
    held twice. A file that changes meanwhile fails the load (nothing is written).
    """
    settings = settings or IngestSettings()
    path = Path(source)
    if not path.exists():
        raise SourceError("not found", source=str(path), hint="Check the path.")
    if isinstance(mapping, str | Path):
        mapping = load_mapping(mapping)
    if path.is_dir() and mapping is None:
        plan = plan_folder(path)
    else:
        plan = [(path, mapping or Mapping.identity(_table_from_name(path)))]
    started = dt.datetime.now(dt.UTC)
    report = IngestReport(load_id=f"L{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}")
    steps = 2 * sum(len(m.tables) for _, m in plan)
    tick = _counter(progress, steps)
    staged: list[_Staged] = []
    seen: dict[Path, tuple[int, int]] = {}
    try:
        for file, file_mapping in plan:
            report.sources.append(str(file.resolve()))
            seen[file] = _fingerprint(file)
            staged += _stage_file(wh, file, file_mapping, settings, staged, tick)
        with wh.transaction():
            for item in staged:
                _write(wh, item, report.load_id)
                report.add(item.report)
                tick(item.report.table)
            _check_unchanged(seen)
            report.seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
            _log(wh, report, started)
    finally:
        wh.clear_scratch()
    return report


@dataclass
class _Staged:
    """One table of one source, mapped and checked, waiting to be written.

    ``rows`` (every row with its verdict) and ``values`` (the typed columns alone)
    are expressions over the source, evaluated again by the write; ``skip`` holds
    the lines not to append (failing rows and later repeats of a key), ``failing``
    how many rows failed a check.
    """

    table: str
    source: str
    rows: ibis.Table
    values: ibis.Table
    skip: ibis.Table | None
    failing: int
    report: TableReport
    rejects: Any = None
    keys: ibis.Table | None = None

    def good_keys(self, wh: Warehouse) -> ibis.Table:
        """The natural keys of the rows that pass their checks (kept once, when asked)."""
        if self.keys is None:
            key = list(TABLES[self.table].key)
            self.keys = wh.stage(_appendable(self).select(*key), "keys")
        return self.keys


def _appendable(item: _Staged) -> ibis.Table:
    """The staged rows that pass every check and are the first of their key."""
    if item.skip is None:
        return item.values
    return item.values.anti_join(item.skip, "_line")


def _fingerprint(path: Path) -> tuple[int, int]:
    """Size and modification time of a source file (0, 0 for a folder)."""
    if not path.is_file():
        return (0, 0)
    stat = path.stat()
    return (stat.st_size, stat.st_mtime_ns)


def _check_unchanged(seen: dict[Path, tuple[int, int]]) -> None:
    for path, fingerprint in seen.items():
        if _fingerprint(path) != fingerprint:
            raise SourceError(
                "changed while it was being loaded; nothing was loaded",
                source=str(path),
                hint="Load it again once the export is complete.",
            )


def _counter(progress: Progress | None, total: int) -> Callable[[str], None]:
    done = 0

    def tick(step: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(step, done, total)

    return tick


def _table_from_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    if stem not in TABLES:
        raise MappingError(
            f"no mapping given and the file name does not name a canonical table ({stem!r})",
            source=str(path),
            hint=f"Pass --mapping MAP.yaml, or name the file after one of: {', '.join(TABLES)}.",
        )
    return stem


def _stage_file(
    wh: Warehouse,
    path: Path,
    mapping: Mapping,
    settings: IngestSettings,
    earlier: list[_Staged],
    tick: Callable[[str], None],
) -> list[_Staged]:
    mapping.check_names(str(path))
    src_spec = mapping.source
    fmt = src_spec.format or guess_format(path)
    src, rejects = wh.read_source(
        path,
        fmt,
        header=src_spec.header,
        delimiter=src_spec.delimiter,
        columns=src_spec.columns,
        query=src_spec.query,
        encoding=src_spec.encoding,
    )
    has_rejects = rejects is not None and rejects.num_rows > 0
    if wh.execute(src.count()) == 0 and not has_rejects:
        raise SourceError(
            "has no data rows", source=str(path), hint="Export the data again; nothing was loaded."
        )
    staged: list[_Staged] = []
    for table in load_order():
        if table.name in mapping.tables:
            refs = _references(
                wh, table.name, mapping.tables[table.name], settings, earlier + staged
            )
            staged.append(_stage_table(wh, src, table.name, mapping, settings, path, refs))
            tick(f"read {table.name}")
    if has_rejects:
        first = staged[0]
        first.rejects = rejects
        first.report.read += rejects.num_rows
        first.report.quarantined += rejects.num_rows
        first.report.reasons["malformed_row"] = (
            first.report.reasons.get("malformed_row", 0) + rejects.num_rows
        )
    return staged


def _references(
    wh: Warehouse, table: str, spec: TableSpec, settings: IngestSettings, staged: list[_Staged]
) -> dict[str, ibis.Table]:
    """Per checked column, the keys it may name: the table's rows plus this load's good rows."""
    check = settings.check_references if spec.check_references is None else spec.check_references
    if not check:
        return {}
    refs = {}
    for fk in TABLES[table].references:
        key = TABLES[fk.table].key[0]
        known = wh.table(fk.table).select(key)
        for item in staged:
            if item.table == fk.table:
                known = known.union(item.good_keys(wh), distinct=False)
        refs[fk.column] = known[key]
    return refs


def _stage_table(
    wh: Warehouse,
    src: ibis.Table,
    name: str,
    mapping: Mapping,
    settings: IngestSettings,
    path: Path,
    refs: dict[str, ibis.Table],
) -> _Staged:
    spec = mapping.tables[name]
    extra = {
        "events": {"event_type": (*EVENT_TYPES, *settings.event_types, *spec.event_types)},
        "messages": {"channel": MESSAGE_CHANNELS + tuple(settings.message_channels)},
    }
    rows = canonical_rows(
        src,
        TABLES[name],
        spec,
        source=str(path),
        zone=mapping.source.timezone,
        enums=extra.get(name),
        references=refs,
    )
    values = canonical_values(
        src, TABLES[name], spec, source=str(path), zone=mapping.source.timezone
    )
    key = list(TABLES[name].key)
    clock = time.perf_counter()
    verdicts = rows.select(
        _reason=rows._reason,
        _h=key_hash(rows, key),
        _bad=ibis.ifelse(rows._reason.notnull(), rows._line, ibis.null().cast("int64")),
    )
    try:
        checked = wh.to_arrow(verdicts, ordered=False)
    except Exception as err:  # the engine reports bad expressions only when it runs them
        raise MappingError(
            f"the mapping for {name} cannot be applied: {str(err).splitlines()[0]}",
            source=str(path),
            field=f"tables.{name}",
            hint="Check the column names and expressions in the mapping.",
        ) from None
    report = TableReport(name, read=checked.num_rows)
    failed = pc.is_valid(checked.column("_reason"))
    reasons = pc.value_counts(checked.column("_reason").filter(failed))
    for entry in reasons.to_pylist():
        report.reasons[entry["values"]] = int(entry["counts"])
    report.quarantined = sum(report.reasons.values())
    bad = checked.column("_bad").filter(failed).combine_chunks()
    hashes = checked.column("_h").filter(pc.invert(failed)).to_numpy()
    del checked
    skip = _skip_table(wh, bad, _later_repeats(wh, values, key, hashes, bad))
    log.debug("%s: checked in %.2f s", name, time.perf_counter() - clock)
    return _Staged(name, str(path), rows, values, skip, report.quarantined, report)


def _repeated(hashes: np.ndarray) -> np.ndarray:
    """The values that occur more than once (sorting beats a hash group-by here)."""
    if len(hashes) < 2:
        return hashes[:0]
    ordered = np.sort(hashes)
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    return np.unique(twice)


def _later_repeats(
    wh: Warehouse, values: ibis.Table, key: list[str], hashes: np.ndarray, bad: pa.Array
) -> pa.Array:
    """Lines of good rows whose key an earlier good line of the file already has.

    Repeated keys are found by their 64-bit hash first (over the good rows' hashes),
    then the few candidates are compared by the key itself; the first line wins.
    """
    repeated = _repeated(hashes)
    if not len(repeated):
        return pa.array([], pa.int64())
    hashed = values.mutate(_h=key_hash(values, key))
    suspects = hashed.semi_join(wh.from_arrow(pa.table({"_h": repeated})), "_h")
    if len(bad):
        suspects = suspects.anti_join(wh.from_arrow(pa.table({"_line": bad})), "_line")
    ranked = suspects.mutate(_rn=ibis.row_number().over(group_by=key, order_by=suspects._line))
    later = wh.to_arrow(ranked.filter(ranked._rn > 0).select("_line"))
    return later.column("_line").combine_chunks().cast(pa.int64())


def _skip_table(wh: Warehouse, bad: pa.Array, later: pa.Array) -> ibis.Table | None:
    if not len(bad) and not len(later):
        return None
    lines = pa.concat_arrays([bad.cast(pa.int64()), later])
    return wh.from_arrow(pa.table({"_line": lines}))


def _write(wh: Warehouse, item: _Staged, load_id: str) -> None:
    """Append a staged table's new rows and quarantined rows (inside the load's transaction)."""
    clock = time.perf_counter()
    if item.rejects is not None:
        _quarantine_rejects(wh, item.rejects, item.source, load_id, item.table)
    if item.failing:
        _quarantine(wh, item.rows, item.table, item.source, load_id)
    key = list(TABLES[item.table].key)
    before = wh.count(item.table)
    wh.insert(item.table, _appendable(item).anti_join(wh.table(item.table), key))
    report = item.report
    report.loaded = wh.count(item.table) - before
    report.duplicates = report.read - report.quarantined - report.loaded
    log.debug("%s: written in %.2f s", item.table, time.perf_counter() - clock)


def key_hash(t: ibis.Table, key: list[str]) -> ibis.Value:
    """A 64-bit hash of the natural key (cheap to sort, group and join on)."""
    if len(key) == 1:
        return hash64(t[key[0]])
    return hash64(ibis.literal("\x1f").join([t[k].cast("string").fill_null("") for k in key]))


def _quarantine(wh: Warehouse, stage: ibis.Table, target: str, source: str, load_id: str) -> None:
    bad = stage.filter(stage._reason.notnull())
    rows = bad.select(
        load_id=ibis.literal(load_id),
        target=ibis.literal(target),
        source=ibis.literal(source),
        line=bad._line.cast("int64"),
        reason=bad._reason,
        field=bad._field,
        detail=bad._detail,
        record=bad._record,
    )
    _append_new_quarantine(wh, rows)


def _append_new_quarantine(wh: Warehouse, rows: ibis.Table) -> None:
    """Quarantine rows not already held (same source, table, line, record)."""
    held = wh.table("_quarantine")
    wh.insert("_quarantine", rows.anti_join(held, ["target", "source", "line", "record"]))


def _quarantine_rejects(
    wh: Warehouse, rejects: Any, source: str, load_id: str, target: str
) -> None:
    t = wh.from_arrow(rejects)
    rows = t.select(
        load_id=ibis.literal(load_id),
        target=ibis.literal(target),
        source=ibis.literal(source),
        line=t.line.cast("int64"),
        reason=ibis.literal("malformed_row"),
        field=t.column_name.cast("string"),
        detail=t.error_message.cast("string"),
        record=t.csv_line.cast("string"),
    )
    _append_new_quarantine(wh, rows)


def _log(wh: Warehouse, report: IngestReport, started: dt.datetime) -> None:
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        {
            "load_id": report.load_id,
            "source": ";".join(report.sources),
            "target": t.table,
            "format": None,
            "started_at": started.replace(tzinfo=None),
            "finished_at": finished,
            "rows_read": t.read,
            "loaded": t.loaded,
            "duplicates": t.duplicates,
            "quarantined": t.quarantined,
        }
        for t in report.tables.values()
    ]
    if rows:
        schema = wh.table("_loads").schema().to_pyarrow()
        wh.insert("_loads", wh.from_arrow(pa.Table.from_pylist(rows, schema=schema)))
