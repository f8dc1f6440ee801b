"""Gating rules of the pipeline (pure logic, no Prefect, no services): what runs after a failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streamlytics.pipeline import (
    PIPELINE,
    GateFailed,
    RunContext,
    Stage,
    StageFailed,
    StageResult,
    check_pipeline,
    is_connection_error,
    outcome_result,
    run_stage,
    write_summary,
)


def ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        cfg=None, data_dir=tmp_path, database_url="", mongodb_uri="", reports_dir=tmp_path
    )  # type: ignore[arg-type]


def outcome(work, tmp_path: Path) -> object:
    """What the stage's task leaves: its StageResult, or the StageFailed it raised."""
    try:
        return run_stage("stage", work, ctx(tmp_path))
    except StageFailed as exc:
        return exc


def summarise(stages: list[Stage], outcomes: dict[str, object]) -> dict[str, StageResult]:
    """The flow's last step: stages that never ran (no outcome) are skipped, naming why."""
    statuses: dict[str, str] = {}
    results = {}
    for stage in stages:
        results[stage.name] = outcome_result(stage, outcomes.get(stage.name), statuses)
        statuses[stage.name] = results[stage.name].status
    return results


def test_failed_gate_skips_dependants_and_names_the_blocker(tmp_path):
    def gate(_ctx):
        raise GateFailed(
            "raw validation failed: expect_column_values_to_be_in_set(device_type)", {"failed": 1}
        )

    stages = [
        Stage("ingest"),
        Stage("validate-raw", ("ingest",)),
        Stage("transform", ("validate-raw",)),
        Stage("publish", ("transform",)),
        Stage("independent", ("ingest",)),
    ]
    ran = {
        "ingest": outcome(lambda _c: {"ran": "ingest"}, tmp_path),
        "validate-raw": outcome(gate, tmp_path),
        "independent": outcome(lambda _c: {"ran": "independent"}, tmp_path),
    }
    results = summarise(stages, ran)
    assert results["validate-raw"].status == "failed"
    assert "device_type" in results["validate-raw"].message
    assert results["validate-raw"].detail == {"failed": 1}
    assert results["transform"].status == "skipped"
    assert "validate-raw" in results["transform"].message
    assert results["publish"].status == "skipped" and "transform" in results["publish"].message
    assert results["independent"].status == "completed"
    assert results["independent"].detail == {"ran": "independent"}


def test_publishing_stages_wait_for_both_gates():
    needs = {stage.name: stage.needs for stage in PIPELINE}
    for stage in ("publish", "analyze", "export-tableau", "dashboards"):
        assert set(needs[stage]) == {"validate-raw", "validate-marts"}
    assert needs["transform"] == ("ingest",)  # dbt builds even when the raw gate fails
    check_pipeline(PIPELINE)


def test_a_crashing_stage_is_reported_with_its_cause(tmp_path):
    def boom(_ctx):
        raise ConnectionError("MongoDB at mongodb://127.0.0.1:1 is unreachable")

    failed = outcome(boom, tmp_path)
    assert isinstance(failed, StageFailed)
    assert failed.result.status == "failed" and failed.result.seconds >= 0
    assert failed.result.message == (
        "ConnectionError: MongoDB at mongodb://127.0.0.1:1 is unreachable"
    )
    assert is_connection_error(failed.__cause__)  # so the retry rule sees what the stage raised


def test_only_connection_errors_are_worth_a_retry():
    import psycopg2

    def raised_from(cause: BaseException) -> BaseException:
        try:
            try:
                raise cause
            except BaseException as inner:
                raise RuntimeError("the stage's own wrapper") from inner
        except RuntimeError as outer:
            return outer

    assert is_connection_error(psycopg2.OperationalError("connection refused"))
    assert is_connection_error(raised_from(psycopg2.OperationalError("server closed")))
    assert not is_connection_error(GateFailed("raw validation failed"))
    assert not is_connection_error(raised_from(ValueError("bad value")))
    assert not is_connection_error(None)


def test_a_failed_stage_keeps_its_detail_across_processes(tmp_path):
    import pickle

    failed = outcome(lambda _c: (_ for _ in ()).throw(GateFailed("gate", {"n": 2})), tmp_path)
    assert isinstance(failed, StageFailed)
    back = pickle.loads(pickle.dumps(failed))
    assert (back.result.message, back.result.detail) == ("gate", {"n": 2})
    gate = pickle.loads(pickle.dumps(GateFailed("gate", {"n": 2})))
    assert (str(gate), gate.detail) == ("gate", {"n": 2})


def test_summary_is_written_and_consistent(tmp_path):
    files = [
        {
            "file": "users.csv",
            "status": "loaded",
            "lines_read": 10,
            "rows_loaded": 9,
            "rows_quarantined": 1,
            "batch_id": "ab",
        }
    ]
    results = [
        StageResult("ingest", "completed", 1.5, {"outputs": {"raw": "x"}, "files": files}),
        StageResult(
            "transform",
            "failed",
            2.0,
            {"status": "failed", "models": 3, "tests_failed": 1},
            "dbt build failed",
        ),
        StageResult("publish", "skipped", 0.0, {}, "skipped"),
    ]
    path = tmp_path / "run_summary.json"
    summary = write_summary(path, results, datetime.now(UTC), tmp_path)
    on_disk = json.loads(path.read_text())
    assert on_disk == json.loads(json.dumps(summary, default=str))
    assert on_disk["status"] == "failed"
    assert on_disk["seconds_wall"] >= 0
    assert on_disk["overview"]["seconds_per_stage"] == {
        "ingest": 1.5,
        "transform": 2.0,
        "publish": 0.0,
    }
    assert on_disk["overview"]["files"] == [{k: v for k, v in files[0].items() if k != "batch_id"}]
    assert (
        on_disk["overview"]["dbt"]["models"] == 3
        and on_disk["overview"]["dbt"]["tests_failed"] == 1
    )
    assert "mongo_documents" not in on_disk["overview"]  # publish was skipped: nothing to claim
    assert on_disk["outputs"] == {"raw": "x"}
    assert [s["status"] for s in on_disk["stages"]] == ["completed", "failed", "skipped"]
    assert on_disk["peak_rss_mb"] > 0


def test_a_stage_that_needs_a_later_or_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="not listed before it"):
        check_pipeline([Stage("a", ("nope",))])
    with pytest.raises(ValueError, match="not listed before it"):
        check_pipeline([Stage("a", ("b",)), Stage("b", ("a",))])
