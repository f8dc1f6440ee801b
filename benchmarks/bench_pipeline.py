"""End-to-end pipeline benchmark: per stage wall time, rows/s and peak RSS, next to its baselines.

    .venv/bin/python benchmarks/bench_pipeline.py                      # scales 1, 10 and 45
    .venv/bin/python benchmarks/bench_pipeline.py --scales 1 --stages all

For each scale: the generator writes a clean data set (seed 42), a fresh database is created on
the project's PostgreSQL (and a fresh database on its MongoDB), and each stage runs in a child
process of its own, in pipeline order. Per stage: wall time, rows/s (input session records per
second, the one volume every stage scales with), peak RSS of the stage's process tree (the sum
of the resident sets of the child and its children - dbt runs as a grandchild - polled every
50 ms, and never below the child's own kernel high-water mark), and the load average when it
started and ended (the machine is shared: compare CPU-bound figures only between quiet runs).
The database servers' own memory is not counted (PostgreSQL has 512 MB of shared_buffers).

Side by side, in the same run and on the same files:
(a) raw COPY: users.csv and viewing_sessions.csv streamed as-is into plain typed tables (same
    column types, no lineage, no checks; tables created and committed beforehand, so WAL is
    written exactly as for the ingest) - the physical limit of this machine;
(b) the seed's loader: csv.reader + psycopg2.extras.execute_values in batches of 500 into the
    same plain tables, one commit at the end (scale 1 only: it is the slow path);
(c) an incremental day: a new file viewing_sessions_2024-09-01.csv holding one average day of
    sessions (every k-th session of the log, k = its number of days) under new session ids,
    dated 2024-09-01; the same stages run
    again (ingest appends one batch, users/content are skipped; dbt's incremental
    core.viewing_sessions inserts only the new rows), as a fraction of the full run.

Stages: all seven of ``streamlytics run`` by default (ingest, validate-raw, transform = dbt build
of the whole project, validate-marts, publish, analyze, export-tableau); ``--stages`` picks some.
End-to-end is measured the way a user runs it: ``streamlytics run`` (the whole Prefect flow, stages
side by side where the DAG allows) on a second fresh database, once on the files and once more
after the new day (``--no-end-to-end`` skips it). The stages run one by one are also summed, and
the data path alone (ingest + transform + publish). Prefect's own start-up is measured once,
apart, as "prefect start".

Output: a markdown table on stdout and in benchmarks/results/<name>.md, all figures in
benchmarks/results/<name>.json (``--name``, default pipeline_latest). Generated data is removed
after each scale unless ``--keep-data``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from _common import RESULTS_DIR, write_results

HERE = Path(__file__).resolve()
ALL_STAGES = (
    "ingest",
    "validate-raw",
    "transform",
    "validate-marts",
    "publish",
    "analyze",
    "export-tableau",
)
DATA_PATH_STAGES = ("ingest", "transform", "publish")  # the stages that move the rows
NEW_DAY = "2024-09-01"
NEW_DAY_FILE = f"viewing_sessions_{NEW_DAY}.csv"
SEED_BATCH = 500
POLL_SECONDS = 0.05

PLAIN_TABLES = {
    "users": """create table {schema}.users (
        user_id text not null, age integer not null, country text not null,
        subscription_type text not null, registration_date date not null,
        total_watch_time_hours numeric not null)""",
    "viewing_sessions": """create table {schema}.viewing_sessions (
        session_id text not null, user_id text not null, content_id text not null,
        watch_date date not null, watch_duration_minutes integer not null,
        completion_percentage numeric not null, device_type text not null, quality_level text not null)""",
    "content": "create table {schema}.content (document jsonb not null)",
}

# The floor's second half: the answers the pipeline exists for (the course questions and the
# per-user features), as plain SQL over the core's session log. What the build costs above
# these plus the raw COPY is what its layers, checks and copies cost.
FLOOR_QUERIES = {
    "device x completion": """
        select device_type, count(*), avg(completion_percentage),
            avg(case when completion_percentage >= 90 then 1.0 else 0.0 end)
        from core.viewing_sessions group by device_type""",
    "month": """
        select date_trunc('month', watch_date), count(*), count(distinct user_id),
            sum(watch_minutes), avg(completion_percentage)
        from core.viewing_sessions group by 1""",
    "weekday": """
        select extract(isodow from watch_date), count(*), sum(watch_minutes),
            avg(completion_percentage)
        from core.viewing_sessions group by 1""",
    "plan": """
        select u.subscription_type, count(*), count(distinct s.user_id), sum(s.watch_minutes),
            avg(s.completion_percentage)
        from core.viewing_sessions as s join core.users as u on s.user_id = u.user_id
        group by u.subscription_type""",
    "top 5 by country": """
        select * from (
            select country, content_id, minutes,
                row_number() over (partition by country order by minutes desc, content_id) as rank
            from (
                select u.country, s.content_id, sum(s.watch_minutes) as minutes
                from core.viewing_sessions as s join core.users as u on s.user_id = u.user_id
                group by u.country, s.content_id
            ) as per_title
        ) as ranked
        where rank <= 5""",
    "per-user totals": """
        select user_id, count(*), sum(watch_minutes), avg(completion_percentage),
            count(distinct content_id), min(watch_date), max(watch_date)
        from core.viewing_sessions group by user_id""",
}


# =========================================================================== child side
def _own_peak_mb() -> float:
    """This process's high-water RSS (VmHWM: unlike ru_maxrss, not inherited across fork+exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child_stage(stage: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one pipeline stage against the database in DATABASE_URL; return what it reports."""
    from dataclasses import replace

    from streamlytics.config import settings

    url, data, work = os.environ["DATABASE_URL"], Path(args["data"]), Path(args["work"])
    mongo_uri, mongo_db = os.environ["MONGODB_URI"], os.environ["MONGODB_DB"]
    if stage == "ingest":
        from streamlytics.ingest import ingest_directory

        report = ingest_directory(data, url)
        return {
            "files": [
                {
                    "file": f.file,
                    "status": f.status,
                    "read": f.lines_read,
                    "loaded": f.rows_loaded,
                    "quarantined": f.rows_quarantined,
                    "seconds": round(f.seconds, 3),
                }
                for f in report.files
            ]
        }
    if stage == "transform":
        from streamlytics.transform import run_build

        result = run_build(
            target_path=work / "target",
            log_path=work / "logs",
            cfg=replace(settings(), database_url=url),
        )
        run_results = json.loads(Path(result.run_results_path).read_text())
        node = next(
            (
                r
                for r in run_results["results"]
                if r["unique_id"] == "model.streamlytics.viewing_sessions"
            ),
            None,
        )
        summary = result.summary()
        return {
            "ok": result.ok,
            "models": summary["models"],
            "tests_passed": summary["tests_passed"],
            "failures": [f["name"] for f in summary["failures"]],
            "core_viewing_sessions": None
            if node is None
            else {
                "seconds": round(node["execution_time"], 2),
                "rows_inserted": (node.get("adapter_response") or {}).get("rows_affected"),
            },
        }
    if stage in ("validate-raw", "validate-marts"):
        from streamlytics.validation import run_validation

        report = run_validation(stage.split("-")[1], database_url=url, reports_dir=work / "reports")
        return {"passed": report.passed}
    if stage == "publish":
        from mongo.stage import run_publish_stage

        return run_publish_stage(url, mongo_uri, mongo_db).summary()
    if stage == "analyze":
        from python_models.analyze import run_analysis

        # The statistics find the dbt models through the manifest of the transform stage's build.
        os.environ["DBT_TARGET_PATH"] = str(work / "target")
        head = run_analysis(
            url, mongo_uri, mongo_db, run_results=work / "target" / "run_results.json"
        )
        return {"seconds_reported": head.get("seconds")}
    if stage == "export-tableau":
        from streamlytics.consumers.tableau import export_marts, row_counts

        return {"rows": row_counts(export_marts(work / "tableau", url))}
    if stage == "raw-copy":
        return child_raw_copy(url, data, args["schema"])
    if stage == "floor-queries":
        return child_floor_queries(url)
    if stage == "seed-execute-values":
        return child_seed_loader(url, data, args["schema"])
    if stage == "streamlytics-run":
        # What a user runs: the whole Prefect flow, in the CLI's own process (its children counted).
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("streamlytics")), "run", "--data-dir", str(data)],
            check=False,  # a failed run is reported with its output below
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(proc.returncode)
        summary = json.loads((work / "reports" / "run_summary.json").read_text())
        return {
            "status": summary["status"],
            "peak_rss_mb_reported": summary.get("peak_rss_mb"),
            "dbt_nodes": dbt_node_profile(settings().dbt_project_dir / "target"),
            "stages": {
                st["name"]: {"status": st["status"], "seconds": st["seconds"]}
                for st in summary["stages"]
            },
        }
    if stage == "prefect-start":
        from prefect import flow

        @flow(name="bench-empty")
        def empty() -> int:
            return 1

        return {"result": empty()}
    raise SystemExit(f"unknown stage {stage!r}")


