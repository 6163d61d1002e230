from pathlib import Path

import pytest
import yaml

from nextbest.config import CONFIG_FILE, Settings, default_config_text, load_settings
from nextbest.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXTBEST_WAREHOUSE__THREADS", raising=False)


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert s.warehouse.backend == "duckdb"
    assert s.warehouse_path(tmp_path) == tmp_path / ".nextbest" / "warehouse.duckdb"


def test_default_config_text_is_valid_and_complete(tmp_path: Path) -> None:
    text = default_config_text()
    data = yaml.safe_load(text)
    assert set(data) == set(Settings.model_fields)
    (tmp_path / CONFIG_FILE).write_text(text)
    assert load_settings(tmp_path) == Settings()
    assert "# threads the engine may use" in text


def test_file_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / CONFIG_FILE).write_text("warehouse:\n  threads: 3\nsynth:\n  seed: 7\n")
    assert load_settings(tmp_path).warehouse.threads == 3
    monkeypatch.setenv("NEXTBEST_WAREHOUSE__THREADS", "1")
    s = load_settings(tmp_path)
    assert s.warehouse.threads == 1
    assert s.synth.seed == 7


def test_project_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / CONFIG_FILE).write_text("synth:\n  customers: 11\n")
    monkeypatch.setenv("NEXTBEST_PROJECT", str(tmp_path))
    assert load_settings().synth.customers == 11


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("warehouse:\n  threads: [1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert CONFIG_FILE in str(err.value)
    assert err.value.row is not None


def test_unknown_setting_names_field(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("warehouse:\n  thread: 3\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert err.value.field == "warehouse.thread"


def test_wrong_type_names_field(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("warehouse:\n  threads: many\n")
    with pytest.raises(ConfigError, match=r"warehouse\.threads"):
        load_settings(tmp_path)


@pytest.mark.parametrize("section", ["warehouse", "features"])
def test_memory_caps_are_sizes(tmp_path: Path, section: str) -> None:
    (tmp_path / CONFIG_FILE).write_text(f"{section}:\n  memory_limit: 1GB'; DROP\n")
    with pytest.raises(ConfigError, match=rf"{section}\.memory_limit"):
        load_settings(tmp_path)
    (tmp_path / CONFIG_FILE).write_text(f"{section}:\n  memory_limit: 512MB\n")
    assert getattr(load_settings(tmp_path), section).memory_limit == "512MB"
