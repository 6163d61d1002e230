"""``nextbest train``: train, evaluate and register a purchase, churn or value model."""

from __future__ import annotations

from typing import Annotated

import typer

from nextbest.cli.common import (
    JsonOpt,
    ProjectOpt,
    ReportDirOpt,
    command,
    emit,
    open_warehouse,
    out,
    progress_bar,
    settings_for,
    step_counter,
)
from nextbest.cli.features import AsOfOpt, parse_as_of


@command
def train(
    target: Annotated[str, typer.Argument(help="purchase, churn or clv.", show_default=False)],
    horizon: Annotated[
        int | None, typer.Option("--horizon", help="Days after each cutoff the outcome covers.")
    ] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="purchase: in this category only.")
    ] = None,
    algorithm: Annotated[
        str | None, typer.Option("--algorithm", help="lightgbm, logistic or random_forest.")
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", help="Hyper-parameter search trials (0: none).")
    ] = None,
    windows: Annotated[
        int | None, typer.Option("--windows", help="Training cutoffs, one horizon apart.")
    ] = None,
    as_of: AsOfOpt = None,
    report_dir: ReportDirOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a model on temporal cutoffs, evaluate it on the latest complete window
    beside its baseline, register it, and promote it when it beats the champion."""
    from nextbest.features.labels import Target
    from nextbest.models.registry import ModelRegistry
    from nextbest.models.train import TrainOptions
    from nextbest.models.train import train as run

    root, settings = settings_for(project)
    ts = settings.training
    goal = Target(
        target,  # type: ignore[arg-type]
        horizon_days=horizon or ts.horizon_days,
        category=category,
        active_days=ts.active_days,
    )
    options = TrainOptions(
        algorithm=algorithm or ts.algorithm,
        baseline=ts.baseline,
        windows=windows or ts.windows,
        trials=ts.trials if trials is None else trials,
        timeout_seconds=ts.timeout_seconds,
        calibration=ts.calibration,
        class_weight=ts.class_weight,
        smote=ts.smote,
        objective=ts.objective,
        budget=ts.budget,
        costs=ts.costs,
        threads=settings.models.threads,
        seed=ts.seed,
        as_of=parse_as_of(as_of),
        discount_rate=ts.discount_rate,
        importance_rows=ts.importance_rows,
        clv_bgnbd=ts.clv_bgnbd,
    )
    registry = ModelRegistry(settings.models_dir(root), num_threads=settings.models.threads)
    with (
        open_warehouse(project, read_only=True) as wh,
        progress_bar(f"training {goal.name}", quiet=as_json) as bar,
    ):
        step = step_counter(bar, options.steps)

        result = run(
            wh,
            registry,
            goal,
            options,
            feature_settings=settings.features,
            report_dir=report_dir or settings.reports_dir(root),
            progress=step,
        )
    primary = result.version.primary_metric

    def render() -> None:
        v = result.version
        out.print(
            f"{v.name} v{v.version} ({v.stage}): {primary} {result.metrics[primary]:.4f}, "
            f"{options.baseline} baseline {result.baseline.get(primary, float('nan')):.4f}, "
            f"evaluated on {result.plan.test:%Y-%m-%d}..{result.plan.end:%Y-%m-%d} "
            f"({result.rows['test']:,} customers)"
        )
        out.print(("promoted: " if result.promoted else "not promoted: ") + result.verdict)
        if len(result.backtest) > 1:
            shown = ", ".join(
                f"{r['origin'][:10]} {_fmt(r['model'].get(primary))}" for r in result.backtest
            )
            out.print(f"backtest {primary} by origin: {shown}")
        if result.importance:
            top = ", ".join(r["feature"] for r in result.importance[:5])
            out.print(f"top features: {top}")
        for extra in result.companions:
            if extra.get("registered"):
                out.print(
                    f"{extra['model']} v{extra['version']} ({extra['stage']}): rmse "
                    f"{_fmt(extra['metrics'].get('rmse'))}; "
                    + ("promoted: " if extra["promoted"] else "not promoted: ")
                    + extra["verdict"]
                )
            else:
                out.print(f"{extra['model']}: {extra['verdict']}")
        if result.report:
            out.print(f"report: {result.report}")

    emit(as_json, result.as_dict(), render)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