def dbt_node_profile(target: Path, top: int = 25) -> dict[str, Any]:
    """The dbt build's own account of where its time went: the slowest nodes of run_results.json
    and the sum over all nodes (above the wall time when threads overlap)."""
    path = target / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())["results"]
    ranked = sorted(results, key=lambda r: -r["execution_time"])
    return {
        "nodes": len(results),
        "sum_seconds": round(sum(r["execution_time"] for r in results), 1),
        "slowest": [
            {"node": r["unique_id"].split(".", 2)[-1], "seconds": round(r["execution_time"], 2)}
            for r in ranked[:top]
        ],
    }


def child_raw_copy(url: str, data: Path, schema: str) -> dict[str, Any]:
    """COPY the exports as they are into plain typed tables: the machine's floor.

    The CSVs go through COPY; content.json (one pretty-printed document) lands as one jsonb value.
    """
    import psycopg2

    conn = psycopg2.connect(url)
    out = {}
    for table in ("users", "viewing_sessions"):
        started = time.perf_counter()
        with conn.cursor() as cur, (data / f"{table}.csv").open("rb") as f:
            cur.copy_expert(
                f"copy {schema}.{table} from stdin with (format csv, header true)", f, size=1 << 20
            )
            rows = cur.rowcount
        conn.commit()
        out[table] = {"rows": rows, "seconds": round(time.perf_counter() - started, 3)}
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(
            f"insert into {schema}.content values (%s::jsonb)",
            ((data / "content.json").read_text(encoding="utf-8"),),
        )
    conn.commit()
    out["content"] = {"rows": 1, "seconds": round(time.perf_counter() - started, 3)}
    conn.close()
    return out


