"""Stages run in forked processes of a StageHost report exactly what they would in a thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamlytics.pipeline import GateFailed, RunContext, Stage, execute_stage, peak_rss_mb
from streamlytics.stage_host import StageHost


def ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        cfg=None, data_dir=tmp_path, database_url="", mongodb_uri="", reports_dir=tmp_path
    )  # type: ignore[arg-type]


def gate(_ctx: RunContext) -> dict:
    print("checked 3 expectations")
    raise GateFailed(
        "raw validation failed: expect_column_values_to_be_in_set(device_type)", {"failed": 1}
    )


def crash(_ctx: RunContext) -> dict:
    raise ConnectionError("MongoDB at mongodb://127.0.0.1:1 is unreachable")


def environment(ctx: RunContext) -> dict:
    return {
        "pid": os.getpid(),
        "setting": os.environ.get("STAGE_HOST_TEST"),
        "cwd": os.getcwd(),
        "data_dir": str(ctx.data_dir),
    }


def grow(_ctx: RunContext) -> dict:
    block = bytearray(200 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    return {"bytes": len(block)}


@pytest.fixture(scope="module")
def host():
    with StageHost(preload=()) as running:
        yield running


def test_a_failed_gate_comes_back_with_its_message_and_detail(host, tmp_path):
    context = ctx(tmp_path)
    lines: list[str] = []
    result = host.run(Stage("validate-raw", gate), context, on_output=lines.append)
    in_thread = execute_stage(Stage("validate-raw", gate), ctx(tmp_path))
    assert (result.status, result.message, result.detail) == (
        in_thread.status,
        in_thread.message,
        in_thread.detail,
    )
    assert result.status == "failed" and result.detail == {"failed": 1}
    assert context.results["validate-raw"] == {"failed": 1}
    assert lines[0] == "checked 3 expectations"  # the stage's prints reach the caller's log
    assert lines[-1].startswith("stage process") and "CPU" in lines[-1]


def test_a_crash_is_reported_with_its_cause(host, tmp_path):
    result = host.run(Stage("publish", crash), ctx(tmp_path))
    assert result.status == "failed"
    assert result.message == "ConnectionError: MongoDB at mongodb://127.0.0.1:1 is unreachable"


def test_the_stage_sees_the_callers_environment_at_call_time(host, tmp_path, monkeypatch):
    monkeypatch.setenv("STAGE_HOST_TEST", "set after the host started")
    result = host.run(Stage("env", environment), ctx(tmp_path))
    assert result.status == "completed"
    assert result.detail["pid"] != os.getpid()  # it really ran elsewhere
    assert result.detail["setting"] == "set after the host started"
    assert result.detail["cwd"] == os.getcwd() and result.detail["data_dir"] == str(tmp_path)


def test_the_run_summary_peak_rss_includes_the_stage_processes(host, tmp_path):
    result = host.run(Stage("grow", grow), ctx(tmp_path))
    assert result.status == "completed"
    assert result.peak_rss_mb is not None and result.peak_rss_mb >= 200
    assert peak_rss_mb([result]) >= result.peak_rss_mb


def sleep_long(_ctx: RunContext) -> dict:
    import time

    time.sleep(120)
    return {}


def test_a_stage_still_running_when_the_caller_goes_away_is_ended(tmp_path):
    import threading
    import time

    host = StageHost(preload=()).start()
    outcome = []
    worker = threading.Thread(
        target=lambda: outcome.append(host.run(Stage("slow", sleep_long), ctx(tmp_path)))
    )
    worker.start()
    time.sleep(1.0)  # the stage process is running
    started = time.monotonic()
    host.stop()
    worker.join(timeout=30)
    assert time.monotonic() - started < 15
    assert (
        outcome and outcome[0].status == "failed" and "ended without a result" in outcome[0].message
    )
