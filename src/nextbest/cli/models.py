"""``nextbest models``: list registered model versions, show their cards, promote one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from nextbest.cli.common import JsonOpt, ProjectOpt, command, emit, out, settings_for

if TYPE_CHECKING:
    from nextbest.models.registry import ModelRegistry

app = typer.Typer(
    help="Registered models: versions, stages, model cards, promotion.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="Model name, as registered.", show_default=False)]


def open_registry(project: Path | None) -> ModelRegistry:
    """The project's model registry (``models.dir``, default ``.nextbest/models/``)."""
    # the registry pulls in the model stack: load it only for these commands
    from nextbest.models.registry import ModelRegistry

    root, settings = settings_for(project)
    return ModelRegistry(settings.models_dir(root), num_threads=settings.models.threads)


@app.command("list")
@command
def list_models(
    name: Annotated[
        str | None, typer.Option("--name", help="Only this model's versions.", show_default=False)
    ] = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every registered model version with its stage and primary metric."""
    registry = open_registry(project)
    versions = registry.versions(name)

    def render() -> None:
        if not versions:
            out.print(f"no models registered in {registry.root}")
            return
        out.print(f"{len(versions)} model version(s) in {registry.root}")
        table = Table(box=box.SIMPLE_HEAD)
        for col in ("model", "v", "stage", "task", "primary metric", "evaluated on"):
            table.add_column(col, justify="right" if col == "v" else "left")
        for v in versions:
            table.add_row(
                v.name,
                str(v.version),
                v.stage,
                v.task,
                f"{v.primary_metric} {v.score:.4g}",
                "..".join(v.evaluation_window),
            )
        out.print(table)

    emit(
        as_json,
        {"registry": str(registry.root), "models": [v.to_dict() for v in versions]},
        render,
    )


@app.command("show")
@command
def show(
    name: NameArg,
    version: Annotated[
        int | None,
        typer.Option(
            "--version",
            help="Version number (default: the champion, else the latest).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a model version's card: purpose, data windows, features, metrics, stages."""
    from nextbest.models.card import model_card

    chosen = open_registry(project).get(name, version)
    card = model_card(chosen)
    emit(
        as_json,
        {"model": chosen.to_dict(), "card": card},
        lambda: out.print(card, markup=False, highlight=False),
    )


@app.command("promote")
@command
def promote(
    name: NameArg,
    version: Annotated[int, typer.Argument(help="Version to make champion.", show_default=False)],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Promote even if it does not beat the champion on the same window."
        ),
    ] = False,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a version the champion if it beats the current one; the old one is archived."""
    registry = open_registry(project)
    registry.get(name, version)  # unknown name or version: a clear error first
    before = registry.champion(name)
    promoted = registry.promote(name, version, force=force)
    previous = before if before is not None and before.version != promoted.version else None

    def render() -> None:
        if before is not None and previous is None:
            out.print(f"{promoted.label} is already the champion.")
            return
        reason = promoted.stage_history[-1]["reason"]
        text = f"{promoted.label} is now the champion ({reason})"
        out.print(text + (f"; v{previous.version} is archived." if previous else "."))

    emit(
        as_json,
        {"model": promoted.to_dict(), "previous": previous.to_dict() if previous else None},
        render,
    )
