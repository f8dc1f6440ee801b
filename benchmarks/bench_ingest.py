"""Ingest throughput next to a raw COPY of the same sessions file, and the loader's peak RSS.

    .venv/bin/python benchmarks/bench_ingest.py                   # scale 1 and ≈10 M sessions
    .venv/bin/python benchmarks/bench_ingest.py --scales 1 --rounds 5

For each scale, the project generator writes a clean dataset; then, in alternating order and
each in a fresh child process (so peak RSS is the loader's own):

- raw COPY: the sessions file streamed as-is into a plain typed table (the same column types,
  no lineage, no checks) with ``COPY ... FROM STDIN (FORMAT csv, HEADER)`` — the floor;
- ingest: the real thing for that file — preflight (hash, UTF-8, header, line count) plus
  ``load_source`` (validation, lineage, COPY, quarantine, ledger, invariant, commit).

Both target tables are plain (WAL-logged) tables that exist before the measured transaction,
are emptied and checkpointed between rounds, in a throwaway database on the project's server.
Figures: best and median seconds, rows/s, ingest/raw throughput ratio, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import scratch_database

SESSIONS_PER_SCALE = 222_785

RAW_TABLE = """
create table if not exists bench_raw_copy (
    session_id text not null, user_id text not null, content_id text not null,
    watch_date date not null, watch_duration_minutes integer not null,
    completion_percentage numeric not null, device_type text not null, quality_level text not null
)"""


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, unlike ru_maxrss, does not carry over the
    parent's peak across fork + exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _server_cpu(conn) -> float | None:
    """CPU seconds used so far by this connection's backend (None if the server is not local)."""
    with conn.cursor() as cur:
        cur.execute("select pg_backend_pid()")
        pid = cur.fetchone()[0]
    conn.commit()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_figures(conn, server_before: float | None, client_before: float) -> dict:
    server_after = _server_cpu(conn)
    return {
        "client_cpu": time.process_time() - client_before,
        "server_cpu": None
        if server_before is None or server_after is None
        else server_after - server_before,
    }


def child_raw_copy(url: str, path: str) -> dict:
    import psycopg2

    conn = psycopg2.connect(url)
    server_before, client_before = _server_cpu(conn), time.process_time()
    with conn.cursor() as cur, open(path, "rb") as f:
        started = time.perf_counter()
        cur.copy_expert(
            "copy bench_raw_copy from stdin with (format csv, header true)", f, size=1024 * 1024
        )
        rows = cur.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
    cpu = _cpu_figures(conn, server_before, client_before)
    conn.close()
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": _peak_rss_mb(), **cpu}


def child_ingest(url: str, path: str) -> dict:
    from streamlytics.ingest import db, load_source
    from streamlytics.ingest.checks import check_file

    conn = db.connect(url)
    server_before, client_before = _server_cpu(conn), time.process_time()
    started = time.perf_counter()
    source, problems = check_file(Path(path), "viewing_sessions")
    assert source is not None, problems
    checked = time.perf_counter()
    report = load_source(conn, source)
    seconds = time.perf_counter() - started
    cpu = _cpu_figures(conn, server_before, client_before)
    conn.close()
    assert report.status == "loaded" and report.accounted, report
    return {
        "seconds": seconds,
        "preflight_seconds": checked - started,
        "rows": report.rows_loaded,
        "quarantined": report.rows_quarantined,
        "peak_rss_mb": _peak_rss_mb(),
        **cpu,
    }