def child_floor_queries(url: str) -> dict[str, Any]:
    """FLOOR_QUERIES on the core's session log, one after another; seconds each (rows fetched)."""
    import psycopg2

    conn = psycopg2.connect(url)
    out = {}
    with conn.cursor() as cur:
        for name, sql in FLOOR_QUERIES.items():
            started = time.perf_counter()
            cur.execute(sql)
            rows = len(cur.fetchall())
            out[name] = {"rows": rows, "seconds": round(time.perf_counter() - started, 3)}
    conn.close()
    return out


def child_seed_loader(url: str, data: Path, schema: str) -> dict[str, Any]:
    """The seed's way: rows parsed in Python, INSERTed with execute_values, 500 per statement."""
    import psycopg2
    from psycopg2.extras import execute_values

    conn = psycopg2.connect(url)
    out = {}
    for table in ("users", "viewing_sessions"):
        started = time.perf_counter()
        rows = 0
        with conn.cursor() as cur, (data / f"{table}.csv").open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            batch: list[list[str]] = []
            for record in reader:
                batch.append(record)
                if len(batch) == SEED_BATCH:
                    execute_values(
                        cur, f"insert into {schema}.{table} values %s", batch, page_size=SEED_BATCH
                    )
                    rows += len(batch)
                    batch = []
            if batch:
                execute_values(
                    cur, f"insert into {schema}.{table} values %s", batch, page_size=SEED_BATCH
                )
                rows += len(batch)
        conn.commit()
        out[table] = {"rows": rows, "seconds": round(time.perf_counter() - started, 3)}
    conn.close()
    return out


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of every descendant it reaped."""
    import resource

    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child_main(stage: str, args_json: str) -> int:
    result = child_stage(stage, json.loads(args_json))
    print(
        json.dumps(
            {
                "result": result,
                "own_peak_mb": _own_peak_mb(),
                "children_peak_mb": _children_peak_mb(),
                "cpu_seconds": _cpu_seconds(),
            },
            default=str,
        )
    )
    return 0


# =========================================================================== driver side
@dataclass
class StageRun:
    stage: str
    status: str  # ok | failed
    seconds: float
    peak_rss_mb: float
    rows_per_second: float | None
    load_before: float
    load_after: float
    result: Any = None
    error: str = ""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds the stage cost: ``client`` (its process tree) and each embedded server's
    (see servers_cpu_seconds); empty when the stage failed."""


@dataclass
class ScaleRun:
    scale: float
    sessions: int
    users: int
    titles: int
    sessions_mb: float
    generate_seconds: float
    started_at: str = ""
    stages: list[StageRun] = field(default_factory=list)
    raw_copy: dict[str, Any] = field(default_factory=dict)
    seed_loader: dict[str, Any] | None = None
    incremental: list[StageRun] = field(default_factory=list)
    incremental_rows: int = 0
    run_full: StageRun | None = None
    run_incremental: StageRun | None = None
    floor_queries: StageRun | None = None
    comparisons: dict[str, Any] = field(default_factory=dict)


def process_tree(pid: int) -> list[Any]:
    """Process ``pid`` and its live descendants (psutil processes, ``pid``'s first); empty when
    it has ended."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss_mb(pid: int) -> float:
    import psutil

    total = 0
    for proc in process_tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / (1 << 20)


def servers_cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) each server has used so far, by service: its own process,
    the children it has reaped (PostgreSQL's ended backends) and its live descendants.

    Measured before and after a stage, the differences are what the stage cost the servers (a
    shared server also serves whatever else ran meanwhile: the load columns say how busy the
    machine was).
    """
    import psutil

    out: dict[str, float] = {}
    for name, pid in pids.items():
        tree = process_tree(pid)
        if not tree:
            continue
        root, *live = tree
        try:
            times = root.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total = times.user + times.system + times.children_user + times.children_system
        for child in live:
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:  # reaped since: its time is in the root's children_*
                continue
            total += child_times.user + child_times.system
        out[name] = total
    return out


