"""``nextbest recommend``: build and show next-best product recommendations."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

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

app = typer.Typer(help="Next-best product recommendations.", no_args_is_help=True)


KBuildOpt = Annotated[
    int | None,
    typer.Option(
        "--k",
        min=1,
        help="Recommendations per customer (default: recommend.k).",
        show_default=False,
    ),
]
KShowOpt = Annotated[int, typer.Option("--k", min=1, help="Show at most this many.")]


@app.command("build")
@command
def build(
    k: KBuildOpt = None,
    as_of: AsOfOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit on interactions before --as-of and write the recommendations table:
    EASE's list with a reason per product for customers with history, popularity
    (in their favourite category when known) for the others."""
    from nextbest.models.recommend.batch import build_recommendations

    _, settings = settings_for(project)
    with open_warehouse(project) as wh, progress_bar("recommend", quiet=as_json) as bar:
        result = build_recommendations(
            wh,
            parse_as_of(as_of),
            settings.recommend,
            k=k,
            progress=step_counter(bar, 3),
        )
    paths = ", ".join(f"{n:,} {p}" for p, n in sorted(result.paths.items()))
    emit(
        as_json,
        result.as_dict(),
        lambda: out.print(
            f"recommendations as of {result.as_of}: {result.rows:,} rows for "
            f"{result.customers:,} customers ({paths}; {result.seconds:.1f} s); "
            "table `recommendations`"
        ),
    )


@app.command("show")
@command
def show(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    k: KShowOpt = 10,
    as_of: AsOfOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print one customer's stored recommendations with the reason for each."""
    from nextbest.models.recommend.batch import load_recommendations

    with open_warehouse(project, read_only=True) as wh:
        frame = load_recommendations(wh, customer, parse_as_of(as_of), k=k)
        names = wh.to_pandas(wh.table("products").select("product_id", "name"))
    names["product_id"] = names["product_id"].astype(str)
    frame = frame.merge(names, on="product_id", how="left")
    when = frame["as_of"].iloc[0]
    path = str(frame["path"].iloc[0])
    items: list[dict[str, Any]] = [
        {
            "rank": int(r["rank"]),
            "product_id": str(r["product_id"]),
            "name": None if r["name"] != r["name"] else r["name"],
            "score": float(r["score"]),
            "generator": str(r["generator"]),
            "reason": str(r["reason"]),
        }
        for r in frame.to_dict("records")
    ]

    def render() -> None:
        table = Table(title=f"{customer} as of {when} (path: {path})")
        for col in ("rank", "product", "name", "score", "reason"):
            table.add_column(col, justify="right" if col in ("rank", "score") else "left")
        for item in items:
            table.add_row(
                str(item["rank"]),
                item["product_id"],
                item["name"] or "",
                f"{item['score']:.3f}",
                item["reason"],
            )
        out.print(table)

    emit(
        as_json,
        {"customer_id": customer, "as_of": str(when), "path": path, "recommendations": items},
        render,
    )
