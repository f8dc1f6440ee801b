"""The Prefect door: prefect.yaml's deployments served on the project's Prefect server, a run
reaching COMPLETED."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg2
import pytest

from streamlytics.config import settings
from streamlytics.consumers import deployments


def test_prefect_yaml_declares_a_daily_pipeline_and_a_backfill() -> None:
    specs = {s.name: s for s in deployments.load_specs(settings().project_root / "prefect.yaml")}

    assert set(specs) == {"daily", "backfill"}
    assert specs["daily"].entrypoint == "flows/pipeline.py:pipeline_flow"
    assert specs["daily"].crons == (("0 6 * * *", "UTC"),)
    assert specs["backfill"].entrypoint == "flows/backfill.py:ingest_and_build_flow"
    assert specs["backfill"].crons == ()
    for spec in specs.values():
        path, function = spec.entrypoint.split(":")
        assert f"def {function}(" in (settings().project_root / path).read_text()


def test_a_deployment_without_entrypoint_is_named_in_the_error(tmp_path: Path) -> None:
    config = tmp_path / "prefect.yaml"
    config.write_text("deployments:\n  - name: ok\n    entrypoint: a.py:f\n  - name: broken\n")
    with pytest.raises(ValueError, match=r"deployments\[1\] needs a name and an entrypoint"):
        deployments.load_specs(config)


def _descendants(pids: list[int]) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        try:
            parent = psutil.Process(pid)
            procs += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return procs


def _flow_run_state(local: deployments.LocalPrefect, flow_run_id: str) -> str:
    return deployments._get_json(f"{local.api_url}/flow_runs/{flow_run_id}")["state"]["type"]


@pytest.mark.slow
def test_served_deployments_are_listed_and_a_triggered_backfill_completes(
    pg_env: str, service_urls: dict[str, str], tmp_path: Path
) -> None:
    from streamlytics import services
    from streamlytics.generate import generate_dataset

    data = tmp_path / "data"
    generate_dataset(data, scale=0.01, seed=3)
    env = {**services.service_environment(), "STREAMLYTICS_STATE_DIR": str(tmp_path / "state")}
    env["PREFECT_API_URL"] = service_urls["prefect"]
    local = deployments.LocalPrefect(
        service_urls["prefect"], home=tmp_path / "prefect", extra_env=env, poll_seconds=2
    )
    prefect = [str(Path(sys.executable).with_name("prefect"))]
    started: list[psutil.Process] = []
    with local:
        started = _descendants([local.runner.pid])
        listing = subprocess.run(
            [*prefect, "deployment", "ls"],
            env=local.environment(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "streamlytics-pipeline/daily" in listing and "ingest-and-build/backfill" in listing

        run = subprocess.run(
            [*prefect, "deployment", "run", "ingest-and-build/backfill", "--param", f"data_dir={data}"],
            env=local.environment(), capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", run).group(1)
        deadline = time.monotonic() + 300
        while (state := _flow_run_state(local, flow_run_id)) not in {
            "COMPLETED",
            "FAILED",
            "CRASHED",
            "CANCELLED",
        }:
            assert time.monotonic() < deadline, f"flow run still {state} after 300 s"
            time.sleep(1)
        assert state == "COMPLETED", (local.log_dir / "runner.log").read_text()[-3000:]
        # The run did the work in the test's own database: raw rows landed and marts were built.
        conn = psycopg2.connect(pg_env)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "select (select count(*) from information_schema.tables where table_schema = 'marts'), "
                    "(select count(*) from raw.viewing_sessions)"
                )
                marts, sessions = cur.fetchone()
        finally:
            conn.close()
        assert marts > 0 and sessions > 0
        # Let the flow-run process finish its own shutdown before the runner is stopped.
        runner = psutil.Process(local.runner.pid)
        deadline = time.monotonic() + 30
        while runner.children() and time.monotonic() < deadline:
            time.sleep(0.5)
    assert started and local.runner.poll() is not None
    left = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"processes left running: {[(p.pid, p.cmdline()) for p in left]}"
