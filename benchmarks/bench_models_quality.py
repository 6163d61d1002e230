"""Model quality: logistic, LightGBM and an oracle on a synthetic store; BG/NBD on CDNOW.

    .venv/bin/python benchmarks/bench_models_quality.py [--customers 20000] [--days 365]
        [--seed 0] [--windows 2] [--n-boot 1000] [--data ../shared/data/cdnow/CDNOW_master.txt]

1. Synthetic store (``--customers``, ``--days``, ``--seed``): generated, ingested, then
   for churn and purchase (30-day horizon) a logistic baseline, LightGBM and the oracle
   (the same LightGBM plus the truth known at each cutoff: alive, activity rate,
   engagement, price sensitivity; see ``nextbest.models.oracle``) are trained on
   ``--windows`` cutoffs and scored on the same evaluation cutoff (the one
   ``nextbest train`` uses). ROC-AUC and PR-AUC, with stratified paired bootstrap
   95% intervals of LightGBM minus logistic and oracle minus LightGBM.
2. CDNOW (skipped when the file is absent): the master file is ingested with
   ``examples/cdnow.yaml`` into a temporary warehouse. Target: at least one order in
   the holdout 1997-10-01 .. 1998-06-30 (cutoff 1997-10-01, horizon 273 days), for
   every customer. BG/NBD is fitted on the calibration period (to 1997-09-30, weeks,
   same-day purchases merged) and scores P(alive) x expected purchases over the 39
   holdout weeks. LightGBM and logistic are trained only on data before 1997-10-01:
   features at 1997-07-01 and orders in the 92 days [1997-07-01, 1997-10-01), then
   score the features at 1997-10-01. Also the BG/NBD forecast of all holdout repeat
   purchase days against the actual count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import make_parser, run_requested_stage, run_stage
from rich.console import Console
from rich.table import Table

from nextbest.evaluation.bootstrap import paired_auc_bootstrap
from nextbest.evaluation.curves import average_precision, roc_auc
from nextbest.features.labels import Target, training_frame
from nextbest.ingest import ingest
from nextbest.models.clv import BGNBD, calibration_holdout_summary
from nextbest.models.oracle import LIGHTGBM_PARAMS, compare, read_truth
from nextbest.models.tabular import PropensityModel
from nextbest.synth import generate, write_store
from nextbest.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
CUTOFF = dt.datetime(1997, 10, 1)  # the holdout starts here
HOLDOUT_DAYS = 273  # 1997-10-01 .. 1998-06-30 inclusive
TRAIN_CUTOFF = dt.datetime(1997, 7, 1)
TRAIN_DAYS = 92  # [1997-07-01, 1997-10-01): training outcomes end at the cutoff


def stage_synth(args: argparse.Namespace) -> dict:
    work = Path(args.work) / "synth"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.perf_counter()
    write_store(generate(customers=args.customers, days=args.days, seed=args.seed), work / "store")
    out: dict = {"setup_s": 0.0, "targets": []}
    with Warehouse(work / "w.duckdb", threads=args.threads) as wh:
        ingest(wh, work / "store")
        out["setup_s"] = time.perf_counter() - t0
        truth = read_truth(work / "store")
        snapshots: dict = {}  # both targets use the same cutoffs
        for kind in ("churn", "purchase"):
            result = compare(
                wh,
                truth,
                Target(kind),
                windows=args.windows,
                params=json.loads(args.params),
                n_boot=args.n_boot,
                threads=args.threads,
                seed=args.seed,
                snapshots=snapshots,
            )
            out["targets"].append(result.as_dict())
    shutil.rmtree(work, ignore_errors=True)
    return out


def _transactions(wh: Warehouse) -> pd.DataFrame:
    orders = wh.to_pandas(wh.table("orders").select("customer_id", "ordered_at", "total"))
    return pd.DataFrame(
        {
            "customer_id": orders["customer_id"].astype(str),
            "timestamp": pd.to_datetime(orders["ordered_at"]),
            "value": orders["total"].astype(float),
        }
    )


def stage_cdnow(args: argparse.Namespace) -> dict:
    work = Path(args.work) / "cdnow"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    out: dict = {}
    with Warehouse(work / "w.duckdb", threads=args.threads) as wh:
        report = ingest(wh, Path(args.data), ROOT / "examples" / "cdnow.yaml")
        out["ingest_s"] = time.perf_counter() - t0
        out["loaded"] = {t: int(s.loaded) for t, s in report.tables.items()}
        test = training_frame(wh, CUTOFF, Target("purchase", horizon_days=HOLDOUT_DAYS))
        train = training_frame(wh, TRAIN_CUTOFF, Target("purchase", horizon_days=TRAIN_DAYS))
        tx = _transactions(wh)
    shutil.rmtree(work, ignore_errors=True)

    last_day = CUTOFF - dt.timedelta(days=1)
    holdout_end = CUTOFF + dt.timedelta(days=HOLDOUT_DAYS - 1)
    summary = calibration_holdout_summary(tx, last_day, holdout_end, unit="weeks")
    bgnbd = BGNBD().fit(summary)
    expected = bgnbd.conditional_expected_number_of_purchases_up_to_time(
        summary.duration_holdout.to_numpy(), summary
    )
    alive = bgnbd.conditional_probability_alive(summary)
    by_id = pd.DataFrame({"expected": expected, "alive": alive}, index=summary.index)
    by_id = by_id.reindex(test["customer_id"])
    if by_id["expected"].isna().any():
        raise SystemExit("a CDNOW customer of the evaluation frame has no calibration summary")
    y = test["y"].to_numpy()
    features = [c for c in train.columns if c not in ("customer_id", "y") and c in test.columns]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c])]
    text = [c for c in features if c not in numeric]
    cols = [c for c in numeric if train[c].nunique(dropna=False) > 1] + text
    scores = {
        "BG/NBD: P(alive) x expected holdout purchases": by_id["expected"].to_numpy(),
        "BG/NBD: P(alive) alone (1 for every one-time buyer)": by_id["alive"].to_numpy(),
    }
    for algorithm in ("logistic", "lightgbm"):
        model = PropensityModel(
            algorithm,  # type: ignore[arg-type]
            params=json.loads(args.params) if algorithm == "lightgbm" else None,
            calibration=None,
            threads=args.threads,
            seed=args.seed,
        )
        model.fit(train[cols], train["y"].to_numpy())
        scores[f"{algorithm} (trained at 1997-07-01, 92 days)"] = model.predict_proba(test[cols])[
            :, 1
        ]
    first = next(iter(scores))
    lgbm = next(k for k in scores if k.startswith("lightgbm"))
    diff = paired_auc_bootstrap(y, scores[first], scores[lgbm], n_boot=args.n_boot, seed=0)
    out |= {
        "customers": len(test),
        "train_rows": len(train),
        "train_base_rate": float(train["y"].mean()),
        "base_rate": float(y.mean()),
        "features": len(cols),
        "bgnbd_params": {k: float(v) for k, v in bgnbd.params_.items()},
        "forecast": float(expected.sum()),
        "actual": int(summary.frequency_holdout.sum()),
        "models": {
            name: {"roc_auc": roc_auc(y, s), "pr_auc": average_precision(y, s)}
            for name, s in scores.items()
        },
        "lightgbm_minus_bgnbd": diff.to_dict(),
    }
    return out


STAGES = {"synth": stage_synth, "cdnow": stage_cdnow}


def _ci(d: dict) -> str:
    return f"{d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def synth_table(result: dict, args: argparse.Namespace) -> Table:
    table = Table(
        title=(
            f"Synthetic store: {args.customers:,} customers, {args.days} days, seed {args.seed}; "
            f"{args.windows} training cutoffs, 30-day horizon; LightGBM {args.params}"
        )
    )
    for col in ("target", "model", "ROC-AUC", "PR-AUC"):
        table.add_column(col, justify="left" if col in ("target", "model") else "right")
    table.add_column("ROC-AUC diff [95% CI]", justify="right")
    table.add_column("PR-AUC diff [95% CI]", justify="right")
    diff_of = {"lightgbm": "lightgbm-logistic", "oracle": "oracle-lightgbm"}
    for t in result["targets"]:
        label = [
            t["target"],
            f"eval {t['evaluation_cutoff'][:10]}",
            f"{t['rows']['train']:,} train / {t['rows']['test']:,} eval rows",
            f"base rate {t['base_rate']:.3f}",
        ]
        for i, (model, m) in enumerate(t["metrics"].items()):
            key = diff_of.get(model)
            table.add_row(
                label[i] if i < 2 else " ".join(label[2:]) if i == 2 else "",
                model,
                f"{m['roc_auc']:.4f}",
                f"{m['pr_auc']:.4f}",
                "" if key is None else f"{key.replace('-', ' - ')}: {_ci(t['auc_diff'][key])}",
                "" if key is None else _ci(t["ap_diff"][key]),
            )
        table.add_section()
    return table


def cdnow_table(result: dict) -> Table:
    table = Table(
        title=(
            f"CDNOW: {result['customers']:,} customers; any order 1997-10-01..1998-06-30 "
            f"(base rate {result['base_rate']:.3f}); trained only on data before 1997-10-01"
        )
    )
    for col in ("model", "ROC-AUC", "PR-AUC"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in result["models"].items():
        table.add_row(name, f"{m['roc_auc']:.4f}", f"{m['pr_auc']:.4f}")
    table.add_section()
    table.add_row("ROC-AUC lightgbm - BG/NBD [95% CI]", _ci(result["lightgbm_minus_bgnbd"]), "")
    table.add_row("BG/NBD holdout repeat purchase days: forecast", f"{result['forecast']:,.1f}", "")
    table.add_row("holdout repeat purchase days: actual", f"{result['actual']:,}", "")
    p = result["bgnbd_params"]
    table.add_row("BG/NBD r, alpha, a, b", ", ".join(f"{v:.3f}" for v in p.values()), "")
    return table


def main() -> None:
    parser = make_parser(__doc__, STAGES, "/tmp/nextbest-bench-models-quality")
    parser.set_defaults(customers=20_000, threads=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--params", default=json.dumps(LIGHTGBM_PARAMS, separators=(",", ":")))
    parser.add_argument("--data", default=str(CDNOW))
    parser.add_argument("--only", choices=["synth", "cdnow"], help="run one part")
    args = parser.parse_args()
    if run_requested_stage(STAGES, args):
        return
    console = Console(width=160)
    if args.only in (None, "synth"):
        t0 = time.perf_counter()
        synth = run_stage(__file__, "synth", _without(args, "only"))
        console.print(synth_table(synth, args))
        console.print(
            f"setup (generate + ingest) {synth['setup_s']:.1f} s, total "
            f"{time.perf_counter() - t0:.1f} s, peak RSS {synth['peak_mb']:,.0f} MB"
        )
    if args.only in (None, "cdnow"):
        if not Path(args.data).exists():
            console.print(f"CDNOW skipped: no file at {args.data}")
            return
        t0 = time.perf_counter()
        cdnow = run_stage(__file__, "cdnow", _without(args, "only"))
        console.print(cdnow_table(cdnow))
        console.print(
            f"{cdnow['train_rows']:,} training rows (base rate {cdnow['train_base_rate']:.3f}), "
            f"{cdnow['features']} features; total {time.perf_counter() - t0:.1f} s, "
            f"peak RSS {cdnow['peak_mb']:,.0f} MB"
        )


def _without(args: argparse.Namespace, *names: str) -> argparse.Namespace:
    return argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in names})


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
