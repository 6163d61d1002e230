"""Saving and loading models without pickle: every kind round-trips, unsafe files are refused."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, TargetEncoder

from nextbest.errors import ModelFileError, NextBestError, UntrustedModelError
from nextbest.features import Feature
from nextbest.features.preprocess import build_preprocessor
from nextbest.models import BGNBD, GammaGamma
from nextbest.models.persist import load_model, model_kind, save_model

LGBM = dict(n_estimators=8, num_leaves=7, min_child_samples=5, num_threads=1, verbose=-1)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 240
    X = pd.DataFrame(
        {
            "spend": rng.gamma(2.0, 50.0, n),
            "visits": rng.poisson(3.0, n).astype(float),
            "tenure": rng.uniform(0, 400, n),
            "tier": rng.choice(["bronze", "silver", "gold"], n),
        }
    )
    X.loc[::9, "spend"] = np.nan
    X.loc[::11, "tenure"] = np.nan
    X.loc[::13, "tier"] = None
    logit = 0.01 * X["spend"].fillna(100) - 0.5 * X["visits"] + (X["tier"] == "gold")
    y = (logit + rng.normal(0, 1, n) > 0).astype(int).to_numpy()
    target = (X["spend"].fillna(100) * 0.3 + rng.normal(0, 5, n)).to_numpy()
    return X, y, target


def preprocessor(encode: str = "onehot") -> ColumnTransformer:
    return ColumnTransformer(
        [
            (
                "median",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                ["spend"],
            ),
            (
                "knn",
                make_pipeline(KNNImputer(n_neighbors=3), StandardScaler()),
                ["visits", "tenure"],
            ),
            (
                "iter",
                make_pipeline(IterativeImputer(max_iter=3, random_state=0), StandardScaler()),
                ["spend", "tenure"],
            ),
            (
                "tier",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="unknown"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False)
                    if encode == "onehot"
                    else TargetEncoder(),
                ),
                ["tier"],
            ),
        ]
    ).set_output(transform="pandas")


def outputs(model: Any, X: Any) -> list[np.ndarray]:
    methods = ("predict", "predict_proba", "transform", "decision_function")
    return [np.asarray(getattr(model, m)(X)) for m in methods if hasattr(model, m)]


def assert_round_trip(model: Any, folder: Path, X: Any, kind: str) -> Any:
    files = save_model(model, folder)
    assert files[-1].name == "model.json" and all(p.exists() for p in files)
    assert model_kind(folder) == kind
    loaded = load_model(folder)
    assert type(loaded) is type(model) or kind == "lightgbm_booster"
    before, after = outputs(model, X), outputs(loaded, X)
    assert before and len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    return loaded


SKLEARN_MODELS = {
    "logistic_pipeline": lambda: Pipeline(
        [("pre", preprocessor()), ("model", LogisticRegression(max_iter=500))]
    ),
    "forest_target_encoded": lambda: Pipeline(
        [
            ("pre", preprocessor("target")),
            ("model", RandomForestClassifier(n_estimators=5, random_state=0, n_jobs=1)),
        ]
    ),
    "calibrated": lambda: Pipeline(
        [
            ("pre", preprocessor()),
            ("model", CalibratedClassifierCV(LogisticRegression(max_iter=500), cv=3)),
        ]
    ),
    "calibrated_isotonic": lambda: Pipeline(
        [
            ("pre", preprocessor()),
            (
                "model",
                CalibratedClassifierCV(
                    RandomForestClassifier(n_estimators=4, random_state=0, n_jobs=1),
                    method="isotonic",
                    cv=3,
                ),
            ),
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(SKLEARN_MODELS))
def test_sklearn_pipelines_round_trip(name: str, data, tmp_path: Path) -> None:
    X, y, _ = data
    model = SKLEARN_MODELS[name]().fit(X, y)
    assert_round_trip(model, tmp_path / name, X, "skops")


def test_regressors_and_isotonic_round_trip(data, tmp_path: Path) -> None:
    X, _, target = data
    forest = Pipeline(
        [
            ("pre", preprocessor()),
            ("model", RandomForestRegressor(n_estimators=4, random_state=0, n_jobs=1)),
        ]
    ).fit(X, target)
    assert_round_trip(forest, tmp_path / "forest", X, "skops")
    x = X["visits"].to_numpy()
    iso = IsotonicRegression(out_of_bounds="clip").fit(x, target)
    assert_round_trip(iso, tmp_path / "iso", x, "skops")


def test_preprocessor_from_the_feature_registry_round_trips(data, tmp_path: Path) -> None:
    X, y, _ = data
    feats = [Feature(c, c) for c in ("spend", "visits", "tenure")]
    feats.append(Feature("tier", "tier", dtype="string"))
    pre = build_preprocessor(feats, impute={"tenure": "knn"}, encode="target").fit(X, y)
    assert_round_trip(pre, tmp_path / "pre", X, "skops")


def test_lightgbm_wrappers_round_trip(data, tmp_path: Path) -> None:
    X, y, target = data
    Xn = X.drop(columns="tier")
    labels = np.where(y == 1, "churned", "stayed")
    clf = lgb.LGBMClassifier(**LGBM).fit(Xn, labels)
    loaded = assert_round_trip(clf, tmp_path / "clf", Xn, "lightgbm")
    assert loaded.classes_.tolist() == ["churned", "stayed"]
    assert loaded.feature_name_ == clf.feature_name_
    assert loaded.get_params()["num_threads"] == 1
    assert (tmp_path / "clf" / "booster.txt").read_text().startswith("tree\n")

    multi = lgb.LGBMClassifier(**LGBM).fit(Xn.to_numpy(), (target // 20).clip(0, 3).astype(int))
    assert_round_trip(multi, tmp_path / "multi", Xn.to_numpy(), "lightgbm")

    reg = lgb.LGBMRegressor(**LGBM).fit(Xn, target)
    assert_round_trip(reg, tmp_path / "reg", Xn, "lightgbm")


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")
def test_lightgbm_early_stopping_keeps_the_best_iteration(data, tmp_path: Path) -> None:
    X, _, target = data
    Xn = X.drop(columns="tier")
    reg = lgb.LGBMRegressor(**{**LGBM, "n_estimators": 60, "learning_rate": 0.5})
    reg.fit(
        Xn[:160],
        target[:160],
        eval_set=[(Xn[160:], target[160:])],
        callbacks=[lgb.early_stopping(3, verbose=False)],
    )
    assert 0 < reg.best_iteration_ < 60
    loaded = assert_round_trip(reg, tmp_path / "reg", Xn, "lightgbm")
    assert loaded.best_iteration_ == reg.best_iteration_
    assert loaded.best_score_["valid_0"]["l2"] == pytest.approx(reg.best_score_["valid_0"]["l2"])


def test_lightgbm_booster_round_trips_and_predicts_single_threaded(data, tmp_path: Path) -> None:
    X, y, _ = data
    Xn = X.drop(columns="tier").to_numpy()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "num_threads": 1, "verbose": -1},
        lgb.Dataset(Xn, y),
        num_boost_round=6,
    )
    loaded = assert_round_trip(booster, tmp_path / "booster", Xn, "lightgbm_booster")
    assert isinstance(loaded, lgb.Booster)
    assert loaded.prediction_threads == 1
    np.testing.assert_array_equal(loaded.predict(Xn, num_threads=2), booster.predict(Xn))
    assert load_model(tmp_path / "booster", num_threads=2).prediction_threads == 2


def test_pipeline_ending_in_lightgbm_is_split(data, tmp_path: Path) -> None:
    X, y, _ = data
    model = Pipeline([("pre", preprocessor()), ("gbm", lgb.LGBMClassifier(**LGBM))]).fit(X, y)
    loaded = assert_round_trip(model, tmp_path / "pipe", X, "pipeline_lightgbm")
    assert [name for name, _ in loaded.steps] == ["pre", "gbm"]
    manifest = json.loads((tmp_path / "pipe" / "model.json").read_text())
    assert manifest["files"] == ["pipeline.skops", "booster.txt", "lightgbm.json"]
    # the skops part holds no LightGBM object
    untrusted = sio.get_untrusted_types(file=tmp_path / "pipe" / "pipeline.skops")
    assert untrusted and all(t.startswith(("numpy.", "sklearn.")) for t in untrusted)
    assert len(model.steps) == 2  # saving did not change the original


def test_clv_models_round_trip_as_json(tmp_path: Path) -> None:
    bg = BGNBD.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426))
    bg.log_likelihood_ = -9582.4
    files = save_model(bg, tmp_path / "bg")
    assert [p.name for p in files] == ["params.json", "model.json"]
    loaded = load_model(tmp_path / "bg")
    assert isinstance(loaded, BGNBD) and loaded.params_ == bg.params_
    assert loaded.log_likelihood_ == -9582.4
    freq, rec, T = np.array([0, 2, 5]), np.array([0.0, 10.0, 30.0]), np.array([40.0, 40.0, 40.0])
    np.testing.assert_array_equal(
        loaded.conditional_expected_number_of_purchases_up_to_time(10, freq, rec, T),
        bg.conditional_expected_number_of_purchases_up_to_time(10, freq, rec, T),
    )
    gg = GammaGamma.from_params(dict(p=6.25, q=3.74, v=15.44), penalizer_coef=0.1)
    save_model(gg, tmp_path / "gg")
    loaded_gg = load_model(tmp_path / "gg")
    assert loaded_gg.penalizer_coef == 0.1 and loaded_gg.params_ == gg.params_


def test_params_model_outside_nextbest_is_refused(tmp_path: Path) -> None:
    save_model(BGNBD.from_params(dict(r=1.0, alpha=1.0, a=1.0, b=1.0)), tmp_path / "m")
    path = tmp_path / "m" / "params.json"
    payload = json.loads(path.read_text())
    payload["class"] = "os.system"
    path.write_text(json.dumps(payload))
    with pytest.raises(UntrustedModelError, match=r"os\.system"):
        load_model(tmp_path / "m")


def _craft_skops(model: Any, folder: Path) -> Path:
    """A model folder written straight with skops, bypassing save_model's own check."""
    folder.mkdir(parents=True)
    sio.dump(model, folder / "model.skops")
    manifest = {"format": "nextbest.model", "format_version": 1, "kind": "skops"}
    (folder / "model.json").write_text(json.dumps({**manifest, "files": ["model.skops"]}))
    return folder