def kill_tree(pid: int) -> None:
    import psutil

    tree = process_tree(pid)
    for proc in tree[1:] + tree[:1]:  # the children first
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def run_stage(
    stage: str,
    args: dict[str, Any],
    env: dict[str, str],
    rows: int | None,
    max_rss_mb: float = float("inf"),
) -> StageRun:
    """Run one stage in a child process; wall time, polled tree RSS, load averages.

    A stage whose process tree grows beyond ``max_rss_mb`` is killed (the machine is shared,
    and has no swap: the OOM killer could otherwise pick a database server) and reported so.
    """
    from streamlytics.services import server_pids

    servers = server_pids()
    servers_before = servers_cpu_seconds(servers)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(HERE), "_child", stage, json.dumps(args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0.0
    done = threading.Event()
    over: list[float] = []

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(child.pid))
            if peak > max_rss_mb and not over:
                over.append(peak)
                kill_tree(child.pid)
            time.sleep(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    stdout, stderr = child.communicate()
    seconds = time.perf_counter() - started
    done.set()
    poller.join()
    load_after = os.getloadavg()[0]
    if over:
        message = f"killed after {seconds:.0f} s: its processes held {over[0]:,.0f} MB, above the {max_rss_mb:,.0f} MB guard"
        print(f"    {stage}: {message}", flush=True)
        return StageRun(
            stage,
            "killed",
            round(seconds, 2),
            round(peak, 1),
            None,
            load_before,
            load_after,
            error=message,
        )
    if child.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        print(f"    {stage}: FAILED (exit {child.returncode})\n{tail}", flush=True)
        return StageRun(
            stage,
            "failed",
            round(seconds, 2),
            round(peak, 1),
            None,
            load_before,
            load_after,
            error=tail,
        )
    report = json.loads(stdout.strip().splitlines()[-1])
    peak = max(peak, report["own_peak_mb"], report["children_peak_mb"])
    rate = rows / seconds if rows else None
    servers_after = servers_cpu_seconds(servers)
    cpu = {"client": round(report["cpu_seconds"], 1)} | {
        name: round(servers_after[name] - before, 1)
        for name, before in servers_before.items()
        if name in servers_after
    }
    run = StageRun(
        stage,
        "ok",
        round(seconds, 2),
        round(peak, 1),
        rate and round(rate),
        load_before,
        load_after,
        report["result"],
        cpu=cpu,
    )
    print(
        f"    {stage:<20} {seconds:8.2f} s  {peak:7.0f} MB  load {load_before:.1f}->{load_after:.1f}"
        f"  CPU {sum(cpu.values()):.0f} s ({', '.join(f'{k} {v:.0f}' for k, v in cpu.items())})",
        flush=True,
    )
    return run


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(mem_kb / (1 << 20), 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def postgres_info(url: str) -> dict[str, Any]:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "select current_setting('server_version'), current_setting('shared_buffers'), "
            "current_setting('synchronous_commit'), current_setting('wal_level')"
        )
        version, buffers, sync, wal = cur.fetchone()
    conn.close()
    return {
        "version": version,
        "shared_buffers": buffers,
        "synchronous_commit": sync,
        "wal_level": wal,
    }


def admin_execute(admin_url: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def create_plain_tables(url: str, schema: str) -> None:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"create schema {schema}")
        for ddl in PLAIN_TABLES.values():
            cur.execute(ddl.format(schema=schema))
    conn.close()


def add_new_day(data: Path) -> int:
    """Write NEW_DAY_FILE: one average day of sessions, dated NEW_DAY, under new session ids.

    The rows are every k-th session of the data set (k = number of days in the log), so the
    new day has the usual mix of users, titles, devices and durations; returns its row count.
    """
    sessions = data / "viewing_sessions.csv"
    with sessions.open(encoding="utf-8") as f:
        header = f.readline()
        lines = f.readlines()
    days = len({line.split(",", 4)[3] for line in lines})
    picked = lines[::days]
    width = len(lines[0].split(",", 1)[0]) - 1
    first = len(lines) + 1
    with (data / NEW_DAY_FILE).open("w", encoding="utf-8") as out:
        out.write(header)
        for i, line in enumerate(picked):
            fields = line.split(",")
            fields[0] = f"S{first + i:0{width}d}"
            fields[3] = NEW_DAY
            out.write(",".join(fields))
    return len(picked)


def bench_scale(
    scale: float,
    stages: tuple[str, ...],
    admin_url: str,
    mongo_uri: str,
    workdir: Path,
    keep_data: bool,
    max_rss_mb: float,
    save: Callable[[ScaleRun], None],
    end_to_end: bool = True,
) -> ScaleRun:
    """Every stage, the baselines and the incremental day at one scale; ``save`` is called after
    each step, so an interrupted run keeps what it measured."""
    from streamlytics.generate import generate_dataset
    from streamlytics.services import pg_variables

    data, work = workdir / f"scale-{scale:g}" / "data", workdir / f"scale-{scale:g}" / "work"
    work.mkdir(parents=True, exist_ok=True)
    print(f"scale {scale:g}: generating ...", flush=True)
    started = time.perf_counter()
    summary = generate_dataset(data, scale=scale, seed=42)
    run = ScaleRun(
        scale,
        summary["sessions"],
        summary["users"],
        summary["movies"] + summary["series"],
        round((data / "viewing_sessions.csv").stat().st_size / 1e6, 1),
        round(time.perf_counter() - started, 1),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    print(
        f"  {run.sessions:,} sessions ({run.sessions_mb:,.0f} MB) in {run.generate_seconds} s",
        flush=True,
    )
    db_name = f"bench_pipeline_{uuid.uuid4().hex[:8]}"
    admin_execute(admin_url, f'create database "{db_name}"')
    url = with_database(admin_url, db_name)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        **pg_variables(url),
        "MONGODB_URI": mongo_uri,
        "MONGODB_DB": db_name,
        "STREAMLYTICS_REPORTS_DIR": str(work / "reports"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    args = {"data": str(data), "work": str(work)}
    # `streamlytics run` gets a database (and Mongo database) of its own, so it starts from nothing too.
    run_db = f"{db_name}_run"
    run_url = with_database(admin_url, run_db)
    run_work = work.parent / "work-run"
    run_env = {
        **env,
        "DATABASE_URL": run_url,
        **pg_variables(run_url),
        "MONGODB_DB": run_db,
        "STREAMLYTICS_REPORTS_DIR": str(run_work / "reports"),
    }
    run_args = {"data": str(data), "work": str(run_work)}
    try:
        print("  full run", flush=True)
        for stage in stages:
            run.stages.append(run_stage(stage, args, env, run.sessions, max_rss_mb))
            save(run)
        create_plain_tables(url, "bench_copy")
        print("  baselines", flush=True)
        copy = run_stage("raw-copy", {**args, "schema": "bench_copy"}, env, run.sessions)
        run.raw_copy = {
            "seconds": copy.seconds,
            "peak_rss_mb": copy.peak_rss_mb,
            "files": copy.result,
        }
        if scale == 1:
            create_plain_tables(url, "bench_seed")
            seed = run_stage(
                "seed-execute-values", {**args, "schema": "bench_seed"}, env, run.sessions
            )
            run.seed_loader = {
                "seconds": seed.seconds,
                "peak_rss_mb": seed.peak_rss_mb,
                "files": seed.result,
            }
        admin_execute(
            url,
            "drop schema bench_copy cascade; drop schema if exists bench_seed cascade; checkpoint",
        )
        save(run)
        if end_to_end:
            print("  streamlytics run (the whole flow, one process)", flush=True)
            admin_execute(admin_url, f'create database "{run_db}"')
            run.run_full = run_stage(
                "streamlytics-run", run_args, run_env, run.sessions, max_rss_mb
            )
            save(run)
        # The floor's queries read the core the full build just wrote (before the new day).
        floor_env = run_env if end_to_end else env
        if end_to_end or "transform" in stages:
            print("  floor: the essential aggregations as plain SQL", flush=True)
            run.floor_queries = run_stage("floor-queries", args, floor_env, run.sessions)
            save(run)
        run.incremental_rows = add_new_day(data)
        print(f"  incremental day: {run.incremental_rows:,} new sessions", flush=True)
        for stage in stages:
            run.incremental.append(run_stage(stage, args, env, run.incremental_rows, max_rss_mb))
            save(run)
        if end_to_end:
            print("  streamlytics run after the new day", flush=True)
            run.run_incremental = run_stage(
                "streamlytics-run", run_args, run_env, run.incremental_rows, max_rss_mb
            )
        run.comparisons = compare(run)
    finally:
        admin_execute(admin_url, f'drop database if exists "{db_name}" with (force)')
        admin_execute(admin_url, f'drop database if exists "{run_db}" with (force)')
        _drop_mongo(mongo_uri, db_name)
        _drop_mongo(mongo_uri, run_db)
        if not keep_data:
            shutil.rmtree(data.parent, ignore_errors=True)
    return run


def _drop_mongo(uri: str, name: str) -> None:
    import pymongo

    with pymongo.MongoClient(uri) as client:
        client.drop_database(name)


def compare(run: ScaleRun) -> dict[str, Any]:
    """The figures the targets are about."""
    out: dict[str, Any] = {}
    full = sum(s.seconds for s in run.stages)
    if run.stages:  # --stages none: only the baselines and `streamlytics run`
        out["end_to_end_seconds"] = round(full, 2)
        out["data_path_seconds"] = round(
            sum(s.seconds for s in run.stages if s.stage in DATA_PATH_STAGES), 2
        )
        out["end_to_end_ok"] = all(s.status == "ok" for s in run.stages)
        out["peak_rss_mb"] = max(s.peak_rss_mb for s in run.stages)
    ingest = next((s for s in run.stages if s.stage == "ingest" and s.status == "ok"), None)
    copy_files = run.raw_copy.get("files") or {}
    if ingest is not None and copy_files:
        sessions_file = next(
            f for f in ingest.result["files"] if f["file"] == "viewing_sessions.csv"
        )
        copy_sessions = copy_files["viewing_sessions"]["seconds"]
        copy_csvs = copy_sessions + copy_files["users"]["seconds"]
        # Throughput ratios (>= 0.8 is the target): raw COPY time over ingest time.
        out["ingest_vs_raw_copy_sessions_file"] = round(copy_sessions / sessions_file["seconds"], 2)
        out["ingest_vs_raw_copy_stage"] = round(copy_csvs / ingest.seconds, 2)
        out["raw_copy_sessions_rows_per_s"] = round(run.sessions / copy_sessions)
        out["ingest_sessions_file_rows_per_s"] = round(run.sessions / sessions_file["seconds"])
    if run.seed_loader and ingest is not None:
        seed_sessions = run.seed_loader["files"]["viewing_sessions"]["seconds"]
        out["seed_loader_sessions_rows_per_s"] = round(run.sessions / seed_sessions)
        out["ingest_speedup_over_seed_loader"] = round(
            seed_sessions
            / next(f for f in ingest.result["files"] if f["file"] == "viewing_sessions.csv")[
                "seconds"
            ],
            1,
        )
    if run.incremental and run.stages:
        incremental = sum(s.seconds for s in run.incremental)
        out["incremental_seconds"] = round(incremental, 2)
        out["incremental_fraction"] = round(incremental / full, 3) if full else None
        transform = [s for s in run.incremental if s.stage == "transform" and s.status == "ok"]
        full_transform = [s for s in run.stages if s.stage == "transform" and s.status == "ok"]
        if transform and full_transform:
            out["incremental_core_viewing_sessions"] = transform[0].result["core_viewing_sessions"]
            out["full_core_viewing_sessions"] = full_transform[0].result["core_viewing_sessions"]
            out["incremental_transform_fraction"] = round(
                transform[0].seconds / full_transform[0].seconds, 3
            )
    floor = None
    if copy_files and run.floor_queries is not None and run.floor_queries.status == "ok":
        copy_seconds = sum(f["seconds"] for f in copy_files.values())
        query_seconds = sum(q["seconds"] for q in run.floor_queries.result.values())
        floor = copy_seconds + query_seconds
        out["floor_copy_seconds"] = round(copy_seconds, 2)
        out["floor_query_seconds"] = round(query_seconds, 2)
        out["floor_seconds"] = round(floor, 2)
    if run.run_full is not None and run.run_full.status == "ok":
        if floor:
            out["streamlytics_run_vs_floor"] = round(run.run_full.seconds / floor, 1)
            if run.run_incremental is not None and run.run_incremental.status == "ok":
                out["streamlytics_run_incremental_vs_floor"] = round(
                    run.run_incremental.seconds / floor, 2
                )
        out["streamlytics_run_seconds"] = run.run_full.seconds
        out["streamlytics_run_peak_rss_mb"] = run.run_full.peak_rss_mb
        if run.run_incremental is not None and run.run_incremental.status == "ok":
            out["streamlytics_run_incremental_seconds"] = run.run_incremental.seconds
            out["streamlytics_run_incremental_fraction"] = round(
                run.run_incremental.seconds / run.run_full.seconds, 3
            )
    return out


# --------------------------------------------------------------------------- report
CPU_PARTS = ("client", "postgres", "mongo", "prefect")


def cpu_table(results: dict[str, Any]) -> list[str]:
    """Where the CPU of each `streamlytics run` went, and the wall time that CPU allows."""
    cores = results["machine"]["nproc"] or 1
    rows = []
    for run in results["scales"]:
        for label, s in (("fresh", run.get("run_full")), ("+1 day", run.get("run_incremental"))):
            if not s or not s.get("cpu"):
                continue
            cpu = s["cpu"]
            total = sum(cpu.values())
            parts = " | ".join(f"{cpu[p]:.1f}" if p in cpu else "-" for p in CPU_PARTS)
            rows.append(
                f"| {run['scale']:g} | {label} | {s['seconds']:.1f} | {parts} | {total:.1f} "
                f"| {total / cores:.1f} | {total / (cores * s['seconds']):.0%} |"
            )
    if not rows:
        return []
    return [
        "",
        (
            f"Where the CPU of `streamlytics run` went, in core-seconds: the CLI's process tree "
            f"(client: the flow, dbt, Great Expectations, publish, the statistics and their model "
            f"worker) and each embedded server. On {cores} cores no schedule finishes in less wall "
            f"time than total / {cores} (the CPU floor); busy = total / ({cores} × wall)."
        ),
        "",
        (
            "| scale | run | wall s | client | PostgreSQL | MongoDB (nx-27017) | Prefect server "
            "| total core-s | CPU floor s | busy |"
        ),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Pipeline benchmark, {results['started_at'][:16].replace('T', ' ')} UTC",
        "",
        (
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Linux {m['kernel']}, Python {m['python']}; "
            f"PostgreSQL {results['postgres']['version']} (shared_buffers {results['postgres']['shared_buffers']}, "
            f"synchronous_commit {results['postgres']['synchronous_commit']}). Load average at start "
            f"{results['load_average_start']}, at end {results.get('load_average_end', '(running)')} (a shared machine: other "
            f"engineers' tests were running)."
        ),
        "",
    ]
    if results.get("prefect_start"):
        p = results["prefect_start"]
        lines += [
            (
                f"Prefect start-up (an empty flow in a fresh process, own PREFECT_HOME), added by "
                f"`streamlytics run` on top of the stages: {p['seconds']} s, {p['peak_rss_mb']:.0f} MB."
            ),
            "",
        ]
    lines += [
        "The targets: `streamlytics run` on a fresh database, and again after one more day,",
        "against the floor measured in the same run (raw COPY of the three files + the essential",
        "aggregations as plain SQL on core.viewing_sessions). Largest process = run_summary.json's",
        "`peak_rss_mb`; tree = the CLI's whole process tree (forked children share pages). Database",
        "servers not counted.",
        "",
        (
            "| scale | sessions | floor s (COPY + queries) | `streamlytics run` s | × floor "
            "| +1 day s | +1 day / full | largest process MB | tree MB "
            "| load before→after (run; +1 day) |"
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in results["scales"]:
        c, full, inc = run["comparisons"], run.get("run_full"), run.get("run_incremental")
        floor = (
            f"{c['floor_seconds']} ({c['floor_copy_seconds']} + {c['floor_query_seconds']})"
            if "floor_seconds" in c
            else "-"
        )
        loads = "; ".join(f"{s['load_before']:.1f}→{s['load_after']:.1f}" for s in (full, inc) if s)
        largest = (full.get("result") or {}).get("peak_rss_mb_reported") if full else None
        lines.append(
            f"| {run['scale']:g} | {run['sessions']:,} | {floor} "
            f"| {c.get('streamlytics_run_seconds', '-')} | {c.get('streamlytics_run_vs_floor', '-')} "
            f"| {c.get('streamlytics_run_incremental_seconds', '-')} "
            f"| {c.get('streamlytics_run_incremental_fraction', '-')} | {largest or '-'} "
            f"| {c.get('streamlytics_run_peak_rss_mb', '-')} | {loads or '-'} |"
        )
    lines += cpu_table(results)
    lines += [
        "",
        "| scale | sessions | stage | wall s | rows/s | peak RSS MB | load before→after |",
        "|---:|---:|---|---:|---:|---:|---|",
    ]
    for run in results["scales"]:
        rows = [
            *(("full", s) for s in run["stages"]),
            *(("incremental day", s) for s in run["incremental"]),
        ]
        for phase, s in rows:
            rate = f"{s['rows_per_second']:,}" if s["rows_per_second"] else "-"
            status = "" if s["status"] == "ok" else f" **{s['status'].upper()}**"
            label = s["stage"] if phase == "full" else f"{s['stage']} (+1 day)"
            lines.append(
                f"| {run['scale']:g} | {run['sessions']:,} | {label}{status} | {s['seconds']:.2f} | {rate} "
                f"| {s['peak_rss_mb']:.0f} | {s['load_before']:.1f}→{s['load_after']:.1f} |"
            )
        for label, s in (
            ("`streamlytics run` (whole flow)", run.get("run_full")),
            ("`streamlytics run` (+1 day)", run.get("run_incremental")),
            ("floor: essential aggregations (plain SQL)", run.get("floor_queries")),
        ):
            if s:
                status = "" if s["status"] == "ok" else f" **{s['status'].upper()}**"
                rate = f"{s['rows_per_second']:,}" if s["rows_per_second"] else "-"
                lines.append(
                    f"| {run['scale']:g} | {run['sessions']:,} | {label}{status} | {s['seconds']:.2f} | {rate} "
                    f"| {s['peak_rss_mb']:.0f} | {s['load_before']:.1f}→{s['load_after']:.1f} |"
                )
        copy = run["raw_copy"]
        if copy.get("files"):
            seconds = copy["files"]["viewing_sessions"]["seconds"]
            lines.append(
                f"| {run['scale']:g} | {run['sessions']:,} | (a) raw COPY, sessions file | {seconds:.2f} "
                f"| {run['sessions'] / seconds:,.0f} | {copy['peak_rss_mb']:.0f} | |"
            )
        if run.get("seed_loader") and run["seed_loader"].get("files"):
            seconds = run["seed_loader"]["files"]["viewing_sessions"]["seconds"]
            lines.append(
                f"| {run['scale']:g} | {run['sessions']:,} | (b) seed loader (execute_values, 500/batch), "
                f"sessions file | {seconds:.2f} | {run['sessions'] / seconds:,.0f} "
                f"| {run['seed_loader']['peak_rss_mb']:.0f} | |"
            )
    lines += [
        "",
        (
            "| scale | `streamlytics run` s | its peak RSS MB | its +1 day / full |"
            " end-to-end s (stages run one by one) | data path s (ingest+transform+publish) | peak RSS MB "
            "| ingest/raw COPY (sessions file) | ingest stage/raw COPY (CSVs) | incremental day / full run "
            "| incremental dbt / full dbt |"
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["scales"]:
        c = run["comparisons"]
        lines.append(
            f"| {run['scale']:g} | {c.get('streamlytics_run_seconds', '-')} "
            f"| {c.get('streamlytics_run_peak_rss_mb', '-')} | {c.get('streamlytics_run_incremental_fraction', '-')} "
            f"| {c.get('end_to_end_seconds', '-')} | {c.get('data_path_seconds', '-')} "
            f"| {c.get('peak_rss_mb', '-')} "
            f"| {c.get('ingest_vs_raw_copy_sessions_file', '-')} | {c.get('ingest_vs_raw_copy_stage', '-')} "
            f"| {c.get('incremental_fraction', '-')} | {c.get('incremental_transform_fraction', '-')} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        return child_main(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scales", default="1,10,45", help="comma-separated generator scales (default 1,10,45)"
    )
    parser.add_argument(
        "--stages",
        default="all",
        help=(
            "comma-separated, in pipeline order, 'all' (default: "
            f"{','.join(ALL_STAGES)}) or 'none' (baselines and `streamlytics run` only)"
        ),
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where data is generated (default: a temp dir)"
    )
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument(
        "--name", default="pipeline_latest", help="results file name in benchmarks/results/"
    )
    parser.add_argument(
        "--no-prefect", action="store_true", help="skip measuring Prefect's start-up"
    )
    parser.add_argument(
        "--max-rss-mb",
        type=float,
        default=8000,
        help="kill a stage whose processes hold more than this (default 8000: a shared machine)",
    )
    parser.add_argument(
        "--no-end-to-end",
        action="store_true",
        help="skip timing `streamlytics run` as a whole (it runs on a second database)",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add these scales to the existing results file instead of starting a new one",
    )
    args = parser.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",") if s]
    if args.stages == "all":
        stages = ALL_STAGES
    elif args.stages == "none":  # only the baselines and `streamlytics run`
        stages = ()
    else:
        stages = tuple(s for s in args.stages.split(",") if s)
    unknown = [s for s in stages if s not in ALL_STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {', '.join(ALL_STAGES)}")

    from streamlytics import services

    urls = services.up()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "postgres": postgres_info(urls["postgres"]),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "stages": list(stages),
        "max_rss_mb_guard": args.max_rss_mb,
        "scales": [],
    }
    previous = RESULTS_DIR / f"{args.name}.json"
    if args.append and previous.exists():
        # A long run in parts: keep the earlier scales (each carries its own loads and times).
        earlier = json.loads(previous.read_text())
        results["scales"] = earlier["scales"]
        results["started_at"] = earlier["started_at"]
        results["command"] = f"{earlier['command']} ; then {results['command']}"
        results["load_average_start"] = earlier["load_average_start"]
        results.setdefault("prefect_start", earlier.get("prefect_start"))
    try:
        if not args.no_prefect:
            home = workdir / "prefect-home"
            env = {
                **os.environ,
                "PREFECT_HOME": str(home),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
            }
            print("prefect start-up ...", flush=True)
            prefect = run_stage(
                "prefect-start",
                {"data": "", "work": str(workdir)},
                {**env, "MONGODB_URI": "", "MONGODB_DB": "", "DATABASE_URL": ""},
                None,
            )
            results["prefect_start"] = {
                "seconds": prefect.seconds,
                "peak_rss_mb": prefect.peak_rss_mb,
                "status": prefect.status,
            }
        for scale in scales:
            done = list(results["scales"])

            def save(partial: ScaleRun, done: list = done) -> None:
                write_results({**results, "scales": [*done, asdict(partial)]}, args.name, markdown)

            run = bench_scale(
                scale,
                stages,
                urls["postgres"],
                urls["mongo"],
                workdir,
                args.keep_data,
                args.max_rss_mb,
                save,
                end_to_end=not args.no_end_to_end,
            )
            results["scales"].append(asdict(run))
            write_results(results, args.name, markdown)
    finally:
        if args.workdir is None and not args.keep_data:
            shutil.rmtree(workdir, ignore_errors=True)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_results(results, args.name, markdown)
    print()
    print(markdown(results))
    print(f"results: {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
