"""The committed GX context is exactly what the suite specs generate, and holds no secret."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from streamlytics.config import PROJECT_ROOT
from streamlytics.validation.gx_context import (
    CONNECTION_STRING,
    DATASOURCE,
    DOCS_INDEX_RESULTS,
    DOCS_SITE,
    all_suites,
    build_context,
)

COMMITTED = PROJECT_ROOT / "expectations" / "gx"


def _without_ids(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _stored(gx_dir: Path, folder: str) -> dict[str, object]:
    return {
        p.name: _without_ids(json.loads(p.read_text()))
        for p in sorted((gx_dir / folder).glob("*.json"))
    }


def _datasource(gx_dir: Path) -> dict:
    config = yaml.safe_load((gx_dir / "great_expectations.yml").read_text())
    return config["fluent_datasources"][DATASOURCE]


def test_committed_context_matches_the_suite_specs(pg_url: str, tmp_path: Path) -> None:
    """If this fails, run `python -m streamlytics.validation.gx_context` and commit expectations/gx."""
    build_context(tmp_path, all_suites(), pg_url)
    fresh = tmp_path / "gx"
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        assert _stored(COMMITTED, folder) == _stored(fresh, folder), folder
    assert _without_ids(_datasource(COMMITTED)) == _without_ids(_datasource(fresh))
    sites = [
        yaml.safe_load((d / "great_expectations.yml").read_text())["data_docs_sites"]
        for d in (COMMITTED, fresh)
    ]
    assert sites[0] == sites[1]
    # The docs index reads each listed result: a bounded list keeps validation from slowing run after run.
    assert (
        sites[0][DOCS_SITE]["site_index_builder"]["validation_results_limit"] == DOCS_INDEX_RESULTS
    )


def test_connection_string_comes_from_the_environment_only() -> None:
    text = (COMMITTED / "great_expectations.yml").read_text()
    assert _datasource(COMMITTED)["connection_string"] == CONNECTION_STRING == "${DATABASE_URL}"
    assert "postgresql://" not in text and "password" not in text.lower()
    config = yaml.safe_load(text)
    assert config["analytics_enabled"] is False
    assert (
        not (COMMITTED / "uncommitted").exists()
        or (COMMITTED / ".gitignore").read_text().strip() == "uncommitted/"
    )