def run_child(mode: str, url: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"_{mode}", url, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def reset(url: str) -> None:
    """Empty both targets and checkpoint, so every round starts from the same state."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("truncate bench_raw_copy, raw.viewing_sessions_rows")
        cur.execute("delete from audit.quarantine")
        cur.execute("delete from audit.load_batches where file_kind = 'viewing_sessions'")
        cur.execute("checkpoint")
    conn.close()


def bench_scale(admin_url: str, scale: float, rounds: int, workdir: Path) -> dict:
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest import db

    data = workdir / f"scale-{scale:g}"
    started = time.perf_counter()
    summary = generate_dataset(data, scale=scale, seed=42)
    print(
        f"scale {scale:g}: generated {summary['sessions']:,} sessions "
        f"({(data / 'viewing_sessions.csv').stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    with scratch_database(admin_url, "bench_ingest") as url:
        conn = db.connect(url)
        db.apply_schema(conn)
        with conn, conn.cursor() as cur:
            cur.execute(RAW_TABLE)
        conn.close()
        runs: dict[str, list[dict]] = {"raw_copy": [], "ingest": []}
        for r in range(rounds):
            order = ("raw_copy", "ingest") if r % 2 == 0 else ("ingest", "raw_copy")
            for mode in order:
                reset(url)
                result = run_child(mode, url, data / "viewing_sessions.csv")
                runs[mode].append(result)
                server = "-" if result["server_cpu"] is None else f"{result['server_cpu']:.2f}"
                print(
                    f"  round {r + 1} {mode:8s} {result['seconds']:7.2f} s  "
                    f"{result['rows'] / result['seconds']:>12,.0f} rows/s  peak RSS {result['peak_rss_mb']:6.1f} MB  "
                    f"CPU s: loader {result['client_cpu']:.2f}, server {server}",
                    flush=True,
                )
    return {"scale": scale, "sessions": summary["sessions"], "runs": runs}


def summarise(result: dict) -> None:
    rows = result["sessions"]
    raw = [r["seconds"] for r in result["runs"]["raw_copy"]]
    ing = [r["seconds"] for r in result["runs"]["ingest"]]
    pre = [r["preflight_seconds"] for r in result["runs"]["ingest"]]
    rss_raw = max(r["peak_rss_mb"] for r in result["runs"]["raw_copy"])
    rss_ing = max(r["peak_rss_mb"] for r in result["runs"]["ingest"])
    print(f"\nscale {result['scale']:g} — {rows:,} sessions")
    print(
        f"  raw COPY : best {min(raw):6.2f} s ({rows / min(raw):>11,.0f} rows/s)  median {statistics.median(raw):6.2f} s"
        f"  peak RSS {rss_raw:.0f} MB"
    )
    print(
        f"  ingest   : best {min(ing):6.2f} s ({rows / min(ing):>11,.0f} rows/s)  median {statistics.median(ing):6.2f} s"
        f"  peak RSS {rss_ing:.0f} MB  (of which preflight: median {statistics.median(pre):.2f} s)"
    )
    print(
        f"  ingest / raw COPY throughput: best {min(raw) / min(ing):.2f}×, "
        f"median {statistics.median(raw) / statistics.median(ing):.2f}×"
    )
    for mode in ("raw_copy", "ingest"):
        runs = result["runs"][mode]
        client = statistics.median(r["client_cpu"] for r in runs)
        servers = [r["server_cpu"] for r in runs if r["server_cpu"] is not None]
        server = f"{statistics.median(servers) / rows * 1e6:.2f}" if servers else "-"
        print(
            f"  CPU s per million rows, {mode:8s}: loader {client / rows * 1e6:.2f}, server {server}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scales",
        default=f"1,{10_000_000 / SESSIONS_PER_SCALE:.1f}",
        help="comma-separated generator scales (default: 1 and ≈10 M sessions)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to generate (default: a temp dir)"
    )
    args = parser.parse_args()

    from streamlytics import services

    admin_url = services.database_url()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=args.workdir) as tmp:
        results = [
            bench_scale(admin_url, float(s), args.rounds, Path(tmp)) for s in args.scales.split(",")
        ]
    for result in results:
        summarise(result)
    load = os.getloadavg()
    print(
        f"\nmachine: {os.cpu_count()} CPUs shared by loader and server; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min). Wall times on a busy machine "
        "vary a lot; the CPU seconds do not."
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("_raw_copy", "_ingest"):
        mode, url, path = sys.argv[1:]
        print(json.dumps((child_raw_copy if mode == "_raw_copy" else child_ingest)(url, path)))
    else:
        main()
