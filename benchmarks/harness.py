"""What the benchmarks share: running a stage in its own process, peak memory."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

__all__ = ["peak_mb", "run_stage"]


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
