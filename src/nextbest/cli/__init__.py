"""The ``nextbest`` command line: a thin Typer layer over the library.

>>> from nextbest.cli import app
>>> sorted(c.name for c in app.registered_commands)[:3]
['demo', 'ingest', 'init']
"""

from __future__ import annotations

import typer

from nextbest.cli import (
    data,
    demo,
    features,
    models,
    project,
    quality,
    recommend,
    score,
    segment,
    train,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="nextbest",
    help="NextBest: predictive personalization on your own customer data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init")(project.init)
app.command("synth")(data.synth)
app.command("ingest")(data.ingest)
app.command("quarantine")(data.quarantine)
app.command("quality")(quality.quality)
app.command("demo")(demo.demo)
app.add_typer(features.app, name="features")
app.command("segment")(segment.segment)
app.command("train")(train.train)
app.command("score")(score.score)
app.add_typer(models.app, name="models")
app.add_typer(recommend.app, name="recommend")


def main() -> None:
    app()
