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
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis

from nextbest.config import IngestSettings
from nextbest.errors import MappingError, SourceError
from nextbest.ingest.mapping import Mapping, TableSpec, load_mapping
from nextbest.ingest.transform import canonical_rows
from nextbest.schema import EVENT_TYPES, MESSAGE_CHANNELS, TABLES, load_order
from nextbest.warehouse import Warehouse, guess_format

__all__ = ["IngestReport", "TableReport", "ingest", "plan_folder"]

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
    """Load ``source`` (file or canonical folder) into the warehouse atomically."""
    settings = settings or IngestSettings()
    path = Path(source)
    if isinstance(mapping, str | Path):
        mapping = load_mapping(mapping)
    if path.is_dir() and mapping is None:
        plan = plan_folder(path)
    else:
        if mapping is None:
            table = _table_from_name(path)
            mapping = Mapping.identity(table)
        plan = [(path, mapping)]
    started = dt.datetime.now(dt.UTC)
    report = IngestReport(load_id=f"L{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}")
    steps = sum(len(m.tables) for _, m in plan)
    done = 0
    with wh.transaction():
        for file, file_mapping in plan:
            report.sources.append(str(file.resolve()) if file.exists() else str(file))
            for table_report in _load_file(wh, file, file_mapping, settings, report.load_id):
                report.add(table_report)
                done += 1
                if progress:
                    progress(table_report.table, done, steps)
        report.seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        _log(wh, report, started)
    return report


def _table_from_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    if stem not in TABLES:
        raise MappingError(
            f"no mapping given and the file name does not name a canonical table ({stem!r})",
            source=str(path),
            hint=f"Pass --mapping MAP.yaml, or name the file after one of: {', '.join(TABLES)}.",
        )
    return stem


def _load_file(
    wh: Warehouse, path: Path, mapping: Mapping, settings: IngestSettings, load_id: str
) -> list[TableReport]:
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
    )
    reports = []
    targets = [t.name for t in load_order() if t.name in mapping.tables]
    if rejects is not None and rejects.num_rows:
        _quarantine_rejects(wh, rejects, path, load_id, ",".join(targets))
    if wh.execute(src.count()) == 0 and (rejects is None or not rejects.num_rows):
        raise SourceError(
            "has no data rows", source=str(path), hint="Export the data again; nothing was loaded."
        )
    for name in targets:
        reports.append(
            _load_table(wh, src, name, mapping.tables[name], mapping, settings, path, load_id)
        )
    if rejects is not None and rejects.num_rows and reports:
        first = reports[0]
        first.read += rejects.num_rows
        first.quarantined += rejects.num_rows
        first.reasons["malformed_row"] = first.reasons.get("malformed_row", 0) + rejects.num_rows
    return reports


def _references(
    wh: Warehouse, table: str, spec: TableSpec, settings: IngestSettings
) -> dict[str, ibis.Table]:
    check = settings.check_references if spec.check_references is None else spec.check_references
    if not check:
        return {}
    refs = {}
    for fk in TABLES[table].references:
        target = TABLES[fk.table]
        refs[fk.column] = wh.table(fk.table)[target.key[0]]
    return refs


def _load_table(
    wh: Warehouse,
    src: ibis.Table,
    name: str,
    spec: TableSpec,
    mapping: Mapping,
    settings: IngestSettings,
    path: Path,
    load_id: str,
) -> TableReport:
    table = TABLES[name]
    enums = {
        "event_type": EVENT_TYPES + tuple(settings.event_types) + tuple(spec.event_types),
        "channel": MESSAGE_CHANNELS + tuple(settings.message_channels),
    }
    if name == "consents":
        enums.pop("channel")  # consent channels are free text (email, push, sms, ...)
    rows = canonical_rows(
        src,
        table,
        spec,
        source=str(path),
        zone=mapping.source.timezone,
        enums={k: v for k, v in enums.items() if k in table.names},
        references=_references(wh, name, spec, settings),
    )
    try:
        stage = wh.stage(rows)
    except MappingError:
        raise
    except Exception as err:  # the engine reports bad expressions at execution
        raise MappingError(
            f"the mapping for {name} cannot be applied: {str(err).splitlines()[0]}",
            source=str(path),
            field=f"tables.{name}",
            hint="Check the column names and expressions in the mapping.",
        ) from None
    report = TableReport(name)
    counts = wh.execute(stage.group_by("_reason").aggregate(n=stage.count()))
    for reason, n in zip(counts["_reason"], counts["n"], strict=True):
        report.read += int(n)
        if isinstance(reason, str):
            report.reasons[reason] = int(n)
            report.quarantined += int(n)
    _quarantine(wh, stage, name, str(path), load_id)
    before = wh.count(name)
    good = stage.filter(stage._reason.isnull())
    first = good.mutate(
        _rn=ibis.row_number().over(group_by=list(table.key), order_by=good._line)
    ).filter(lambda t: t._rn == 0)
    new = first.anti_join(wh.table(name), list(table.key))
    wh.insert(name, new)
    report.loaded = wh.count(name) - before
    report.duplicates = report.read - report.quarantined - report.loaded
    wh.drop(stage)
    return report


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


def _quarantine_rejects(wh: Warehouse, rejects: Any, path: Path, load_id: str, target: str) -> None:
    t = ibis.memtable(rejects)
    rows = t.select(
        load_id=ibis.literal(load_id),
        target=ibis.literal(target),
        source=ibis.literal(str(path)),
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
        schema = wh.table("_loads").schema()
        wh.insert("_loads", ibis.memtable(rows, schema=schema))
