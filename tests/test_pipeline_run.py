"""`streamlytics run` end to end on generated data: every stage, a consistent summary, gates,
and both runs listed on the Prefect server (its API and its UI in headless Chromium).

Runs the real CLI in a subprocess against a throwaway PostgreSQL and MongoDB database, reporting
to the project's Prefect server (a service, like PostgreSQL, started once for the session).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2
import pymongo
import pytest

from streamlytics.generate import generate_dataset

STAGES = [
    "ingest",
    "validate-raw",
    "transform",
    "validate-marts",
    "publish",
    "analyze",
    "export-tableau",
    "dashboards",
]
# (flow run id, run_summary.json) of each `streamlytics run` of this module, in order.
RUNS: list[tuple[str, dict]] = []


def run_pipeline(
    data_dir: Path, reports: Path, pg_url: str, mongo: tuple[str, str]
) -> tuple[subprocess.CompletedProcess, dict]:
    from streamlytics.services import pg_variables

    env = dict(os.environ)
    env.update(pg_variables(pg_url))
    env.update(
        DATABASE_URL=pg_url,
        MONGODB_URI=mongo[0],
        MONGODB_DB=mongo[1],
        STREAMLYTICS_REPORTS_DIR=str(reports),
        COLUMNS="200",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "streamlytics.cli", "run", "--data-dir", str(data_dir)],
        check=False,  # the exit code is asserted with the output
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary_path = reports / "run_summary.json"
    assert summary_path.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    # Prefect's first line names the pipeline's flow run: "View at <ui>/runs/flow-run/<id>".
    found = re.search(r"/runs/flow-run/([0-9a-f-]{36})", proc.stdout + proc.stderr)
    assert found, proc.stdout[-3000:] + proc.stderr[-3000:]
    RUNS.append((found.group(1), summary))
    return proc, summary


def query(url: str, sql: str) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_run_completes_every_stage_and_the_summary_matches_the_stores(tmp_path, pg_url, mongo_db):
    data = tmp_path / "data"
    generate_dataset(data, scale=0.03, seed=7)
    proc, summary = run_pipeline(data, tmp_path / "reports", pg_url, mongo_db)

    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert [s["name"] for s in summary["stages"]] == STAGES
    assert {s["name"]: s["status"] for s in summary["stages"]} == dict.fromkeys(STAGES, "completed")
    overview = summary["overview"]

    # rows per file: what the summary says equals the ledger, and read = loaded + quarantined
    ledger = {
        f: (r, l, q)
        for f, r, l, q in query(
            pg_url,
            "select source_file, lines_read, rows_loaded, rows_quarantined "
            "from audit.load_batches where status = 'loaded'",
        )
    }
    assert {
        f["file"]: (f["lines_read"], f["rows_loaded"], f["rows_quarantined"])
        for f in overview["files"]
    } == ledger
    for read, loaded, quarantined in ledger.values():
        assert read == loaded + quarantined
    sessions_in_file = sum(1 for _ in (data / "viewing_sessions.csv").open()) - 1
    assert ledger["viewing_sessions.csv"][0] == sessions_in_file

    # dbt and GX figures are the tools' own
    assert overview["dbt"]["status"] == "success" and overview["dbt"]["tests_failed"] == 0
    assert overview["dbt"]["models"] > 20
    for stage in ("raw", "marts"):
        counts = overview["great_expectations"][stage]
        assert (
            counts["failed_errors"] == 0
            and counts["evaluated"] == counts["succeeded"] + counts["failed_warnings"]
        )

    # Mongo: one document per user and per title, as the summary claims
    uri, db_name = mongo_db
    with pymongo.MongoClient(uri) as client:
        db = client[db_name]
        docs = {
            name: db[name].count_documents({}) for name in ("user_analytics", "content_analytics")
        }
    ((users,),) = query(pg_url, "select count(*) from core.users")
    ((titles,),) = query(pg_url, "select count(*) from core.content")
    assert docs == {"user_analytics": users, "content_analytics": titles}
    assert {k: overview["mongo_documents"][k] for k in docs} == docs

    # statistics: the run id in the summary is the latest persisted run
    ((latest,),) = query(pg_url, "select run_id::text from analysis.latest_run")
    assert overview["statistics"]["run_id"] == latest

    # outputs exist where the summary says
    report = Path(summary["outputs"]["HTML report"])
    assert report.exists() and report.stat().st_size > 10_000
    extracts = Path(summary["outputs"]["Tableau extracts"])
    # One extract per mart a dashboard reads: the rpt_ marts (not the MongoDB sync models).
    dashboards = query(
        pg_url,
        "select table_name from information_schema.tables "
        "where table_schema = 'marts' and table_name like 'rpt%'",
    )
    assert sorted(p.stem for p in extracts.glob("*.hyper")) == sorted(r[0] for r in dashboards)
    page = Path(summary["outputs"]["Dashboards"])
    assert page.exists() and page.stat().st_size > 1_000_000  # plotly.js inlined
    assert "HTML report" in proc.stdout and "Dashboards" in proc.stdout
    assert "run_summary.json" in proc.stdout


@pytest.mark.parametrize("defect", ["malformed user id"])
def test_failed_raw_gate_builds_dbt_but_publishes_nothing(tmp_path, pg_url, mongo_db, defect):
    data = tmp_path / "data"
    generate_dataset(data, scale=0.01, seed=3)
    sessions = data / "viewing_sessions.csv"
    lines = sessions.read_text().splitlines(keepends=True)
    fields = lines[5].split(",")
    # A user_id outside the export's U + 4 digits pattern: it parses, so it lands in raw, and the
    # pattern is the raw gate's rule (GX owns arrival checks dbt has no rule for; value ranges
    # such as a negative duration are staging's, which quarantines them without a gate).
    fields[1] = "U-12"
    lines[5] = ",".join(fields)
    sessions.write_text("".join(lines))

    proc, summary = run_pipeline(data, tmp_path / "reports", pg_url, mongo_db)

    assert proc.returncode == 1
    status = {s["name"]: s for s in summary["stages"]}
    assert status["ingest"]["status"] == "completed"
    assert status["validate-raw"]["status"] == "failed"
    assert "user_id" in status["validate-raw"]["message"]
    assert status["transform"]["status"] == "completed"  # staging quarantines the row
    for stage in ("publish", "analyze", "export-tableau", "dashboards"):
        assert status[stage]["status"] == "skipped"
        assert "validate-raw" in status[stage]["message"]
    assert "skipped" in proc.stdout
    ((quarantined,),) = query(
        pg_url,
        "select count(*) from audit.all_quarantine where reason_code = 'unknown_user_id' "
        "and field = 'user_id' and source_line = 6",
    )
    assert quarantined == 1
    uri, db_name = mongo_db
    with pymongo.MongoClient(uri) as client:
        assert client[db_name].list_collection_names() == []  # nothing published
    assert not (tmp_path / "reports" / "report.html").exists()


def api(url: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium() -> str:
    """The Chromium binary, or a failure that says how to install it (never a silent skip)."""
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is required: run `make chromium` (apt-get install chromium)")
    return found


# What each stage's status in run_summary.json is, as a task run state on the server.
STATE_OF = {"completed": "COMPLETED", "failed": "FAILED", "skipped": "PENDING"}  # NotReady


def task_run_states(api_url: str, flow_run_id: str) -> dict[str, str]:
    rows = api(
        f"{api_url}/task_runs/filter",
        {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200},
    )
    # A task run is named <stage>-<3 characters>; the ingest subflow's own task run is skipped.
    return {
        row["name"].rsplit("-", 1)[0]: row["state_type"]
        for row in rows
        if re.fullmatch(r".+-[0-9a-z]{3}", row["name"])
    }


def test_both_runs_are_listed_on_the_prefect_server_with_a_task_run_per_stage(
    service_urls, tmp_path
):
    if len(RUNS) < 2:
        pytest.skip("needs the two `streamlytics run`s of the tests above")
    api_url = service_urls["prefect"]
    for flow_run_id, summary in RUNS:
        flow_run = api(f"{api_url}/flow_runs/{flow_run_id}")
        assert api(f"{api_url}/flows/{flow_run['flow_id']}")["name"] == "streamlytics-pipeline"
        expected = {s["name"]: STATE_OF[s["status"]] for s in summary["stages"]}
        deadline = time.monotonic() + 60  # the server records task run states from events
        while (states := task_run_states(api_url, flow_run_id)) != expected:
            assert time.monotonic() < deadline, f"task runs on the server: {states}"
            time.sleep(1)
        assert flow_run["state_type"] == (
            "COMPLETED" if summary["status"] == "completed" else "FAILED"
        )

    from playwright.sync_api import sync_playwright

    ui = api_url.removesuffix("/api")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            # Each run's own page in the UI: its name, then its task runs, one per stage. (The
            # Runs page lists the newest runs first and pages them: after a whole suite's stage
            # commands, which report to the same server, the two are not always on its first
            # screen, so the test does not depend on the page size.)
            for flow_run_id, _ in RUNS:
                name = api(f"{api_url}/flow_runs/{flow_run_id}")["name"]
                page.goto(f"{ui}/runs/flow-run/{flow_run_id}")
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
                page.get_by_text("Task Runs", exact=True).first.click(timeout=60_000)
                for stage in STAGES:
                    page.get_by_text(re.compile(rf"^{stage}-[0-9a-z]{{3}}$")).first.wait_for(
                        timeout=60_000
                    )
        except Exception:
            page.screenshot(path=str(tmp_path / "prefect-ui.png"), full_page=True)
            print(f"screenshot of the page: {tmp_path / 'prefect-ui.png'}")
            raise
        finally:
            browser.close()
