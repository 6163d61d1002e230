"""What every command shares: project/--json options, errors, output, progress."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nextbest.config import Settings, load_settings, project_dir
from nextbest.errors import NextBestError
from nextbest.warehouse import Warehouse

__all__ = [
    "JsonOpt",
    "ProjectOpt",
    "ReportDirOpt",
    "command",
    "console",
    "emit",
    "open_warehouse",
    "progress_bar",
    "settings_for",
    "step_counter",
]

console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        envvar="NEXTBEST_PROJECT",
        help="Project folder (holds nextbest.yaml and .nextbest/). Default: current folder.",
        show_default=False,
    ),
]
ReportDirOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Report folder (default: the project's reports dir)."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one machine-readable JSON object on stdout.")
]

F = TypeVar("F", bound=Callable[..., Any])


def command(fn: F) -> F:
    """Turn user errors into a one-paragraph message and exit code 1, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NextBestError as err:
            if kwargs.get("as_json"):
                print(json.dumps({"ok": False, **err.to_dict()}))
            console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def settings_for(project: Path | None) -> tuple[Path, Settings]:
    root = project_dir(project)
    return root, load_settings(root)


@contextmanager
def open_warehouse(project: Path | None, *, read_only: bool = False) -> Iterator[Warehouse]:
    root, settings = settings_for(project)
    with Warehouse.open(settings, root, read_only=read_only) as wh, wh.engine_errors():
        yield wh


def emit(as_json: bool, payload: dict[str, Any], render: Callable[[], None]) -> None:
    """Print ``payload`` as JSON, or call ``render`` for the human view."""
    if as_json:
        print(json.dumps({"ok": True, **payload}, default=str))
    else:
        render()


@contextmanager
def progress_bar(
    description: str, *, quiet: bool = False
) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on stderr, driven by ``callback(step, done, total)``."""
    if quiet or not sys.stderr.isatty():
        yield lambda step, done, total: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None, step="")

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, step=step)

        yield update


def step_counter(update: Callable[[str, int, int], None], total: int) -> Callable[[str], None]:
    """A progress callback for work in named steps: each call moves the bar one step."""
    done = [0]

    def step(text: str) -> None:
        done[0] += 1
        update(text, min(done[0], total), total)

    return step
