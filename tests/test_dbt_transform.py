"""streamlytics.transform: how a dbt build's outcome is read and reported (pure logic, no dbt)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamlytics.transform import (
    TransformError,
    TransformResult,
    build_command,
    run_build,
    summarise_run_results,
)


def _result(unique_id: str, status: str, message: str = "", failures: int | None = None) -> dict:
    return {"unique_id": unique_id, "status": status, "message": message, "failures": failures}


RUN_RESULTS = {
    "results": [
        _result("model.streamlytics.users", "success", "SELECT 5"),
        _result("model.streamlytics.content", "error", "Database Error\n  relation   missing"),
        _result("model.streamlytics.viewing_sessions", "skipped"),
        _result("seed.streamlytics.plan_prices", "success"),
        _result("test.streamlytics.unique_users_user_id.abc", "pass"),
        _result("test.streamlytics.accepted_values_users_country.def", "warn", "Got 2 results", 2),
        _result("test.streamlytics.not_null_content_title.ghi", "fail", "Got 3 results", 3),
        _result("unit_test.streamlytics.rpt_top_content_by_country.ties", "pass"),
        _result("unit_test.streamlytics.rpt_retention_by_plan.cohorts", "fail", "actual differs"),
    ]
}


def test_failures_are_reported_by_node_with_their_message_and_failing_rows() -> None:
    counts, failures, warnings = summarise_run_results(RUN_RESULTS)
    assert [(f.resource_type, f.name, f.status) for f in failures] == [
        ("model", "content", "error"),
        ("test", "not_null_content_title", "fail"),
        ("unit_test", "rpt_retention_by_plan.cohorts", "fail"),
    ]
    assert (
        failures[0].message == "Database Error relation missing"
    )  # one line, whitespace collapsed
    assert failures[1].failures == 3
    assert [(w.name, w.failures) for w in warnings] == [("accepted_values_users_country", 2)]
    assert counts["model"] == {"success": 1, "error": 1, "skipped": 1}


def test_summary_counts_models_and_tests_for_the_run_summary() -> None:
    counts, failures, warnings = summarise_run_results(RUN_RESULTS)
    summary = TransformResult(1, 12.345, counts, failures, warnings).summary()
    assert summary["status"] == "failed"
    assert (summary["models"], summary["models_failed"], summary["models_skipped"]) == (1, 1, 1)
    assert (summary["tests_passed"], summary["tests_failed"], summary["tests_warned"]) == (1, 1, 1)
    assert (summary["unit_tests_passed"], summary["unit_tests_failed"]) == (1, 1)
    assert summary["seeds"] == 1 and summary["elapsed_seconds"] == 12.35
    assert [f["name"] for f in summary["failures"]] == [
        "content",
        "not_null_content_title",
        "rpt_retention_by_plan.cohorts",
    ]
    json.dumps(summary)  # the pipeline writes it to run_summary.json as is


def test_a_clean_build_is_ok_only_when_dbt_also_exited_zero() -> None:
    counts, failures, warnings = summarise_run_results(
        {"results": [_result("model.p.m", "success")]}
    )
    assert TransformResult(0, 1.0, counts, failures, warnings).ok
    assert not TransformResult(2, 1.0, counts, failures, warnings).ok


def test_build_command_selects_refreshes_and_isolates_target(tmp_path: Path) -> None:
    command = build_command(
        select=["marts"], full_refresh=True, threads=2, target_path=tmp_path / "t"
    )
    assert command[1] == "build"
    assert command[command.index("--select") + 1] == "marts"
    assert command[command.index("--threads") + 1] == "2"
    assert command[command.index("--target-path") + 1] == str(tmp_path / "t")
    assert "--full-refresh" in command


def test_unreachable_database_raises_with_dbts_own_explanation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 refuses connections: dbt runs, cannot connect, and must not be reported as a success
    # (nor may an earlier run_results.json be read as this run's outcome).
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    target = tmp_path / "target"
    target.mkdir()
    (target / "run_results.json").write_text(
        json.dumps({"results": [_result("model.p.m", "success")]})
    )
    try:
        result = run_build(
            select=["stg_streaming__users"], target_path=target, log_path=tmp_path / "logs"
        )
    except TransformError as exc:
        assert "dbt build exited" in str(exc)
    else:
        assert not result.ok and result.failures


def test_dbt_threads_and_work_mem_come_from_the_machine_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamlytics import config
    from streamlytics.transform import dbt_environment

    monkeypatch.delenv("DBT_THREADS", raising=False)
    monkeypatch.delenv("STREAMLYTICS_DBT_WORK_MEM_MB", raising=False)
    monkeypatch.setattr(config.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(config, "_total_memory_mb", lambda: 24 * 1024)
    cfg = config.settings()
    # One thread per core; an eighth of 24 GiB shared by the two threads.
    assert (cfg.dbt_threads, cfg.dbt_work_mem_mb) == (2, 1536)
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)
    env = dbt_environment(cfg)
    assert env["DBT_THREADS"] == "2"
    assert "-c work_mem=1536MB" in env["PGOPTIONS"]
    # dbt.log without the per-statement debug lines, unless asked for.
    assert env["DBT_LOG_LEVEL_FILE"] == "info"
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    assert dbt_environment(cfg)["DBT_LOG_LEVEL_FILE"] == "debug"
    # Bounded on small and large machines; the variables win over the machine.
    monkeypatch.setattr(config, "_total_memory_mb", lambda: 1024)
    assert config.machine_work_mem_mb(2) == 64
    monkeypatch.setattr(config, "_total_memory_mb", lambda: 1024 * 1024)
    assert config.machine_work_mem_mb(1) == 2048
    monkeypatch.setenv("DBT_THREADS", "3")
    monkeypatch.setenv("STREAMLYTICS_DBT_WORK_MEM_MB", "256")
    cfg = config.settings()
    assert (cfg.dbt_threads, cfg.dbt_work_mem_mb) == (3, 256)
