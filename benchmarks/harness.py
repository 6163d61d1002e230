"""What the benchmarks share: running a stage in its own process, peak memory."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

__all__ = ["make_parser", "peak_mb", "run_requested_stage", "run_stage"]


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(script: str, stage: str, args: argparse.Namespace, **extra: object) -> dict:
    """Run ``script --stage STAGE`` with ``args``' options (flags left out) and ``extra``.

    Returns the JSON object the stage prints on its last line.
    """
    options = {k: v for k, v in vars(args).items() if k != "stage" and not isinstance(v, bool)}
    cmd = [sys.executable, str(Path(script)), "--stage", stage]
    for key, value in {**options, **extra}.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def make_parser(doc: str | None, stages: dict, work: str) -> argparse.ArgumentParser:
    """The options every benchmark takes; a script adds its own."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--work", default=work)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stage", choices=list(stages), help="run one stage (internal)")
    return parser


def run_requested_stage(stages: dict, args: argparse.Namespace) -> bool:
    """When ``--stage`` is given: run it, print its result with peak memory; say so."""
    if not args.stage:
        return False
    result = stages[args.stage](args)
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))
    return True
