"""The pipeline's Prefect wiring: every stage has a task and a place to run, retries only for
connection errors (Prefect states built here; no server, no flow run)."""

from __future__ import annotations

import psycopg2
from prefect.states import Completed, Failed

from flows.tasks import IN_THREADS, LANES, TASKS, retry_on_connection_error
from streamlytics.pipeline import PIPELINE, GateFailed, StageFailed, run_stage


def failed_stage(error: Exception) -> StageFailed:
    def work(_ctx):
        raise error

    try:
        run_stage("publish", work, None)  # type: ignore[arg-type]
    except StageFailed as exc:
        return exc
    raise AssertionError("run_stage did not raise")


def test_every_stage_has_a_task_and_runs_in_exactly_one_place() -> None:
    names = [stage.name for stage in PIPELINE]
    assert set(TASKS) == set(names)
    assert all(TASKS[name].name == name for name in names)  # the task run is named after it
    placed = [*IN_THREADS, *(stage for members in LANES.values() for stage in members)]
    assert sorted(placed) == sorted(names)


def test_a_stage_is_retried_only_when_it_could_not_reach_a_server() -> None:
    refused = failed_stage(psycopg2.OperationalError("connection refused"))
    gate = failed_stage(GateFailed("raw validation failed", {"failed": 1}))
    data = failed_stage(ValueError("bad value"))
    assert retry_on_connection_error(None, None, Failed(data=refused))
    assert not retry_on_connection_error(None, None, Failed(data=gate))
    assert not retry_on_connection_error(None, None, Failed(data=data))
    assert not retry_on_connection_error(None, None, Completed(data=None))


def test_a_lane_preloads_its_modules_and_calls_the_functions_it_names(monkeypatch) -> None:
    from flows.tasks import PRELOAD, preload
    from python_models import analyze

    calls: list[str] = []
    monkeypatch.setattr(analyze, "start_model_worker", lambda: calls.append("started"))
    preload(PRELOAD["checks"])
    assert calls == ["started"]


def test_a_started_model_worker_serves_the_next_analysis_only() -> None:
    import os

    from python_models import analyze

    analyze.start_model_worker()
    standby = analyze._standby
    with analyze.model_fitter(True) as pool:
        assert pool is standby
        assert pool.submit(os.getpid).result() != os.getpid()  # another process
    assert analyze._standby is None
    with analyze.model_fitter(True) as pool:
        assert pool is not standby
    with analyze.model_fitter(False) as here:
        assert here.submit(os.getpid).result() == os.getpid()
