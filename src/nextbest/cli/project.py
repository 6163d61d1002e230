"""``nextbest init``: create a project."""

from __future__ import annotations

from typing import Annotated

import typer

from nextbest.cli.common import JsonOpt, ProjectOpt, command, emit, out, settings_for
from nextbest.config import CONFIG_FILE, default_config_text, project_dir
from nextbest.warehouse import Warehouse


@command
def init(
    project: ProjectOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing nextbest.yaml.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a project: a commented nextbest.yaml and the warehouse under .nextbest/."""
    root = project_dir(project)
    root.mkdir(parents=True, exist_ok=True)
    config = root / CONFIG_FILE
    wrote = force or not config.exists()
    if wrote:
        config.write_text(default_config_text(), encoding="utf-8")
    _, settings = settings_for(root)
    with Warehouse.open(settings, root) as wh:
        tables = wh.list_tables()
        path = wh.path

    def render() -> None:
        verb = "wrote" if wrote else "kept existing"
        out.print(f"{verb} {config}")
        out.print(f"warehouse {path} ({len(tables)} tables)")
        out.print("next: nextbest ingest SOURCE [--mapping MAP.yaml], or nextbest demo")

    emit(
        as_json,
        {
            "project": str(root),
            "config": str(config),
            "config_written": wrote,
            "warehouse": str(path),
            "tables": tables,
        },
        render,
    )
