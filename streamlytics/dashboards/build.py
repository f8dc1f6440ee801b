"""build_dashboards: the marts of the web_dashboards exposure into one self-contained HTML page.

plotly.js comes from the plotly package (the same build Plotly's Python API embeds) and is
inlined with the data and the page's script, so the file opens offline, from a USB stick or an
e-mail attachment, and makes no network request (its Content-Security-Policy forbids any).
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path

from streamlytics.dashboards.data import read_marts

PAGE = "dashboards.html"


def _asset(name: str) -> str:
    return resources.files("streamlytics.dashboards").joinpath(name).read_text(encoding="utf-8")


def render(marts: dict, generated_at: dt.datetime | None = None) -> str:
    """The page's HTML for ``marts`` (as read_marts returns them)."""
    from plotly.offline import get_plotlyjs

    generated_at = generated_at or dt.datetime.now(dt.UTC)
    months = sorted(set(marts["rpt_dashboard_activity"]["activity_month"]))
    span = f"{months[0][:7]} to {months[-1][:7]}" if months else "no sessions"
    subtitle = f"Sessions {span} · built {generated_at:%Y-%m-%d %H:%M} UTC from the dbt marts"
    data = json.dumps({"marts": marts}, separators=(",", ":")).replace("</", "<\\/")
    page = _asset("app.html")
    for marker, value in (
        ("__CSS__", _asset("app.css")),
        ("__SUBTITLE__", subtitle),
        ("__APP__", _asset("app.js")),
        ("__DATA__", data),
        ("__PLOTLY__", get_plotlyjs()),
    ):
        page = page.replace(marker, value, 1)
    return page


def build_dashboards(connection, out_dir: Path) -> Path:
    """Write ``out_dir/dashboards.html`` from the marts on ``connection``; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PAGE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(read_marts(connection)), encoding="utf-8")
    tmp.replace(path)
    return path
