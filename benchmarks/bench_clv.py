"""Lifetime-value models on CDNOW: fit seconds, parameters, holdout forecast vs actual.

    python benchmarks/bench_clv.py [--data ../shared/data/cdnow/CDNOW_master.txt] [--repeats 5]

1. The CDNOW transactions (master: 23,570 customers; or the 1/10 sample) become one
   row per customer with ``calibration_holdout_summary``: calibration 1997-01-01 to
   1997-09-30 inclusive, holdout to 1998-06-30, in weeks, same-day purchases merged.
2. BG/NBD, Pareto/NBD and Gamma-Gamma (on customers with a repeat purchase) are fitted
   ``--repeats`` times each; the table shows the first (cold) and the median fit seconds.
3. Each count model forecasts every customer's repeat purchases over the 39 holdout
   weeks; the sum is set against the purchase days actually seen.

For the sample file the published estimates (Fader, Hardie & Lee 2005) are shown alongside.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
from harness import peak_mb
from rich.console import Console
from rich.table import Table

from nextbest.models.clv import BGNBD, GammaGamma, ParetoNBD, calibration_holdout_summary

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
CALIBRATION_END, HOLDOUT_END = "1997-09-30", "1998-06-30"
PUBLISHED = {  # the 2,357-customer sample
    "BG/NBD": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log-likelihood": -9582.4},
    "Pareto/NBD": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67, "log-likelihood": -9595.0},
    "Gamma-Gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
}


def read_cdnow(path: Path) -> pd.DataFrame:
    """CDNOW rows (master id, [sample id,] date, CDs, dollars) as transactions."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    raw = raw[raw[0].str.isdigit()]  # the master file starts with a header line
    return pd.DataFrame(
        {
            "customer_id": raw[0].to_numpy(),
            "timestamp": pd.to_datetime(raw[raw.columns[-3]], format="%Y%m%d").to_numpy(),
            "value": raw[raw.columns[-1]].astype(float).to_numpy(),
        }
    )


def timed_fits(make, data, repeats: int) -> tuple[object, float, float]:
    seconds = []
    model = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = make().fit(data)
        seconds.append(time.perf_counter() - t0)
    return model, seconds[0], statistics.median(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    console = Console()
    if not args.data.exists():
        console.print(f"[red]no CDNOW file at {args.data}[/red]")
        return 1

    t0 = time.perf_counter()
    transactions = read_cdnow(args.data)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = calibration_holdout_summary(transactions, CALIBRATION_END, HOLDOUT_END, unit="weeks")
    t_summary = time.perf_counter() - t0
    # Gamma-Gamma needs positive spend: a few master customers' repeat purchases cost $0
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    free = int(((summary.frequency > 0) & (summary.monetary_value <= 0)).sum())
    sample = len(summary) < 5000

    fits = {
        "BG/NBD": (BGNBD, summary),
        "Pareto/NBD": (ParetoNBD, summary),
        "Gamma-Gamma": (GammaGamma, repeat),
    }
    title = (
        f"CLV on {args.data.name}: {len(summary):,} customers, "
        f"{len(transactions):,} transactions, {len(repeat):,} with a paid repeat purchase"
        + (f" ({free} with only $0 repeats left out of Gamma-Gamma)" if free else "")
    )
    table = Table(title=title)
    for col in ("model", "measure", "value", "published"):
        table.add_column(col, justify="left" if col in ("model", "measure") else "right")
    table.add_row("data", "read file (s)", f"{t_read:.2f}", "")
    table.add_row("data", "calibration/holdout summary (s)", f"{t_summary:.2f}", "")
    actual = int(summary.frequency_holdout.sum())
    for name, (cls, data) in fits.items():
        model, cold, median = timed_fits(cls, data, args.repeats)
        published = PUBLISHED[name] if sample else {}
        table.add_row(name, "fit, first (s)", f"{cold:.3f}", "")
        table.add_row(name, f"fit, median of {args.repeats} (s)", f"{median:.3f}", "")
        for param, value in model.params_.items():
            ref = published.get(param)
            table.add_row(name, param, f"{value:.4f}", "" if ref is None else f"{ref}")
        ref = published.get("log-likelihood")
        table.add_row(
            name,
            "log-likelihood",
            f"{model.log_likelihood_:,.1f}",
            "" if ref is None else f"{ref:,}",
        )
        if hasattr(model, "conditional_expected_number_of_purchases_up_to_time"):
            forecast = model.conditional_expected_number_of_purchases_up_to_time(
                summary.duration_holdout.to_numpy(), summary
            ).sum()
            table.add_row(name, "holdout repeat purchases: forecast", f"{forecast:,.1f}", "")
            table.add_row(name, "holdout repeat purchases: actual", f"{actual:,}", "")
        table.add_section()
    table.add_row("process", "peak RSS (MB)", f"{peak_mb():,.0f}", "")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
