"""``nextbest score``: score every customer with the champion models."""

from __future__ import annotations

from typing import Annotated

import typer

from nextbest.cli.common import (
    JsonOpt,
    ProjectOpt,
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
def score(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="Score with this model only (repeatable).", show_default=False
        ),
    ] = None,
    no_reasons: Annotated[
        bool, typer.Option("--no-reasons", help="Skip the reason codes (faster).")
    ] = False,
    discount_rate: Annotated[
        float | None,
        typer.Option(
            "--discount-rate",
            help="Annual discount rate of lifetime value (default: training.discount_rate).",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the scores table: per customer each champion's score, decile, segment,
    reason codes and model version; lifetime-value models add P(alive), expected
    purchases, spend per purchase and discounted value over their horizon."""
    from nextbest.models.registry import ModelRegistry
    from nextbest.models.score import score_warehouse

    root, settings = settings_for(project)
    registry = ModelRegistry(settings.models_dir(root), num_threads=settings.models.threads)
    with open_warehouse(project) as wh, progress_bar("scoring", quiet=as_json) as bar:
        steps = 3 + len(model or registry.names())
        step = step_counter(bar, steps)

        result = score_warehouse(
            wh,
            registry,
            parse_as_of(as_of),
            settings.features,
            models=model or None,
            reasons=not no_reasons,
            progress=step,
            discount_rate=settings.training.discount_rate
            if discount_rate is None
            else discount_rate,
        )
    models = ", ".join(f"{n} v{v}" for n, v in result.models.items())
    emit(
        as_json,
        result.as_dict(),
        lambda: out.print(
            f"scores as of {result.as_of}: {result.rows:,} rows from {models} "
            f"({result.seconds:.1f} s); table `scores`"
        ),
    )
