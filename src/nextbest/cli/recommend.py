"""``nextbest recommend``: build and show next-best product recommendations."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

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
ContextOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--context",
        help="What the customer does now: product=ID (several: product=A,B) or "
        "category=NAME; repeatable. Served live by the saved recommender.",
        show_default=False,
    ),
]


@app.command("build")
@command
def build(
    k: KBuildOpt = None,
    as_of: AsOfOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit on data before --as-of, write the recommendations table and save the
    recommender: the LightGBM re-ranker (recommend.ranker) over EASE, co-occurrence,
    item-kNN, transitions, content and popularity for customers with history,
    popularity in their favourite category or segment for the others, then the
    business rules (recommend.rules); a reason and the serving path for every product."""
    from nextbest.models.recommend.batch import build_recommendations

    root, settings = settings_for(project)
    with open_warehouse(project) as wh, progress_bar("recommend", quiet=as_json) as bar:
        result = build_recommendations(
            wh,
            parse_as_of(as_of),
            settings.recommend,
            k=k,
            progress=step_counter(bar, 6),
            models_dir=settings.models_dir(root),
        )
    paths = ", ".join(f"{n:,} {p}" for p, n in sorted(result.paths.items()))
    r = result.ranker
    ranked = (
        f"re-ranker: {r['rounds']} rounds learnt from {r['queries']:,} customers over "
        f"{r['candidates']} candidates each of {', '.join(r['generators'])}"
        if r.get("served")
        else f"no re-ranker ({r.get('skipped')}): EASE orders the lists"
    )
    emit(
        as_json,
        result.as_dict(),
        lambda: out.print(
            f"recommendations as of {result.as_of}: {result.rows:,} rows for "
            f"{result.customers:,} customers ({paths}; {result.seconds:.1f} s); "
            f"table `recommendations`\n{ranked}"
        ),
    )


@app.command("show")
@command
def show(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    k: KShowOpt = 10,
    as_of: AsOfOpt = None,
    context: ContextOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print one customer's recommendations with the reason for each: the stored
    list, or with --context a live answer from the saved recommender."""
    import pandas as pd

    from nextbest.models.recommend.batch import engine_path, load_recommendations
    from nextbest.models.recommend.engine import RecommendEngine, parse_context

    root, settings = settings_for(project)
    when_wanted = parse_as_of(as_of)
    live = parse_context(context) if context else None
    with open_warehouse(project, read_only=True) as wh:
        if live is None:
            frame = load_recommendations(wh, customer, when_wanted, k=k)
        else:
            engine = RecommendEngine.load(engine_path(settings.models_dir(root), when_wanted))
            frame = pd.DataFrame(engine.recommend(customer, k, context=live))
            frame["as_of"] = pd.Timestamp(engine.as_of_, unit="s")
        names = wh.to_pandas(wh.table("products").select("product_id", "name"))
    names["product_id"] = names["product_id"].astype(str)
    frame = frame.merge(names, on="product_id", how="left")
    when = frame["as_of"].iloc[0] if len(frame) else None
    path = str(frame["path"].iloc[0]) if len(frame) else "none"
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
        {
            "customer_id": customer,
            "as_of": str(when),
            "path": path,
            "context": None
            if live is None
            else {"products": list(live.products), "category": live.category},
            "recommendations": items,
        },
        render,
    )


KEvaluateOpt = Annotated[int, typer.Option("--k", min=1, help="List length evaluated.")]
HoldoutDaysOpt = Annotated[
    float,
    typer.Option(
        "--holdout-days",
        help="Days of the test period before --as-of, and of the validation period before it.",
    ),
]


@app.command("evaluate")
@command
def evaluate(
    k: KEvaluateOpt = 10,
    holdout_days: HoldoutDaysOpt = 28.0,
    as_of: AsOfOpt = None,
    out_dir: ReportDirOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every candidate generator and the ranker on the last --holdout-days before
    --as-of (what customers touched for the first time), tuned on the days before;
    print the metrics and write the report."""
    from nextbest.models.recommend.offline import evaluate_warehouse
    from nextbest.models.recommend.report import evaluation_report, write_evaluation_report
    from nextbest.models.registry import ModelRegistry

    root, settings = settings_for(project)
    models = settings.models_dir(root)
    registry = (
        ModelRegistry(models, num_threads=settings.models.threads) if models.exists() else None
    )
    with (
        open_warehouse(root, read_only=True) as wh,
        progress_bar("evaluate", quiet=as_json) as bar,
    ):
        result = evaluate_warehouse(
            wh,
            settings.recommend,
            k,
            holdout_days,
            parse_as_of(as_of),
            progress=bar,
            registry=registry,
        )
    report = evaluation_report(result)
    html, js = write_evaluation_report(report, out_dir or settings.reports_dir(root))

    def cell(m: dict[str, Any], key: str) -> str:
        value = m[key]
        text = "" if value is None else f"{value:.{2 if key == 'novelty' else 4}f}"
        best = m["generator"] in report["best"].get(key, [])
        return f"[bold]{text}[/]" if best and text else text

    def interval(m: dict[str, Any]) -> str:
        d = m["ndcg_vs_popularity"]
        if m["generator"] == report["baseline"] or d[0] is None:
            return ""
        return f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"

    def render() -> None:
        from rich import box

        p = report["protocol"]
        out.print(
            f"test: {p['test']['pairs']:,} new products of {p['test']['customers']:,} customers "
            f"from {p['test_cut'][:10]} to {p['as_of'][:10]}; models tuned on the "
            f"{p['validation']['customers']:,} customers of the {p['holdout_days']:g} days before"
        )
        accuracy = ["precision", "recall", "ndcg", "map", "hit_rate"]
        heads = [f"P@{k}", f"R@{k}", f"NDCG@{k}", f"MAP@{k}", f"HR@{k}"]
        beyond = ["coverage", "novelty", "diversity"]
        for keys, names, last in (
            (accuracy, heads, None),
            (beyond, beyond, f"NDCG@{k} vs popularity"),
        ):
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
            table.add_column("model")
            for name in [*names, *([last] if last else [])]:
                table.add_column(name, justify="right", no_wrap=True)
            for m in report["models"]:
                extra = [interval(m)] if last else []
                table.add_row(m["generator"], *[cell(m, key) for key in keys], *extra)
            out.print(table)
        if report["ranker_skipped"]:
            out.print(f"ranker not trained: {report['ranker_skipped']}")
        out.print(
            "bold: the best of each column; vs popularity: the NDCG difference with its "
            f"paired bootstrap 95% interval; report: {html} ({result.seconds:.1f} s)"
        )

    emit(as_json, {"html": str(html), "json": str(js), "report": report}, render)
