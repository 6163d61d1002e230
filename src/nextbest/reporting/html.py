"""Render reports with a sandboxed, auto-escaping Jinja environment.

>>> render_html("<p>{{ x }}</p>", {"x": "<b>"})
'<p>&lt;b&gt;</p>'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import select_autoescape
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["render_html", "write_report"]

_ENV = SandboxedEnvironment(autoescape=select_autoescape(default=True, default_for_string=True))
_ENV.filters["num"] = lambda v: (
    f"{v:,}"
    if isinstance(v, int)
    else (f"{v:,.3f}" if isinstance(v, float) else ("" if v is None else v))
)
_ENV.filters["pct"] = lambda v: "" if v is None else f"{100 * v:.1f}%"


def render_html(template: str, context: dict[str, Any]) -> str:
    return _ENV.from_string(template).render(**context)


def write_report(
    folder: Path, name: str, data: dict[str, Any], template: str, charts: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``<name>.json`` (the data) and ``<name>.html`` (data + charts) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{name}.json"
    html_path = folder / f"{name}.html"
    json_path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    html_path.write_text(render_html(template, {"r": data, "charts": charts}), encoding="utf-8")
    return html_path, json_path
