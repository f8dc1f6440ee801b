"""Gating rules of the pipeline (pure logic, no services): what runs after a failure."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streamlytics.pipeline import (
    GateFailed,
    RunContext,
    Stage,
    StageResult,
    execute_stage,
    run_dag,
    write_summary,
)


def run_all(stages: list[Stage], ctx: RunContext) -> dict[str, StageResult]:
    return {r.name: r for r in run_dag(stages, lambda stage: execute_stage(stage, ctx))}


def ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        cfg=None, data_dir=tmp_path, database_url="", mongodb_uri="", reports_dir=tmp_path
    )  # type: ignore[arg-type]


def test_failed_gate_skips_dependants_and_names_the_blocker(tmp_path):
    calls = []

    def ok(name):
        def run(_ctx):
            calls.append(name)
            return {"ran": name}

        return run

    def gate(_ctx):
        raise GateFailed(
            "raw validation failed: expect_column_values_to_be_in_set(device_type)", {"failed": 1}
        )

    stages = [
        Stage("ingest", ok("ingest")),
        Stage("validate-raw", gate, ("ingest",)),
        Stage("transform", ok("transform"), ("validate-raw",)),
        Stage("publish", ok("publish"), ("transform",)),
        Stage("independent", ok("independent"), ("ingest",)),
    ]
    results = run_all(stages, ctx(tmp_path))
    assert sorted(calls) == ["independent", "ingest"]
    assert results["validate-raw"].status == "failed"
    assert "device_type" in results["validate-raw"].message
    assert results["validate-raw"].detail == {"failed": 1}
    assert results["transform"].status == "skipped"
    assert "validate-raw" in results["transform"].message
    assert results["publish"].status == "skipped" and "transform" in results["publish"].message
    assert results["independent"].status == "completed"


def test_a_crashing_stage_is_reported_with_its_cause(tmp_path):
    def boom(_ctx):
        raise ConnectionError("MongoDB at mongodb://127.0.0.1:1 is unreachable")

    result = execute_stage(Stage("publish", boom), ctx(tmp_path))
    assert result.status == "failed"
    assert result.message == "ConnectionError: MongoDB at mongodb://127.0.0.1:1 is unreachable"


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


def test_independent_stages_run_side_by_side_and_dependants_wait(tmp_path):
    both_running = threading.Barrier(2, timeout=10)  # breaks (fails) unless a and b overlap
    finished: dict[str, float] = {}

    def meet(name):
        def run(_ctx):
            both_running.wait()
            finished[name] = time.monotonic()
            return {}

        return run

    def after(_ctx):
        finished["c"] = time.monotonic()
        return {}

    stages = [Stage("a", meet("a")), Stage("b", meet("b")), Stage("c", after, ("a", "b"))]
    results = run_all(stages, ctx(tmp_path))
    assert [r.status for r in results.values()] == ["completed"] * 3
    assert finished["c"] >= max(finished["a"], finished["b"])
    assert list(results) == ["a", "b", "c"]  # reported in pipeline order


def test_unknown_or_circular_needs_are_refused(tmp_path):
    noop = lambda _ctx: {}
    with pytest.raises(ValueError, match="unknown"):
        run_all([Stage("a", noop, ("nope",))], ctx(tmp_path))
    with pytest.raises(ValueError, match="wait on each other"):
        run_all([Stage("a", noop, ("b",)), Stage("b", noop, ("a",))], ctx(tmp_path))
