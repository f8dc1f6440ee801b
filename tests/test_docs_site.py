"""The dbt docs door: one offline page holding every mart's lineage, and a local server for it."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from streamlytics.config import settings
from streamlytics.consumers import docs_site

TINY_PROJECT = {
    "dbt_project.yml": """
name: tiny
version: "1.0.0"
config-version: 2
profile: streamlytics
models:
  tiny:
    marts:
      +schema: marts
      +materialized: table
""",
    "macros/generate_schema_name.sql": """
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
""",
    "models/staging/_raw__sources.yml": """
sources:
  - name: raw
    schema: raw
    tables:
      - name: events
""",
    "models/staging/stg_raw__events.sql": "select * from {{ source('raw', 'events') }}\n",
    "models/marts/fct_daily_events.sql": "select count(*) as events from {{ ref('stg_raw__events') }}\n",
    "models/marts/rpt_events.sql": (
        "select * from {{ ref('fct_daily_events') }} cross join (select 1 from {{ ref('stg_raw__events') }}) s\n"
    ),
}


def _ancestors(manifest: dict, uid: str) -> set[str]:
    seen: set[str] = set()
    todo = [uid]
    while todo:
        for parent in manifest["parent_map"].get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    for rel, text in TINY_PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_static_page_opens_offline_with_every_marts_lineage(
    tiny_project: Path, pg_env: str, tmp_path: Path
) -> None:
    site = docs_site.build_docs(
        tiny_project, reports_dir=tmp_path / "reports", work_dir=tmp_path / "target"
    )

    assert site.dbt_index == tmp_path / "reports" / "dbt_docs" / "index.html"
    html = site.dbt_index.read_text(encoding="utf-8")
    assert docs_site.remote_references(html) == []
    assert 'http-equiv="Content-Security-Policy"' in html and "catalog:{" in html.replace(" ", "")
    page = docs_site.inlined_manifest(html)
    assert page["metadata"]["send_anonymous_usage_stats"] is False
    assert site.marts == ("model.tiny.fct_daily_events", "model.tiny.rpt_events")
    assert page["nodes"]["model.tiny.fct_daily_events"]["depends_on"]["nodes"] == [
        "model.tiny.stg_raw__events"
    ]
    assert sorted(page["parent_map"]["model.tiny.rpt_events"]) == [
        "model.tiny.fct_daily_events",
        "model.tiny.stg_raw__events",
    ]
    assert _ancestors(page, "model.tiny.rpt_events") >= {"source.tiny.raw.events"}


def test_remote_stylesheets_are_dropped_and_remote_scripts_refused() -> None:
    page = '<html><head><link rel="stylesheet" href="https://fonts.example/x.css"></head><body></body></html>'
    offline = docs_site.make_offline(page)
    assert "fonts.example" not in offline and docs_site.remote_references(offline) == []
    assert offline.startswith('<html><head><meta http-equiv="Content-Security-Policy"')
    with pytest.raises(docs_site.DocsError, match="remote script"):
        docs_site.make_offline('<head><script src="//cdn.example/app.js"></script></head>')


def test_project_docs_hold_the_lineage_of_every_mart(pg_env: str, tmp_path: Path) -> None:
    """The real dbt project: each mart's parents are on the page and lead back to a raw source."""
    project = settings().dbt_project_dir
    if not (project / "dbt_project.yml").is_file():
        pytest.skip("dbt_project/ has no dbt_project.yml yet")
    site = docs_site.build_docs(
        project, reports_dir=tmp_path / "reports", work_dir=tmp_path / "target"
    )
    page = docs_site.inlined_manifest(site.dbt_index.read_text(encoding="utf-8"))
    marts = docs_site.mart_nodes(page)
    if not marts:
        pytest.skip("the dbt project defines no marts yet")
    assert set(site.marts) == set(marts)
    known = set(page["nodes"]) | set(page["sources"])
    for uid, node in marts.items():
        parents = node["depends_on"]["nodes"]
        assert parents, f"{uid} has no parents on the docs page"
        assert set(parents) <= known
        assert any(a.startswith("source.") for a in _ancestors(page, uid)), (
            f"{uid} does not reach a source"
        )


def test_serve_shows_dbt_docs_on_localhost(tmp_path: Path) -> None:
    folder = tmp_path / "dbt_docs"
    folder.mkdir()
    (folder / "index.html").write_text("<title>dbt Docs</title>")
    gx = tmp_path / "gx" / "index.html"
    gx.parent.mkdir()
    gx.write_text("<title>Data Docs</title>")
    server = docs_site.serve_docs(docs_site.DocsSite(folder / "index.html", gx, ()), port=0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        landing = urllib.request.urlopen(f"{base}/").read().decode()
        assert 'href="/dbt/"' in landing and 'href="/gx/"' in landing
        assert "dbt Docs" in urllib.request.urlopen(f"{base}/dbt/").read().decode()
        assert "Data Docs" in urllib.request.urlopen(f"{base}/gx/index.html").read().decode()
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{base}/dbt/../../etc/passwd")
    finally:
        server.shutdown()
        server.server_close()


def test_gx_data_docs_are_found_where_the_validation_report_says(tmp_path: Path) -> None:
    index = tmp_path / "gx_site" / "index.html"
    index.parent.mkdir()
    index.write_text("<title>Data Docs</title>")
    reports = tmp_path / "reports"
    (reports / "validation").mkdir(parents=True)
    # No report names an index: the GX project's default place, if a validation wrote there.
    assert docs_site.find_gx_docs(settings(), reports) in (
        None,
        settings().gx_project_dir / docs_site.GX_DOCS_DEFAULT,
    )
    (reports / "validation" / "marts.json").write_text(f'{{"data_docs_index": "{index}"}}')
    assert docs_site.find_gx_docs(settings(), reports) == index
