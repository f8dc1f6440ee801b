"""`streamlytics publish` and `streamlytics mongo-pipelines` through the real CLI and servers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mongo_testdata import build_sync_models, create_core
from typer.testing import CliRunner

from streamlytics.cli import app


@pytest.fixture
def env(pg_env: str, mongo_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    uri, name = mongo_db
    monkeypatch.setenv("MONGODB_URI", uri)
    monkeypatch.setenv("MONGODB_DB", name)
    return pg_env


def _row(output: str, collection: str) -> list[int]:
    """inserted, updated, removed, unchanged, documents of one collection in the printed table."""
    line = next(line for line in output.splitlines() if collection in line)
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", line)]


def test_publish_reports_counts_and_a_second_run_changes_nothing(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_core(env, users=30, sessions=300)
    # The CLI finds the sync models through dbt's manifest, as after `streamlytics transform`.
    monkeypatch.setenv("DBT_TARGET_PATH", str(build_sync_models(env, tmp_path)))
    runner = CliRunner()
    first = runner.invoke(app, ["publish"], terminal_width=200)
    assert first.exit_code == 0, first.output
    assert _row(first.output, "user_analytics") == [30, 0, 0, 0, 30]
    assert _row(first.output, "content_analytics")[0] == 13
    assert _row(first.output, "pipeline_results") == [4, 0, 0, 0, 4]
    assert "pipeline monthly_viewing_trends" in first.output

    second = runner.invoke(app, ["publish"], terminal_width=200)
    assert second.exit_code == 0, second.output
    assert _row(second.output, "user_analytics") == [0, 0, 0, 30, 30]
    assert _row(second.output, "content_analytics") == [0, 0, 0, 13, 13]
    assert _row(second.output, "pipeline_results") == [0, 0, 0, 4, 4]

    shown = runner.invoke(
        app, ["mongo-pipelines", "--name", "geographic_distribution"], terminal_width=250
    )
    assert shown.exit_code == 0, shown.output
    assert "geographic_distribution (5 rows)" in shown.output


@pytest.mark.parametrize("manifest", [False, True], ids=["no-manifest", "models-not-built"])
def test_publish_without_the_sync_models_fails_with_what_to_do(
    env: str, manifest: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if manifest:  # dbt parsed the project, but nothing was built in this database
        from mongo_testdata import parse_project

        monkeypatch.setenv("DBT_TARGET_PATH", str(parse_project(tmp_path)))
    else:
        monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "no-target"))
    result = CliRunner().invoke(app, ["publish"], terminal_width=200)
    assert result.exit_code == 1
    assert "streamlytics transform" in result.output


def test_pipelines_before_publish_say_to_publish_first(env: str) -> None:
    result = CliRunner().invoke(app, ["mongo-pipelines"], terminal_width=200)
    assert result.exit_code == 1
    assert "streamlytics publish" in result.output


def test_unknown_pipeline_is_named(env: str) -> None:
    result = CliRunner().invoke(app, ["mongo-pipelines", "--name", "nope"], terminal_width=200)
    assert result.exit_code == 1 and "'nope'" in result.output
