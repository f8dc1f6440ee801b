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
