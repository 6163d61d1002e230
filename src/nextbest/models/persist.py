"""Save and load fitted models without pickle: loading a model file cannot run code.

A saved model is a folder with a ``model.json`` manifest naming its *kind* and files:

========================  ==================================================================
kind                      files
========================  ==================================================================
``params``                ``params.json``: a NextBest model with ``params_`` / ``from_params``
``parts``                 a NextBest model class that saves its parts in sub-folders
                          (``save_parts`` / ``load_parts``), each part one of the above
``lightgbm_booster``      ``booster.txt``: a ``lightgbm.Booster`` in LightGBM's text format
``lightgbm``              ``booster.txt`` + ``lightgbm.json`` (the wrapper's parameters,
                          classes and fitted attributes) for ``LGBMClassifier`` /
                          ``LGBMRegressor`` / ``LGBMRanker``
``pipeline_lightgbm``     ``pipeline.skops`` (every step but the last) + ``booster.txt`` +
                          ``lightgbm.json``: a scikit-learn ``Pipeline`` ending in LightGBM
``skops``                 ``model.skops``: any other scikit-learn estimator or pipeline
========================  ==================================================================

``skops`` files are loaded only if every type they name that skops does not trust
by default comes from an allowed module (:data:`ALLOWED_PREFIXES`); anything else
(``builtins.eval``, ``posix.system``, a class from another package) is refused
with :class:`~nextbest.errors.UntrustedModelError` naming the type. ``save_model``
runs the same check, so a model that could not be loaded is never written.

LightGBM predicts with an explicit thread count (``num_threads``, default 1): on a
busy 2-core machine more threads ran about 8x slower.

>>> import tempfile
>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
>>> model = LogisticRegression().fit(X, y)
>>> folder = Path(tempfile.mkdtemp()) / "churn"
>>> [p.name for p in save_model(model, folder)]
['model.skops', 'model.json']
>>> model_kind(folder)
'skops'
>>> bool((load_model(folder).predict_proba(X) == model.predict_proba(X)).all())
True
"""

from __future__ import annotations

import copy
import importlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nextbest.errors import ModelFileError, UntrustedModelError

if TYPE_CHECKING:
    import lightgbm

__all__ = [
    "ALLOWED_PREFIXES",
    "MANIFEST",
    "check_trusted",
    "load_model",
    "model_kind",
    "save_model",
]

MANIFEST = "model.json"
FORMAT = "nextbest.model"
FORMAT_VERSION = 1
#: modules whose types a skops file may name (besides those skops trusts itself)
ALLOWED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "lightgbm.", "nextbest.")
_LGBM_CLASSES = ("LGBMClassifier", "LGBMRegressor", "LGBMRanker")
_PARAM_STATE = ("log_likelihood_", "n_iter_", "converged_")
_PARTS_MODULES = ("nextbest.models.",)


# --------------------------------------------------------------------------- helpers


def _jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON types, or a :class:`ModelFileError` naming ``where``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else str(number)  # nan / inf as text
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return [_jsonable(v, where) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ModelFileError(
                    f"{where} has a non-text key {key!r}, which JSON cannot hold.", field=where
                )
            out[key] = _jsonable(item, f"{where}.{key}")
        return out
    raise ModelFileError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, "
        "which cannot be saved as JSON.",
        field=where,
        hint="Use plain numbers, text, lists or dicts for model parameters.",
    )