@pytest.mark.parametrize(
    ("func", "shown"),
    [(eval, "builtins.eval"), (json.loads, "json.loads"), (Path.unlink, "pathlib")],
)
def test_skops_file_naming_a_disallowed_function_is_refused(
    func: Any, shown: str, tmp_path: Path
) -> None:
    folder = _craft_skops(make_pipeline(FunctionTransformer(func)), tmp_path / "evil")
    with pytest.raises(UntrustedModelError, match=shown) as info:
        load_model(folder)
    assert "refusing to load" in str(info.value)
    assert info.value.http_status == 422


def test_skops_schema_edited_to_call_os_system_is_refused(tmp_path: Path) -> None:
    folder = _craft_skops(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "m")
    path = folder / "model.skops"
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(members["schema.json"])
    schema["__module__"], schema["__class__"] = "os", "system"
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    with pytest.raises(UntrustedModelError, match=r"os\.system"):
        load_model(folder)


class Outsider:
    """A class from a module that is not allowed (this test module)."""

    def __init__(self) -> None:
        self.x = 1


def test_save_refuses_a_model_that_would_not_load(tmp_path: Path) -> None:
    model = make_pipeline(FunctionTransformer(eval))
    with pytest.raises(UntrustedModelError, match=r"builtins\.eval.*would not load|would not"):
        save_model(model, tmp_path / "m")
    assert not (tmp_path / "m" / "model.json").exists()
    # a LightGBM model inside another estimator needs collections.OrderedDict: refused
    X = np.random.default_rng(1).normal(size=(60, 2))
    wrapped = CalibratedClassifierCV(lgb.LGBMClassifier(**LGBM), cv=2).fit(X, X[:, 0] > 0)
    with pytest.raises(UntrustedModelError, match=r"collections\.OrderedDict"):
        save_model(wrapped, tmp_path / "w")


