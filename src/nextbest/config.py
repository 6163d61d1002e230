"""Project settings: one ``nextbest.yaml`` per project, environment overrides.

Every default works with no file at all: the warehouse is an embedded DuckDB file
under ``<project>/.nextbest/``. Environment variables override the file, with
``__`` between levels (``NEXTBEST_WAREHOUSE__THREADS=1``).

>>> s = Settings()
>>> s.warehouse.backend
'duckdb'
>>> s.warehouse_path(Path("/srv/shop")).as_posix()
'/srv/shop/.nextbest/warehouse.duckdb'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nextbest.errors import ConfigError

MEMORY = r"^\d+(\.\d+)?\s*([KMGT]i?B)$"  # an engine memory size such as 512MB or 2GiB

__all__ = [
    "CONFIG_FILE",
    "Boost",
    "CustomFeature",
    "FeatureSettings",
    "IngestSettings",
    "ModelSettings",
    "RecommendRules",
    "RecommendSettings",
    "ReportSettings",
    "SegmentSettings",
    "Settings",
    "SynthSettings",
    "TrainSettings",
    "WarehouseSettings",
    "default_config_text",
    "load_settings",
    "project_dir",
]

CONFIG_FILE = "nextbest.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseSettings(_Section):
    backend: Literal["duckdb"] = Field(
        "duckdb", description="engine behind the warehouse (Ibis backend name)"
    )
    path: str = Field(
        ".nextbest/warehouse.duckdb", description="database file, relative to the project"
    )
    threads: int = Field(2, ge=1, description="threads the engine may use")
    memory_limit: str = Field(
        "2GB",
        pattern=MEMORY,
        description="engine memory cap; larger work spills to disk beyond it",
    )


class IngestSettings(_Section):
    check_references: bool = Field(
        True,
        description="quarantine orders/events/messages/consents whose customer is unknown "
        "(and items whose order or product is unknown)",
    )
    event_types: list[str] = Field(
        default_factory=list,
        description="custom event types allowed besides the standard ones",
    )
    message_channels: list[str] = Field(
        default_factory=list, description="custom message channels allowed"
    )


class CustomFeature(_Section):
    name: str = Field(description="column name of the feature")
    table: str = Field(description="canonical table it aggregates (orders, events, ...)")
    aggregate: str = Field(description="an SQL aggregate over that table, e.g. avg(total)")
    window_days: int | None = Field(None, ge=1, description="only rows this recent (null: all)")
    description: str = ""
    fill: float | None = Field(None, description="value for customers with no rows")


class FeatureSettings(_Section):
    windows: list[int] = Field(
        default_factory=lambda: [30, 90, 365], description="rolling windows in days"
    )
    half_life_days: float = Field(
        14.0, gt=0, description="half-life of decayed scores: an event this old weighs 1/2"
    )
    abandonment_hours: float = Field(
        24.0, gt=0, description="a cart with no purchase within this many hours is abandoned"
    )
    top_categories: int = Field(8, ge=1, description="categories that get an affinity feature")
    memory_limit: str | None = Field(
        "256MB",
        pattern=MEMORY,
        description="engine memory cap while a snapshot is computed, one family at a time "
        "(its streaming aggregates need little and spill beyond it; never above the "
        "warehouse's); null: the warehouse's",
    )
    incremental: bool = Field(
        True,
        description="keep the feature state so a later midnight's snapshot reads only new data",
    )
    custom: list[CustomFeature] = Field(
        default_factory=list,
        description="features defined here as SQL aggregates: {name, table, aggregate, "
        "window_days, description, fill}",
    )
    modules: list[str] = Field(
        default_factory=list,
        description="Python modules to import that register feature families",
    )
    loyalty_tiers: dict[str, float] = Field(
        default_factory=lambda: {
            "bronze": 0.0,
            "silver": 250.0,
            "gold": 1000.0,
            "platinum": 5000.0,
        },
        description="lifetime spend from which each loyalty tier starts",
    )


class SegmentSettings(_Section):
    k_min: int = Field(3, ge=2, description="fewest behavioural clusters to try")
    k_max: int = Field(8, ge=2, description="most behavioural clusters to try")
    pca_components: float | None = Field(
        None, description="PCA before k-means: a component count, a variance share, or null"
    )
    features: list[str] | None = Field(
        None, description="snapshot columns to cluster on (null: a built-in behaviour set)"
    )
    sample_size: int = Field(4000, ge=100, description="customers sampled to score each k")
    seed: int = Field(0, description="random seed for sampling and k-means")
    threads: int = Field(
        1, ge=1, description="threads for k-means (more ran 10x slower on 2 busy cores)"
    )


class SynthSettings(_Section):
    customers: int = Field(2000, ge=1, description="customers in the demo store")
    days: int = Field(365, ge=7, description="days of history in the demo store")
    seed: int = Field(42, description="random seed (same seed, same store)")
    start: str = Field("2025-01-01", description="first day of the demo store's history")


class ModelSettings(_Section):
    dir: str = Field(".nextbest/models", description="the model registry folder")
    threads: int = Field(
        1, ge=1, description="threads LightGBM may use (more ran 8x slower on 2 busy cores)"
    )


class TrainSettings(_Section):
    horizon_days: int = Field(30, ge=1, description="days after a cutoff an outcome covers")
    active_days: int = Field(
        180, ge=1, description="churn: customers who ordered this many days before a cutoff"
    )
    windows: int = Field(3, ge=1, description="training cutoffs, one horizon apart")
    algorithm: str = Field("lightgbm", description="lightgbm, logistic or random_forest")
    baseline: str = Field("logistic", description="the model every report compares against")
    trials: int = Field(20, ge=0, description="hyper-parameter search trials (0: defaults)")
    timeout_seconds: float | None = Field(None, description="stop the search after this long")
    calibration: str | None = Field(
        "sigmoid",
        description="sigmoid (Platt), isotonic or null; fitted on the last training "
        "cutoff's predictions by the model of the earlier ones",
    )
    class_weight: str | None = Field("balanced", description="balanced or null")
    smote: bool = Field(False, description="oversample the rarer outcome (imbalanced-learn)")
    objective: str = Field("f1", description="threshold objective: f1, profit or budget")
    budget: float = Field(0.1, gt=0, le=1, description="budget objective: share contacted")
    costs: dict[str, float] | None = Field(
        None, description="profit objective: value per customer in tp, fp, fn, tn"
    )
    seed: int = Field(0, description="seed for searches and learners")
    importance_rows: int = Field(
        20_000, ge=100, description="evaluation rows (a seeded sample) for global importance"
    )
    clv_bgnbd: bool = Field(
        True, description="clv: also register the BG/NBD x Gamma-Gamma model as clv_bgnbd"
    )
    discount_rate: float = Field(
        0.1,
        ge=0,
        lt=10,
        description="annual discount rate of lifetime value (training and scoring; 0.1: 10%)",
    )


class Boost(_Section):
    campaign: str = Field(description="the campaign's name, shown in the reason")
    products: list[str] = Field(default_factory=list, description="product ids boosted")
    categories: list[str] = Field(default_factory=list, description="categories boosted")
    factor: float = Field(1.5, gt=0, description="multiplies the score (divides it below zero)")


class RecommendRules(_Section):
    exclude: Literal["purchased", "interacted", "none"] = Field(
        "purchased",
        description="what a customer is not offered again: purchased products (consumables "
        "come back when due), everything they touched, or nothing",
    )
    in_stock_only: bool = Field(True, description="leave out products with in_stock false")
    max_per_category: int | None = Field(
        None, ge=1, description="at most this many products per category in a list (diversity)"
    )
    price_band: tuple[float, float] | None = Field(
        None,
        description="[low, high] multiples of the customer's median price paid a product's "
        "price must lie within, e.g. [0.5, 2.0] (customers who bought nothing: no band)",
    )
    blocked_products: list[str] = Field(default_factory=list, description="never offered")
    blocked_categories: list[str] = Field(default_factory=list, description="never offered")
    boosts: list[Boost] = Field(
        default_factory=list, description="campaign boosts: products or categories and a factor"
    )
    consumable_categories: list[str] = Field(
        default_factory=list,
        description="categories bought again and again: offered again when due",
    )
    consumable_products: list[str] = Field(
        default_factory=list, description="products bought again and again (besides categories)"
    )
    replenish_days: float | None = Field(
        None,
        gt=0,
        description="days between purchases of a consumable when its own history is too "
        "short (null: products without a history never come back)",
    )
    replenish_max: int = Field(3, ge=0, description="at most this many due consumables lead a list")

    @field_validator("price_band")
    @classmethod
    def _band(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] < value[1]:
            raise ValueError("needs 0 <= low < high, e.g. [0.5, 2.0]")
        return value


class RankerSettings(_Section):
    enabled: bool = Field(
        True,
        description="re-rank the candidates of EASE, co-occurrence, item-kNN, transitions, "
        "content and popularity with LightGBM (false: EASE alone)",
    )
    holdout_days: float = Field(
        28.0,
        gt=0,
        description="the ranker learns from the products first touched in these last days",
    )
    candidates: int = Field(20, ge=1, description="candidates each generator proposes")
    max_rounds: int = Field(
        75, ge=1, description="most boosting rounds (fewer trees answer faster online)"
    )
    learning_rate: float = Field(0.2, gt=0, le=1, description="LightGBM's shrinkage per round")
    max_customers: int = Field(
        5000, ge=10, description="customers the ranker learns from at most (a seeded sample)"
    )
    threads: int = Field(1, ge=1, description="LightGBM threads while learning")


class RecommendSettings(_Section):
    k: int = Field(10, ge=1, description="recommendations stored per customer")
    weights: dict[str, float] = Field(
        default_factory=lambda: {"product_view": 1.0, "add_to_cart": 3.0, "purchase": 5.0},
        description="interaction weight per event type (purchase: an order line)",
    )
    l2: float = Field(200.0, gt=0, description="EASE ridge penalty")
    half_life: float | None = Field(
        0.05,
        gt=0,
        description="EASE profile half-life as a share of each customer's history (null: no decay)",
    )
    neighbors: int = Field(
        50, ge=1, description="co-occurrence partners kept per product (for the reasons)"
    )
    recent_items: int = Field(5, ge=1, description="a customer's latest products a reason may name")
    segment_by: str | None = Field(
        "country",
        description="customers column whose popularity serves customers with no history "
        "(null: overall popularity)",
    )
    popular_days: float = Field(
        90.0, gt=0, description="popularity counts the customers of this many last days"
    )
    ranker: RankerSettings = Field(
        default_factory=RankerSettings, description="the gradient-boosted re-ranker"
    )
    rules: RecommendRules = Field(
        default_factory=RecommendRules, description="business rules applied after ranking"
    )


class ReportSettings(_Section):
    dir: str = Field(".nextbest/reports", description="where HTML and JSON reports go")


class Settings(BaseSettings):
    """All settings of one project."""

    model_config = SettingsConfigDict(
        env_prefix="NEXTBEST_", env_nested_delimiter="__", extra="forbid"
    )

    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    synth: SynthSettings = Field(default_factory=SynthSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    training: TrainSettings = Field(default_factory=TrainSettings)
    recommend: RecommendSettings = Field(default_factory=RecommendSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment beats the file (the file arrives as init arguments)
        return (env_settings, init_settings)

    def warehouse_path(self, project: Path) -> Path:
        path = Path(self.warehouse.path)
        return path if path.is_absolute() else project / path

    def reports_dir(self, project: Path) -> Path:
        path = Path(self.reports.dir)
        return path if path.is_absolute() else project / path

    def models_dir(self, project: Path) -> Path:
        path = Path(self.models.dir)
        return path if path.is_absolute() else project / path


def project_dir(project: str | Path | None = None) -> Path:
    """The project folder: the argument, else ``$NEXTBEST_PROJECT``, else the cwd."""
    chosen = project or os.environ.get("NEXTBEST_PROJECT") or "."
    return Path(chosen).expanduser().resolve()


def load_settings(project: str | Path | None = None) -> Settings:
    """Read ``nextbest.yaml`` from the project (if any) and apply env overrides."""
    root = project_dir(project)
    path = root / CONFIG_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            hint = "Fix the syntax or delete the file to use the defaults."
            raise ConfigError.from_yaml(err, str(path), hint) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("expected a mapping of sections at the top level", source=str(path))
        data = loaded or {}
    try:
        return Settings(**data)
    except ValidationError as err:
        source = str(path) if path.exists() else "environment"
        hint = "See the commented defaults written by `nextbest init`."
        raise ConfigError.from_validation(err, source, hint) from None


def _section_lines(section: BaseModel, indent: str) -> list[str]:
    lines = []
    for key, fld in type(section).model_fields.items():
        value = getattr(section, key)
        if fld.description:
            lines.append(f"{indent}# {fld.description}")
        if isinstance(value, BaseModel):
            lines.append(f"{indent}{key}:")
            lines.extend(_section_lines(value, indent + "  "))
            continue
        if isinstance(value, tuple):
            value = list(value)
        text = yaml.safe_dump({key: value}, default_flow_style=True, sort_keys=False)
        lines.append(indent + text.strip()[1:-1])
    return lines


def default_config_text() -> str:
    """Every setting with its default value, commented with its description."""
    lines = [
        "# NextBest project settings. Every value below is the default; delete what you",
        "# do not change. Environment variables override this file, e.g.",
        "# NEXTBEST_WAREHOUSE__THREADS=1.",
    ]
    defaults = Settings.model_construct()
    for name in Settings.model_fields:
        lines.append("")
        lines.append(f"{name}:")
        lines.extend(_section_lines(getattr(defaults, name), "  "))
    return "\n".join(lines) + "\n"
