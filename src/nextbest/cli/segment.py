"""``nextbest segment``: RFM segments, behavioural clusters and personas."""

from __future__ import annotations

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
)
from nextbest.cli.features import AsOfOpt, parse_as_of
from nextbest.features import default_as_of
from nextbest.features.store import list_snapshots


@command
def segment(
    as_of: AsOfOpt = None,
    out_dir: ReportDirOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score RFM, name segments, cluster behaviour into personas; write the report."""
    # scikit-learn and matplotlib load only for the commands that use them
    from nextbest.segments.report import write_segment_report
    from nextbest.segments.run import run_segmentation

    root, settings = settings_for(project)
    with open_warehouse(root) as wh, progress_bar("segment") as tick:
        stored = list_snapshots(wh)
        when = parse_as_of(as_of) or (stored[-1] if stored else default_as_of(wh))
        tick("snapshot", 1, 3)
        report, result = run_segmentation(wh, when, settings)
        tick("report", 2, 3)
    html, js = write_segment_report(report, result, out_dir or settings.reports_dir(root))

    def render() -> None:
        rfm = Table(title=f"RFM segments as of {when}")
        rfm.add_column("segment")
        rfm.add_column("customers", justify="right")
        for name, n in report["rfm_segments"].items():
            rfm.add_row(name, f"{n:,}")
        out.print(rfm)
        personas = Table(title=f"{result.k} behavioural clusters (silhouette-chosen)")
        for col in ("cluster", "persona", "customers", "top category"):
            personas.add_column(col, justify="right" if col == "customers" else "left")
        for p in result.personas:
            top = p.top_categories[0]["category"] if p.top_categories else ""
            personas.add_row(str(p.cluster), p.name, f"{p.size:,}", str(top))
        out.print(personas)
        if report["stability"]:
            s = report["stability"]
            out.print(
                f"since {s['previous_as_of']}: adjusted Rand index clusters "
                f"{s['clusters']['adjusted_rand']}, RFM {s['rfm']['adjusted_rand']}"
            )
        out.print(f"report: {html}")

    emit(as_json, {"html": str(html), "json": str(js), "report": report}, render)
