"""A model registry on disk: numbered versions, stages, champion/challenger promotion.

Each version of a named model lives in ``<root>/<name>/<version>/``: the model files
written by :func:`nextbest.models.persist.save_model`, ``meta.json`` (what was
registered: task, windows, features, parameters, metrics, library versions, file
checksums) and ``card.md`` (its :func:`~nextbest.models.card.model_card`).
``<root>/index.json`` holds what changes: each version's stage and stage history.
It is replaced atomically (written to a temporary file, then ``os.replace``), so a
reader always sees a whole index; writers take a lock on ``<root>/.lock``.

A version starts as a *candidate*. :meth:`ModelRegistry.promote` makes it the
*champion* only if it beats the current champion on the same evaluation window by
its primary metric (or with ``force=True``); the old champion is then *archived*.

>>> import tempfile
>>> from nextbest.models import BGNBD
>>> reg = ModelRegistry(Path(tempfile.mkdtemp()))
>>> common = dict(task="clv", training_window=("2024-01-01", "2024-12-31"),
...               evaluation_window=("2025-01-01", "2025-03-31"), features=["frequency"],
...               primary_metric="rmse", data_fingerprint="demo")
>>> def fitted(r):
...     return BGNBD.from_params(dict(r=r, alpha=4.4, a=0.8, b=2.4))
>>> v1 = reg.register("clv", fitted(0.24), metrics={"rmse": 2.1}, **common)
>>> v2 = reg.register("clv", fitted(0.25), metrics={"rmse": 1.9}, **common)
>>> (v1.version, v2.version, v2.stage, v2.higher_is_better)
(1, 2, 'candidate', False)
>>> reg.promote("clv", 1).stage
'champion'
>>> reg.promote("clv", 2).stage
'champion'
>>> [(v.version, v.stage) for v in reg.versions("clv")]
[(1, 'archived'), (2, 'champion')]
>>> reg.load("clv").params_["r"]
0.25
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nextbest.errors import ModelFileError, NextBestError, NotFoundError, PromotionError

__all__ = [
    "INDEX",
    "METRIC_DIRECTIONS",
    "STAGES",
    "TASKS",
    "ModelRegistry",
    "ModelVersion",
    "fingerprint",
    "library_versions",
]

log = logging.getLogger(__name__)

INDEX = "index.json"
META = "meta.json"
CARD = "card.md"
TASKS = ("binary", "regression", "clv")
STAGES = ("candidate", "champion", "archived")
#: whether a higher value is better, for metrics whose direction need not be declared
METRIC_DIRECTIONS: dict[str, bool] = {
    "roc_auc": True,
    "pr_auc": True,
    "average_precision": True,
    "accuracy": True,
    "balanced_accuracy": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "lift": True,
    "r2": True,
    "spearman": True,
    "ndcg": True,
    "map": True,
    "log_loss": False,
    "brier": False,
    "rmse": False,
    "mse": False,
    "mae": False,
    "mape": False,
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LIBRARIES = (
    ("numpy", "numpy"),
    ("pandas", "pandas"),
    ("sklearn", "scikit-learn"),
    ("scipy", "scipy"),
    ("lightgbm", "lightgbm"),
    ("skops", "skops"),
    ("nextbest", "nextbest"),
)

Window = tuple[Any, Any]


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a saved model depends on."""
    found = {"python": platform.python_version()}
    for key, dist in _LIBRARIES:
        try:
            found[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[key] = "not installed"
    return found


def fingerprint(*data: Any) -> str:
    """A short SHA-256 of frames or arrays (values, index, columns, dtypes).

    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> fingerprint(a) == fingerprint(a.copy()), fingerprint(a) == fingerprint(a + 1)
    (True, False)
    """
    import numpy as np
    import pandas as pd

    digest = hashlib.sha256()
    for item in data:
        if isinstance(item, pd.DataFrame | pd.Series):
            digest.update(pd.util.hash_pandas_object(item, index=True).to_numpy().tobytes())
            columns = item.columns if isinstance(item, pd.DataFrame) else [item.name]
            dtypes = item.dtypes if isinstance(item, pd.DataFrame) else [item.dtype]
            digest.update(repr((list(columns), [str(d) for d in dtypes])).encode())
        else:
            arr = np.ascontiguousarray(np.asarray(item))
            digest.update(repr((arr.shape, arr.dtype.str)).encode())
            digest.update(arr.tobytes())
    return digest.hexdigest()[:16]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _moment(value: Any, where: str) -> str:
    """A date or timestamp as ISO text (a date when it is midnight), naive UTC."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise NextBestError(
                f"cannot read {value!r} as a date or timestamp.",
                field=where,
                hint="Use YYYY-MM-DD or an ISO timestamp.",
            ) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise NextBestError(f"expected a date or timestamp, got {value!r}.", field=where)


def _window(value: Any, where: str) -> tuple[str, str]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise NextBestError(f"expected a (start, end) pair, got {value!r}.", field=where)
    start, end = _moment(value[0], where), _moment(value[1], where)
    if dt.datetime.fromisoformat(start) > dt.datetime.fromisoformat(end):
        raise NextBestError(f"the window starts ({start}) after it ends ({end}).", field=where)
    return start, end


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then move it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class ModelVersion:
    """One registered version of a named model: what it is, how it was made, its stage."""

    name: str
    version: int
    stage: str
    created_at: dt.datetime
    task: str
    training_window: tuple[str, str]
    evaluation_window: tuple[str, str]
    features: list[str]
    params: dict[str, Any]
    metrics: dict[str, float]
    primary_metric: str
    higher_is_better: bool
    data_fingerprint: str
    notes: str = ""
    importance: list[dict[str, Any]] = field(default_factory=list)
    backtest: list[dict[str, Any]] = field(default_factory=list)
    libraries: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    files: dict[str, str] = field(default_factory=dict)
    stage_history: list[dict[str, str]] = field(default_factory=list)
    path: Path = Path()

    @property
    def score(self) -> float:
        """The value of the primary metric."""
        return self.metrics[self.primary_metric]

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the ``meta.json`` record plus stage and path)."""
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["training_window"] = list(self.training_window)
        out["evaluation_window"] = list(self.evaluation_window)
        out["path"] = str(self.path)
        return out

    @classmethod
    def from_meta(
        cls, meta: Mapping[str, Any], state: Mapping[str, Any], path: Path
    ) -> ModelVersion:
        fields = {k: v for k, v in meta.items() if k in cls.__dataclass_fields__}
        fields["created_at"] = dt.datetime.fromisoformat(meta["created_at"])
        fields["training_window"] = tuple(meta["training_window"])
        fields["evaluation_window"] = tuple(meta["evaluation_window"])
        fields["stage"] = state["stage"]
        fields["stage_history"] = list(state.get("history", []))
        fields["path"] = path
        return cls(**fields)


class ModelRegistry:
    """Versions of named models under ``root`` (see the module docstring for the layout).

    ``num_threads`` is the thread count LightGBM models loaded from here predict with.
    """

    def __init__(self, root: str | Path, *, num_threads: int = 1) -> None:
        self.root = Path(root)
        self.num_threads = num_threads

    # ------------------------------------------------------------------ index

    @property
    def index_path(self) -> Path:
        return self.root / INDEX

    def _read_index(self) -> dict[str, Any]:
        try:
            text = self.index_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"format_version": 1, "models": {}}
        try:
            index = json.loads(text)
            models = index["models"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ModelFileError(
                "the registry index is not valid JSON.",
                source=str(self.index_path),
                hint="Restore it from a backup; the versions' meta.json files are intact.",
            ) from None
        if not isinstance(models, dict):
            raise ModelFileError("the registry index has no models.", source=str(self.index_path))
        return dict(index)

    def _write_index(self, index: dict[str, Any]) -> None:
        _atomic_write(self.index_path, json.dumps(index, indent=2, sort_keys=True) + "\n")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The index, read under the writers' lock; written back on a clean exit."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _FileLock(self.root / ".lock"):
            index = self._read_index()
            yield index
            self._write_index(index)

    # ------------------------------------------------------------------ reading

    def names(self) -> list[str]:
        """The registered model names."""
        return sorted(self._read_index()["models"])

    def _version_dir(self, name: str, version: int) -> Path:
        return self.root / name / str(version)

    def _build(self, name: str, version: int, state: Mapping[str, Any]) -> ModelVersion:
        folder = self._version_dir(name, version)
        meta_path = folder / META
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            return ModelVersion.from_meta(meta, state, folder)
        except FileNotFoundError:
            raise ModelFileError(
                "the version's meta.json is missing.", source=str(meta_path)
            ) from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ModelFileError(
                f"the version's meta.json is invalid ({type(err).__name__}: {err}).",
                source=str(meta_path),
            ) from None

    def _entries(self, index: Mapping[str, Any], name: str) -> dict[str, Any]:
        models = index["models"]
        if name not in models:
            known = ", ".join(sorted(models)) or "none yet"
            raise NotFoundError(
                f"no model named {name!r} in the registry (registered: {known}).",
                source=str(self.root),
                field="name",
            )
        return dict(models[name]["versions"])

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of ``name``, or of all models), ordered by name and version."""
        index = self._read_index()
        names = [name] if name is not None else sorted(index["models"])
        found = []
        for each in names:
            entries = self._entries(index, each)
            for version in sorted(entries, key=int):
                found.append(self._build(each, int(version), entries[version]))
        return found

    def champion(self, name: str) -> ModelVersion | None:
        """The champion version of ``name``, or None if no version is champion."""
        for version in self.versions(name):
            if version.stage == "champion":
                return version
        return None

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """One version; ``version=None`` is the champion, or the latest if there is none."""
        versions = self.versions(name)
        if version is None:
            return self.champion(name) or versions[-1]
        for each in versions:
            if each.version == version:
                return each
        raise NotFoundError(
            f"model {name!r} has no version {version} "
            f"(versions: {', '.join(str(v.version) for v in versions)}).",
            source=str(self.root),
            field="version",
        )

    def load(self, name: str, version: int | None = None) -> Any:
        """The fitted model of one version (as :meth:`get` picks it), checksums verified."""
        from nextbest.models.persist import load_model

        chosen = self.get(name, version)
        for filename, expected in chosen.files.items():
            path = chosen.path / filename
            if not path.is_file() or _sha256(path) != expected:
                raise ModelFileError(
                    "the file differs from the one registered (checksum mismatch).",
                    source=str(path),
                    hint="The model folder was changed after registration; register it again.",
                )
        current = library_versions()
        for lib in ("sklearn", "lightgbm", "skops"):
            then = chosen.libraries.get(lib)
            if then and then != current.get(lib):
                log.warning(
                    "%s was registered with %s %s, loading with %s",
                    chosen.label,
                    lib,
                    then,
                    current.get(lib),
                )
        return load_model(chosen.path, num_threads=self.num_threads)

    # ------------------------------------------------------------------ writing

    def register(
        self,
        name: str,
        model: Any,
        *,
        task: str,
        training_window: Window,
        evaluation_window: Window,
        features: Sequence[str],
        metrics: Mapping[str, float],
        primary_metric: str,
        data_fingerprint: str,
        params: Mapping[str, Any] | None = None,
        higher_is_better: bool | None = None,
        notes: str = "",
        importance: Sequence[Mapping[str, Any]] = (),
        backtest: Sequence[Mapping[str, Any]] = (),
    ) -> ModelVersion:
        """Save ``model`` as the next version of ``name``, as a candidate.

        ``higher_is_better`` declares the direction of ``primary_metric``; it may be
        left out for the metrics in :data:`METRIC_DIRECTIONS`. ``importance`` (one
        record per feature: ``feature`` and its importance numbers, most important
        first) and ``backtest`` (one record per rolling origin) are kept in
        ``meta.json`` and shown in the model card.
        """
        from nextbest.models.card import model_card
        from nextbest.models.persist import _jsonable, model_kind, save_model

        if not _NAME.match(name):
            raise NextBestError(
                f"model name {name!r} is not allowed.",
                field="name",
                hint="Use letters, digits, '_', '-' and '.' (not first), at most 64.",
            )
        if task not in TASKS:
            raise NextBestError(f"task {task!r} is not one of {', '.join(TASKS)}.", field="task")
        clean_metrics = {}
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise NextBestError(f"metric {key!r} is not a number: {value!r}.", field="metrics")
            if not math.isfinite(float(value)):
                raise NextBestError(f"metric {key!r} is not finite: {value!r}.", field="metrics")
            clean_metrics[str(key)] = float(value)
        if primary_metric not in clean_metrics:
            raise NextBestError(
                f"the primary metric {primary_metric!r} is not among the metrics "
                f"({', '.join(clean_metrics) or 'none given'}).",
                field="primary_metric",
            )
        if higher_is_better is None:
            if primary_metric not in METRIC_DIRECTIONS:
                raise NextBestError(
                    f"the direction of {primary_metric!r} is not known.",
                    field="higher_is_better",
                    hint="Pass higher_is_better=True or False.",
                )
            higher_is_better = METRIC_DIRECTIONS[primary_metric]
        meta: dict[str, Any] = {
            "name": name,
            "task": task,
            "training_window": list(_window(training_window, "training_window")),
            "evaluation_window": list(_window(evaluation_window, "evaluation_window")),
            "features": [str(f) for f in features],
            "params": _jsonable(dict(params or {}), "params"),
            "metrics": clean_metrics,
            "primary_metric": primary_metric,
            "higher_is_better": bool(higher_is_better),
            "data_fingerprint": str(data_fingerprint),
            "notes": notes,
            "importance": _jsonable([dict(r) for r in importance], "importance"),
            "backtest": _jsonable([dict(r) for r in backtest], "backtest"),
            "libraries": library_versions(),
        }
        staging = self.root / name / f".incoming-{uuid.uuid4().hex}"
        try:
            files = save_model(model, staging)
            meta["kind"] = model_kind(staging)
            meta["files"] = {p.relative_to(staging).as_posix(): _sha256(p) for p in files}
            with self._locked() as index:
                entry = index["models"].setdefault(name, {"versions": {}})
                taken = [int(v) for v in entry["versions"]]
                taken += [int(p.name) for p in (self.root / name).iterdir() if p.name.isdigit()]
                number = max(taken, default=0) + 1
                created = _now()
                meta["version"] = number
                meta["created_at"] = created.isoformat()
                state = {
                    "stage": "candidate",
                    "history": [
                        {"stage": "candidate", "at": created.isoformat(), "reason": "registered"}
                    ],
                }
                _atomic_write(staging / META, json.dumps(meta, indent=2, sort_keys=True) + "\n")
                version = ModelVersion.from_meta(meta, state, self._version_dir(name, number))
                _atomic_write(staging / CARD, model_card(version))
                os.rename(staging, version.path)
                entry["versions"][str(number)] = state
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return version

    def _set_stage(
        self, index: dict[str, Any], version: ModelVersion, stage: str, reason: str
    ) -> None:
        state = index["models"][version.name]["versions"][str(version.version)]
        state["stage"] = stage
        state.setdefault("history", []).append(
            {"stage": stage, "at": _now().isoformat(), "reason": reason}
        )

    def _refresh_cards(self, name: str, numbers: Sequence[int]) -> list[ModelVersion]:
        from nextbest.models.card import model_card

        fresh = [self.get(name, n) for n in numbers]
        for version in fresh:
            _atomic_write(version.path / CARD, model_card(version))
        return fresh

    def promote(self, name: str, version: int, *, force: bool = False) -> ModelVersion:
        """Make ``version`` the champion of ``name``; the old champion is archived.

        Without ``force`` the version must beat the champion by its primary metric
        (in its direction) on the same evaluation window, for the same task;
        otherwise :class:`~nextbest.errors.PromotionError` says why. The first
        champion of a name is promoted freely.
        """
        with self._locked() as index:
            self._entries(index, name)  # unknown name -> NotFoundError
            challenger = self.get(name, version)
            holder = self.champion(name)
            if holder is not None and holder.version == challenger.version:
                return challenger
            if holder is None:
                reason = "first champion"
            else:
                verdict = _compare(challenger, holder)
                if verdict is not None and not force:
                    raise PromotionError(
                        verdict,
                        hint="Pass force=True (nextbest models promote ... --force) "
                        "to promote it anyway.",
                    )
                reason = f"forced: {verdict}" if verdict else _beats(challenger, holder)
                self._set_stage(index, holder, "archived", f"replaced by v{challenger.version}")
            self._set_stage(index, challenger, "champion", reason)
        changed = [challenger.version] + ([holder.version] if holder else [])
        return self._refresh_cards(name, changed)[0]

    def archive(self, name: str, version: int) -> ModelVersion:
        """Retire ``version`` (a champion archived leaves ``name`` without one)."""
        with self._locked() as index:
            self._entries(index, name)
            chosen = self.get(name, version)
            if chosen.stage == "archived":
                return chosen
            self._set_stage(index, chosen, "archived", "archived")
        return self._refresh_cards(name, [version])[0]


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _beats(challenger: ModelVersion, holder: ModelVersion) -> str:
    op = ">" if challenger.higher_is_better else "<"
    window = "..".join(challenger.evaluation_window)
    return (
        f"{challenger.primary_metric} {_fmt(challenger.score)} {op} {_fmt(holder.score)} "
        f"of v{holder.version} on {window}"
    )


def _compare(challenger: ModelVersion, holder: ModelVersion) -> str | None:
    """None if ``challenger`` beats ``holder``, else the reason it does not (or cannot)."""
    who = f"{challenger.label} cannot be compared with champion v{holder.version}"
    if challenger.task != holder.task:
        return f"{who}: it is a {challenger.task} model, the champion a {holder.task} model."
    if challenger.evaluation_window != holder.evaluation_window:
        return (
            f"{who}: it was evaluated on {'..'.join(challenger.evaluation_window)}, the champion "
            f"on {'..'.join(holder.evaluation_window)}. Evaluate both on the same window."
        )
    metric = challenger.primary_metric
    if metric != holder.primary_metric or metric not in holder.metrics:
        return (
            f"{who}: it is ranked by {metric}, the champion by {holder.primary_metric}"
            + ("" if metric in holder.metrics else f" (which has no {metric})")
            + "."
        )
    if challenger.higher_is_better != holder.higher_is_better:
        return f"{who}: they disagree whether a higher {metric} is better."
    mine, theirs = challenger.score, holder.metrics[metric]
    better = mine > theirs if challenger.higher_is_better else mine < theirs
    if better:
        return None
    direction = "higher" if challenger.higher_is_better else "lower"
    return (
        f"{challenger.label} is not better than champion v{holder.version} on "
        f"{'..'.join(challenger.evaluation_window)}: {metric} {_fmt(mine)} against "
        f"{_fmt(theirs)} ({direction} is better)."
    )


class _FileLock:
    """An exclusive lock on ``path`` between processes and threads (flock, else O_EXCL)."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> _FileLock:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): a create-exclusive marker file
            self._spin()
            return self
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def _spin(self) -> None:
        import time

        marker = self.path.with_suffix(".held")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                return
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise ModelFileError(
                        "the registry is locked by another writer.",
                        source=str(marker),
                        hint="If no other process is writing, delete the file.",
                    ) from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        else:
            self.path.with_suffix(".held").unlink(missing_ok=True)
