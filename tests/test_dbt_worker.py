"""The parse-ahead dbt process: parse now, build later on the parsed manifest (real dbt, real
PostgreSQL). The pipeline relies on it to start the build without a second dbt start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlytics import transform
from streamlytics.dbt_worker import PARSED

# The seed alone (its data tests also read models an empty database does not have).
SEED_ONLY = {"select": ["plan_prices"], "exclude": ["resource_type:test"]}


def test_a_build_handed_to_the_parsed_worker_runs_in_it_and_reports_as_a_cli_build(
    pg_env: str, tmp_path: Path
) -> None:
    target, logs = tmp_path / "target", tmp_path / "logs"
    transform.parse_ahead(target_path=target, log_path=logs)
    worker = transform._pending_parses[target]
    assert worker.stdin is not None, "dbt is importable here: the worker is expected"

    lines: list[str] = []
    result = transform.run_build(
        target_path=target, log_path=logs, on_output=lines.append, **SEED_ONLY
    )

    assert worker.returncode == 0, "the build ran in the worker that parsed"
    assert result.ok and result.counts["seed"] == {"success": 1}
    assert PARSED not in lines and any("Completed successfully" in line for line in lines)
    assert target not in transform._pending_parses
    log = (logs / "dbt.log").read_text()
    # dbt names a programmatic invocation `cli build`, its command line `dbt build`.
    assert "Command `cli build` succeeded" in log and "Command `dbt build`" not in log


def test_a_worker_never_handed_a_build_ends_when_its_caller_closes_the_pipe(
    pg_env: str, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    transform.parse_ahead(target_path=target, log_path=tmp_path / "logs")
    worker = transform._pending_parses.pop(target)
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.close()
    assert worker.wait(timeout=300) == 0
    assert (target / "manifest.json").exists(), "the parse itself ran"
    worker.stdout.close()


def test_without_an_importable_dbt_the_build_waits_for_a_plain_parse(
    pg_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transform, "_dbt_importable", lambda: False)
    target, logs = tmp_path / "target", tmp_path / "logs"
    transform.parse_ahead(target_path=target, log_path=logs)
    assert transform._pending_parses[target].stdin is None
    result = transform.run_build(target_path=target, log_path=logs, **SEED_ONLY)
    assert result.ok and result.counts["seed"] == {"success": 1}
    assert "Nothing changed, skipping partial parsing" in (logs / "dbt.log").read_text()