def test_skops_file_with_an_arbitrary_class_is_refused(tmp_path: Path) -> None:
    folder = _craft_skops({"state": Outsider()}, tmp_path / "m")
    with pytest.raises(UntrustedModelError, match="Outsider"):
        load_model(folder)


class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("target", ["model.skops", "model.json"])
def test_a_pickle_in_place_of_a_model_is_never_unpickled(
    target: str, data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y, _ = data
    folder = tmp_path / "m"
    save_model(LogisticRegression().fit(X[["visits"]], y), folder)
    marker = tmp_path / "pwned"
    (folder / target).write_bytes(pickle.dumps(_Boom(marker)))

    def no_pickle(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the loader called pickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, no_pickle)
    with pytest.raises(ModelFileError, match="pickles are never loaded") as info:
        load_model(folder)
    assert isinstance(info.value, NextBestError)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["booster.txt", "lightgbm.json"])
def test_a_pickle_in_place_of_a_lightgbm_file_is_refused(target: str, data, tmp_path: Path) -> None:
    X, y, _ = data
    folder = tmp_path / "m"
    save_model(lgb.LGBMClassifier(**LGBM).fit(X[["visits", "tenure"]], y), folder)
    marker = tmp_path / "pwned"
    (folder / target).write_bytes(pickle.dumps(_Boom(marker)))
    with pytest.raises(ModelFileError):
        load_model(folder)
    assert not marker.exists()