def _write_json(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError("file is missing.", source=str(path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(
            f"not a JSON file ({err}).",
            source=str(path),
            hint="Model files are JSON, LightGBM text or skops; pickles are never loaded.",
        ) from None


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# --------------------------------------------------------------------------- skops


def check_trusted(types: list[str], source: str = "model") -> list[str]:
    """``types`` if each comes from an allowed module, else :class:`UntrustedModelError`.

    >>> check_trusted(["sklearn.tree._tree.Tree", "numpy.dtype"])
    ['sklearn.tree._tree.Tree', 'numpy.dtype']
    >>> try:
    ...     check_trusted(["builtins.eval"])
    ... except UntrustedModelError as err:
    ...     print(err.message)
    refusing to load type builtins.eval: only types from sklearn., numpy., scipy., lightgbm., nextbest. are allowed.
    """  # noqa: E501
    refused = [t for t in types if not t.startswith(ALLOWED_PREFIXES)]
    if refused:
        raise UntrustedModelError(
            f"refusing to load type{'s' if len(refused) > 1 else ''} {', '.join(refused)}: "
            f"only types from {', '.join(ALLOWED_PREFIXES)} are allowed.",
            source=source,
            hint="The file may have been tampered with; retrain and register the model again.",
        )
    return types


def _skops_dump(model: Any, path: Path) -> Path:
    import skops.io as sio

    try:
        data = sio.dumps(model)
    except Exception as err:  # skops raises assorted types for objects it cannot walk
        raise ModelFileError(
            f"skops cannot save this {_qualname(model)} ({type(err).__name__}: {err}).",
            source=str(path),
        ) from None
    try:
        check_trusted(sio.get_untrusted_types(data=data), str(path))
    except UntrustedModelError as err:
        raise UntrustedModelError(
            f"cannot save this {_qualname(model)}: it would not load again ({err.message})",
            source=str(path),
            hint="Use only scikit-learn, NumPy, SciPy, LightGBM and NextBest objects in models.",
        ) from None
    path.write_bytes(data)
    return path


def _skops_load(path: Path) -> Any:
    import skops.io as sio

    if not path.is_file():
        raise ModelFileError("file is missing.", source=str(path))
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:  # a zip that is not a skops file, or not a zip at all
        raise ModelFileError(
            f"not a readable skops file ({type(err).__name__}: {err}).",
            source=str(path),
            hint="Model files are JSON, LightGBM text or skops; pickles are never loaded.",
        ) from None
    trusted = check_trusted(untrusted, str(path))
    try:
        return sio.load(path, trusted=trusted)
    except Exception as err:
        raise ModelFileError(
            f"cannot rebuild the model ({type(err).__name__}: {err}).", source=str(path)
        ) from None


# --------------------------------------------------------------------------- LightGBM


def _is_lgbm(model: Any) -> bool:
    """A LightGBM scikit-learn wrapper (checked without importing LightGBM for others)."""
    if not type(model).__module__.startswith("lightgbm"):
        return False
    import lightgbm

    return isinstance(model, lightgbm.LGBMModel)


def _is_booster(model: Any) -> bool:
    if not type(model).__module__.startswith(("lightgbm", "nextbest")):
        return False
    import lightgbm

    return isinstance(model, lightgbm.Booster)


def _booster_text(booster: lightgbm.Booster) -> str:
    return str(booster.model_to_string(num_iteration=-1))


def _read_booster(path: Path, cls: type[lightgbm.Booster] | None = None) -> lightgbm.Booster:
    import lightgbm

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError("file is missing.", source=str(path)) from None
    except UnicodeDecodeError:
        raise ModelFileError(
            "not a LightGBM text model (binary content).",
            source=str(path),
            hint="Model files are JSON, LightGBM text or skops; pickles are never loaded.",
        ) from None
    if not text.startswith("tree\n"):
        raise ModelFileError("not a LightGBM text model.", source=str(path))
    try:
        return (cls or lightgbm.Booster)(model_str=text)
    except lightgbm.basic.LightGBMError as err:
        raise ModelFileError(f"LightGBM cannot read it ({err}).", source=str(path)) from None


def _threaded_booster_class() -> type[lightgbm.Booster]:
    import lightgbm

    class ThreadedBooster(lightgbm.Booster):
        """A ``Booster`` whose ``predict`` uses ``num_threads`` unless a call passes its own."""

        prediction_threads = 1

        def predict(self, data: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("num_threads", self.prediction_threads)
            return super().predict(data, *args, **kwargs)

    return ThreadedBooster


def _encode_class_weight(weight: Any) -> Any:
    if isinstance(weight, Mapping):
        return {"pairs": [[_jsonable(k, "class_weight"), float(v)] for k, v in weight.items()]}
    return weight


def _decode_class_weight(weight: Any) -> Any:
    if isinstance(weight, Mapping) and "pairs" in weight:
        return {k: v for k, v in weight["pairs"]}
    return weight


def _save_lgbm_wrapper(model: Any, folder: Path) -> tuple[list[Path], dict[str, Any]]:
    name = type(model).__name__
    if name not in _LGBM_CLASSES:
        raise ModelFileError(f"cannot save a LightGBM {name}; supported: {_LGBM_CLASSES}.")
    if not getattr(model, "fitted_", False):
        raise ModelFileError(f"this {name} is not fitted yet.", hint="Fit it before saving.")
    params = dict(model.get_params())
    params["class_weight"] = _encode_class_weight(params.get("class_weight"))
    state: dict[str, Any] = {
        "class": name,
        "params": _jsonable(params, "params"),
        "n_features": int(model._n_features),
        "n_features_in": int(model._n_features_in),
        "n_classes": int(model._n_classes),
        "fitted_with_feature_names": bool(model._fitted_with_feature_names),
        "objective": _jsonable(model._objective, "objective"),
        "best_iteration": int(model._best_iteration),
        "booster_best_iteration": int(model.booster_.best_iteration),
        "best_score": _jsonable(model._best_score, "best_score"),
        "evals_result": _jsonable(model._evals_result, "evals_result"),
    }
    if name == "LGBMClassifier":
        classes = np.asarray(model._classes)
        state["classes"] = _jsonable(classes, "classes")
        state["classes_dtype"] = "object" if classes.dtype == object else classes.dtype.str
    booster = _write_text(folder / "booster.txt", _booster_text(model.booster_))
    meta = _write_json(folder / "lightgbm.json", state)
    return [booster, meta], {"class": f"lightgbm.{name}"}


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _load_lgbm_wrapper(folder: Path, num_threads: int) -> Any:
    import lightgbm
    from sklearn.preprocessing import LabelEncoder

    state = _read_json(folder / "lightgbm.json")
    try:
        name = state["class"]
        if name not in _LGBM_CLASSES:
            raise ModelFileError(
                f"unknown LightGBM class {name!r}.", source=str(folder / "lightgbm.json")
            )
        params = dict(state["params"])
        params["class_weight"] = _decode_class_weight(params.get("class_weight"))
        # predictions use the thread count asked for, not the one the model trained with
        params["n_jobs"] = num_threads
        if "num_threads" in params:
            params["num_threads"] = num_threads
        model = getattr(lightgbm, name)(**params)
        booster = _read_booster(folder / "booster.txt")
        booster.best_iteration = int(state["booster_best_iteration"])
        model._Booster = booster
        model._n_features = int(state["n_features"])
        model._n_features_in = int(state["n_features_in"])
        model._n_classes = int(state["n_classes"])
        model._fitted_with_feature_names = bool(state["fitted_with_feature_names"])
        model._objective = state["objective"]
        model._best_iteration = int(state["best_iteration"])
        model._best_score = state["best_score"]
        model._evals_result = state["evals_result"]
        model._class_weight = params["class_weight"]
        if name == "LGBMClassifier":
            classes = np.array(state["classes"], dtype=np.dtype(state["classes_dtype"]))
            model._le = LabelEncoder().fit(classes)
            model._classes = model._le.classes_
            model._class_map = dict(
                zip(model._le.classes_, model._le.transform(model._le.classes_), strict=True)
            )
            if isinstance(model._class_weight, dict):
                model._class_weight = {
                    model._class_map[k]: v for k, v in model._class_weight.items()
                }
        model.fitted_ = True
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(
            f"the LightGBM wrapper state is incomplete or invalid ({type(err).__name__}: {err}).",
            source=str(folder / "lightgbm.json"),
        ) from None
    return model


# --------------------------------------------------------------------------- params models


def _is_params_model(model: Any) -> bool:
    return callable(getattr(type(model), "from_params", None)) and isinstance(
        getattr(model, "params_", None), Mapping
    )


def _save_params(model: Any, folder: Path) -> tuple[list[Path], dict[str, Any]]:
    cls = type(model)
    if not cls.__module__.startswith("nextbest."):
        raise ModelFileError(
            f"{_qualname(model)} is not a NextBest model; only those are saved from params_."
        )
    payload = {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "params": _jsonable(model.params_, "params_"),
        "hyper": _jsonable(model.get_params() if hasattr(model, "get_params") else {}, "hyper"),
        "state": {k: _jsonable(getattr(model, k), k) for k in _PARAM_STATE if hasattr(model, k)},
    }
    return [_write_json(folder / "params.json", payload)], {"class": payload["class"]}


def _load_params(folder: Path) -> Any:
    path = folder / "params.json"
    payload = _read_json(path)
    try:
        qualname, params = str(payload["class"]), payload["params"]
        hyper, state = payload.get("hyper", {}), payload.get("state", {})
    except (KeyError, TypeError):
        raise ModelFileError("expected class and params.", source=str(path)) from None
    cls = _nextbest_class(qualname, "from_params", str(path))
    model = cls.from_params(params, **hyper)
    for key in _PARAM_STATE:
        if key in state:
            value = state[key]
            setattr(model, key, float(value) if isinstance(value, str) else value)
    return model


# --------------------------------------------------------------------------- parts models


def _is_parts_model(model: Any) -> bool:
    """A NextBest model made of parts it saves itself (each part through this module)."""
    cls = type(model)
    return (
        cls.__module__.startswith(_PARTS_MODULES)
        and callable(getattr(model, "save_parts", None))
        and callable(getattr(cls, "load_parts", None))
    )


def _nextbest_class(
    qualname: str, method: str, source: str, modules: tuple[str, ...] = ("nextbest.",)
) -> Any:
    """The NextBest class named ``qualname`` if it has ``method``; nothing else is imported."""
    module, _, attr = qualname.rpartition(".")
    if not module.startswith(modules) or not attr.isidentifier():
        raise UntrustedModelError(
            f"refusing to load type {qualname}: only NextBest model classes may be named.",
            source=source,
        )
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise ModelFileError(f"no model class {qualname}.", source=source) from None
    if not isinstance(cls, type) or not callable(getattr(cls, method, None)):
        raise UntrustedModelError(f"{qualname} has no {method}.", source=source)
    return cls


# --------------------------------------------------------------------------- public API


def save_model(model: Any, folder: str | Path) -> list[Path]:
    """Write a fitted ``model`` into ``folder`` (created if needed); returns the files.

    The last file is the ``model.json`` manifest. Raises
    :class:`~nextbest.errors.ModelFileError` for a model that cannot be saved
    without pickle (an unfitted LightGBM model, parameters JSON cannot hold, an
    object skops cannot walk) and :class:`~nextbest.errors.UntrustedModelError` for
    one holding types from modules outside :data:`ALLOWED_PREFIXES`.
    """
    from sklearn.pipeline import Pipeline

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any]
    if _is_parts_model(model):
        kind = "parts"
        files = list(model.save_parts(folder))
        extra = {"class": _qualname(model)}
    elif _is_params_model(model):
        kind = "params"
        files, extra = _save_params(model, folder)
    elif _is_booster(model):
        kind = "lightgbm_booster"
        files = [_write_text(folder / "booster.txt", _booster_text(model))]
        extra = {"class": "lightgbm.Booster", "best_iteration": int(model.best_iteration)}
    elif _is_lgbm(model):
        kind = "lightgbm"
        files, extra = _save_lgbm_wrapper(model, folder)
    elif isinstance(model, Pipeline) and len(model.steps) > 1 and _is_lgbm(model.steps[-1][1]):
        # skops could hold the LightGBM step too, but only by trusting
        # collections.OrderedDict and the LightGBM classes: the booster goes in
        # LightGBM's own text format instead, the steps before it through skops
        kind = "pipeline_lightgbm"
        step, estimator = model.steps[-1]
        head = copy.copy(model)
        head.steps = list(model.steps[:-1])
        files = [_skops_dump(head, folder / "pipeline.skops")]
        more, extra = _save_lgbm_wrapper(estimator, folder)
        files += more
        extra = {"class": _qualname(model), "final_step": step, "estimator": extra["class"]}
    else:
        kind = "skops"
        files = [_skops_dump(model, folder / "model.skops")]
        extra = {"class": _qualname(model)}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "files": [p.relative_to(folder).as_posix() for p in files],
        **extra,
    }
    files.append(_write_json(folder / MANIFEST, manifest))
    return files


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ModelFileError("no such model folder.", source=str(folder))
    manifest = _read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError("not a NextBest model manifest.", source=str(path))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"model format version {manifest.get('format_version')!r} is not supported "
            f"(this NextBest reads version {FORMAT_VERSION}).",
            source=str(path),
        )
    return manifest


def model_kind(folder: str | Path) -> str:
    """The kind of model saved in ``folder`` (see the table above)."""
    return str(_manifest(Path(folder)).get("kind"))


def load_model(folder: str | Path, *, num_threads: int = 1) -> Any:
    """The model saved in ``folder`` by :func:`save_model`. Never unpickles anything.

    ``num_threads`` is the thread count LightGBM models predict with. Raises
    :class:`~nextbest.errors.ModelFileError` for a missing, corrupt or unknown file
    and :class:`~nextbest.errors.UntrustedModelError` for a skops file naming a type
    outside :data:`ALLOWED_PREFIXES`.
    """
    folder = Path(folder)
    if num_threads < 1:
        raise ModelFileError(f"num_threads must be at least 1, got {num_threads}.")
    manifest = _manifest(folder)
    kind = manifest.get("kind")
    if kind == "params":
        return _load_params(folder)
    if kind == "parts":
        source = str(folder / MANIFEST)
        cls = _nextbest_class(str(manifest.get("class")), "load_parts", source, _PARTS_MODULES)
        return cls.load_parts(folder, num_threads=num_threads)
    if kind == "skops":
        return _skops_load(folder / "model.skops")
    if kind == "lightgbm":
        return _load_lgbm_wrapper(folder, num_threads)
    if kind == "lightgbm_booster":
        booster = _read_booster(folder / "booster.txt", _threaded_booster_class())
        booster.prediction_threads = num_threads  # type: ignore[attr-defined]
        booster.best_iteration = int(manifest.get("best_iteration", -1))
        return booster
    if kind == "pipeline_lightgbm":
        from sklearn.pipeline import Pipeline

        head = _skops_load(folder / "pipeline.skops")
        if not isinstance(head, Pipeline):
            raise ModelFileError("expected a Pipeline.", source=str(folder / "pipeline.skops"))
        step = str(manifest.get("final_step", "model"))
        head.steps = [*head.steps, (step, _load_lgbm_wrapper(folder, num_threads))]
        return head
    raise ModelFileError(f"unknown model kind {kind!r}.", source=str(folder / MANIFEST))