def test_missing_and_foreign_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such model folder"):
        load_model(tmp_path / "nothing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelFileError, match="not a NextBest model manifest"):
        load_model(tmp_path / "other")


def test_unfitted_lightgbm_and_unjsonable_params_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not fitted"):
        save_model(lgb.LGBMClassifier(**LGBM), tmp_path / "a")
    X = np.random.default_rng(2).normal(size=(40, 2))
    odd = lgb.LGBMRegressor(**LGBM, random_state=np.random.RandomState(0)).fit(X, X[:, 0])
    with pytest.raises(ModelFileError, match="random_state"):
        save_model(odd, tmp_path / "b")


class Composite:
    """A model that saves itself as parts (as NextBest's own composite estimators do)."""

    def __init__(self, inner: Any = None, scale: float = 1.0) -> None:
        self.inner, self.scale = inner, scale

    def predict(self, X: Any) -> np.ndarray:
        return self.inner.predict_proba(X)[:, 1] * self.scale

    def save_parts(self, folder: Path) -> list[Path]:
        files = save_model(self.inner, folder / "inner")
        path = folder / "composite.json"
        path.write_text(json.dumps({"scale": self.scale}))
        return [*files, path]

    @classmethod
    def load_parts(cls, folder: Path, *, num_threads: int = 1) -> Composite:
        scale = json.loads((folder / "composite.json").read_text())["scale"]
        return cls(load_model(folder / "inner", num_threads=num_threads), scale)


def test_models_that_save_their_parts(data, tmp_path: Path, monkeypatch) -> None:
    import nextbest.models.persist as persist

    X, y, _ = data
    Xn = X[["visits", "tenure"]]
    model = Composite(lgb.LGBMClassifier(**LGBM).fit(Xn, y), scale=2.0)
    # only NextBest classes rebuild themselves: outside the package it is refused
    with pytest.raises(UntrustedModelError):
        save_model(model, tmp_path / "outside")
    monkeypatch.setattr(Composite, "__module__", "nextbest.models.persist")
    monkeypatch.setattr(persist, "Composite", Composite, raising=False)
    files = save_model(model, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    assert manifest["kind"] == "parts"
    assert "inner/booster.txt" in manifest["files"] and len(files) == len(manifest["files"]) + 1
    loaded = load_model(tmp_path / "m", num_threads=1)
    assert isinstance(loaded, Composite) and loaded.scale == 2.0
    np.testing.assert_array_equal(loaded.predict(Xn), model.predict(Xn))
    manifest["class"] = "tests.evil.Composite"
    (tmp_path / "m" / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(UntrustedModelError, match="only NextBest model classes"):
        load_model(tmp_path / "m")
