"""The analyze stage, phase by phase: dbt's ana_ nodes and `run_analysis`, before and after.

    .venv/bin/python benchmarks/bench_analyze.py --scale 10
    .venv/bin/python benchmarks/bench_analyze.py --scale 10 --old 930a38c --name analyze_scale10

For each checkout (``--old`` first when given, then this one) on the same generated files (seed
42) and servers: a fresh PostgreSQL database, ingest, a full ``dbt build``, then
``run_analysis`` with the HTML report; then one more day of sessions (bench_pipeline's new-day
file), ingest, the incremental ``dbt build`` and ``run_analysis`` again. Reported per build: the
execution time of every ``ana_`` node (run_results.json) and their sum; per analysis: wall time
of each phase of ``python_models.analyze.compute`` and of the persist and report steps (the
functions it calls, timed by wrapping them in the child process, so an old checkout is timed the
same way), the seconds spent reading each analysis model, and the peak RSS of the process.

``--old`` is a commit of this repository (a worktree of it is made under
.state/bench-checkouts/) or a checkout folder; it runs on this checkout's .venv with its own
python_models/, streamlytics/ and dbt_project/ first on the path. ``--analyses N`` repeats each
``run_analysis`` N times (the minimum is reported, all are kept). Output: a markdown table on
stdout and in benchmarks/results/<name>.md, all figures in benchmarks/results/<name>.json.
The machine may be shared: each row carries the load average, and only figures of the same
invocation compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from _common import commit_of, commit_worktree, scratch_database, write_results
from bench_pipeline import NEW_DAY_FILE, _own_peak_mb, add_new_day, machine

# What compute() and run_analysis() call, by module: each is wrapped and timed as one phase.
# On a machine with two cores the clustering and the retention model's fit run in a worker
# process of their own (analyze.model_fitter), where these wrappers do not reach: their time is
# then the run's time outside every phase, not clustering.run / retention_model.fit.
PHASES = {
    "python_models.data": ("load", "user_session_groups", "completion_cells"),
    "python_models.data_quality": ("run",),
    "python_models.descriptive": ("run",),
    "python_models.hypothesis_tests": ("run",),
    "python_models.correlations": ("run",),
    "python_models.popularity_regression": ("run",),
    "python_models.trends": ("run",),
    "python_models.clustering": ("run",),
    "python_models.retention_model": ("prepare", "fit"),
    "python_models.seed_findings": ("device_and_quality_evidence", "run"),
    "python_models.persist": ("write_postgres", "write_mongo"),
    "python_models.report": ("build_report",),
}


# =========================================================================== child side
def child_prepare(url: str, data: Path, work: Path) -> dict[str, Any]:
    """Ingest the files of ``data`` and build the dbt project; the ana_ nodes' times."""
    from dataclasses import replace

    from streamlytics.config import settings
    from streamlytics.ingest import ingest_directory
    from streamlytics.transform import run_build

    started = time.perf_counter()
    ingest_directory(data, url)
    ingest_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = run_build(
        target_path=work / "target",
        log_path=work / "logs",
        cfg=replace(settings(), database_url=url),
    )
    build_seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"dbt build failed: {result.summary()['failures']}")
    nodes = json.loads(Path(result.run_results_path).read_text())["results"]
    ana = {
        r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2)
        for r in nodes
        if r["unique_id"].startswith("model.streamlytics.ana_")
    }
    return {
        "ingest_seconds": round(ingest_seconds, 2),
        "dbt_build_seconds": round(build_seconds, 2),
        "dbt_node_sum_seconds": round(sum(r["execution_time"] for r in nodes), 1),
        "ana_nodes": dict(sorted(ana.items(), key=lambda kv: -kv[1])),
        "ana_sum_seconds": round(sum(ana.values()), 2),
    }


def _timed(
    table: dict[str, float], label: str, fn: Any, cpu: dict[str, float] | None = None
) -> Any:
    """``fn``, adding its wall seconds to ``table[label]`` (and its CPU seconds to ``cpu[label]``)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            table[label] += time.perf_counter() - started
            if cpu is not None:
                cpu[label] += time.process_time() - cpu_started

    return wrapper


def child_analyze(url: str, work: Path, repeat: int) -> dict[str, Any]:
    """run_analysis (with the report) ``repeat`` times, every phase and model read timed."""
    import importlib

    os.environ["DBT_TARGET_PATH"] = str(work / "target")
    phases: dict[str, float] = defaultdict(float)
    phases_cpu: dict[str, float] = defaultdict(float)
    reads: dict[str, float] = defaultdict(float)
    for module_name, names in PHASES.items():
        module = importlib.import_module(module_name)
        short = module_name.rsplit(".", 1)[-1]
        for name in names:
            if hasattr(module, name):
                label = f"{short}.{name}"
                setattr(module, name, _timed(phases, label, getattr(module, name), phases_cpu))
    data = importlib.import_module("python_models.data")
    original_read = data.read_model

    def read_model(conn: Any, model: str, *args: Any, **kwargs: Any) -> Any:
        return _timed(reads, model, original_read)(conn, model, *args, **kwargs)

    data.read_model = read_model
    from python_models.analyze import run_analysis

    runs = []
    for _ in range(repeat):
        phases.clear()
        phases_cpu.clear()
        reads.clear()
        started = time.perf_counter()
        cpu = time.process_time()
        run_analysis(
            url,
            os.environ["MONGODB_URI"],
            os.environ["MONGODB_DB"],
            run_results=work / "target" / "run_results.json",
            report_dir=work / "report",
        )
        runs.append(
            {
                "seconds": round(time.perf_counter() - started, 2),
                "cpu_seconds": round(time.process_time() - cpu, 2),
                "phases": {
                    k: round(v, 2) for k, v in sorted(phases.items(), key=lambda kv: -kv[1])
                },
                "phases_cpu": {k: round(v, 2) for k, v in phases_cpu.items()},
                "reads": {k: round(v, 3) for k, v in sorted(reads.items(), key=lambda kv: -kv[1])},
            }
        )
    best = min(runs, key=lambda r: r["seconds"])
    return {
        **best,
        "all_seconds": [r["seconds"] for r in runs],
        "peak_rss_mb": round(_own_peak_mb()),
    }


def child_main(step: str, args: dict[str, Any]) -> int:
    url, work = os.environ["DATABASE_URL"], Path(args["work"])
    if step == "prepare":
        result = child_prepare(url, Path(args["data"]), work)
    else:
        result = child_analyze(url, work, args["repeat"])
    print(json.dumps(result))
    return 0


# =========================================================================== driver side
def checkout(spec: str) -> Path:
    """A folder holding ``spec``: a path as given, or a worktree of a commit (no .venv needed)."""
    path = Path(spec)
    if path.is_dir():
        return path.resolve()
    return commit_worktree(ROOT, spec)


def run_child(step: str, args: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(HERE), "_child", step, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["load"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    print(f"    {step:<8} {result['wall_seconds']:8.2f} s  load {result['load']}", flush=True)
    return result


def bench_checkout(
    label: str, folder: Path, data: Path, work: Path, urls: dict[str, str], repeat: int
) -> dict[str, Any]:
    """Full build + analysis, then +1 day build + analysis, of one checkout on a fresh database."""
    import pymongo

    env = {
        **os.environ,
        "PYTHONPATH": str(folder),
        "STREAMLYTICS_HOME": str(folder),
        "STREAMLYTICS_STATE_DIR": str(ROOT / ".state"),
        "MONGODB_URI": urls["mongo"],
        "MONGODB_DB": f"bench_analyze_{label}",
    }
    out: dict[str, Any] = {"checkout": str(folder), "commit": commit_of(folder)}
    with scratch_database(urls["postgres"], "bench_analyze") as url:
        env["DATABASE_URL"] = url
        args = {"data": str(data), "work": str(work), "repeat": repeat}
        print(f"  {label} ({out['commit']}): full build", flush=True)
        out["full_build"] = run_child("prepare", args, env)
        out["full_analysis"] = run_child("analyze", args, env)
        day = data.parent / f"{data.name}-plus-day"
        if not day.exists():
            shutil.copytree(data, day)
            add_new_day(day)
        out["day_rows"] = sum(1 for _ in (day / NEW_DAY_FILE).open(encoding="utf-8")) - 1
        print(f"  {label} ({out['commit']}): +1 day", flush=True)
        out["day_build"] = run_child("prepare", {**args, "data": str(day)}, env)
        out["day_analysis"] = run_child("analyze", args, env)
    pymongo.MongoClient(urls["mongo"]).drop_database(env["MONGODB_DB"])
    return out


def markdown(results: dict[str, Any]) -> str:
    runs = results["checkouts"]
    labels = list(runs)
    head = " | ".join(f"{label} ({runs[label]['commit']})" for label in labels)
    lines = [
        (
            f"# Analyze-stage benchmark, scale {results['scale']:g}, "
            f"{results['started_at'][:16].replace('T', ' ')} UTC"
        ),
        "",
        (
            f"`{results['command']}`; {results['sessions']:,} sessions (+ {results['day_rows']:,} "
            f"the new day). Machine: {results['machine']['nproc']} CPUs, load average at start "
            f"{results['load_average_start']}. Seconds; a phase's CPU seconds in brackets (the "
            "steadier figure on a shared machine)."
        ),
        "",
    ]
    for build, analysis, title in (
        ("full_build", "full_analysis", "fresh database"),
        ("day_build", "day_analysis", "+1 day"),
    ):
        lines += [f"## {title}", "", f"| | {head} |", "|---|" + "---:|" * len(labels)]
        nodes = sorted(
            {n for label in labels for n in runs[label][build]["ana_nodes"]},
            key=lambda n: -max(runs[label][build]["ana_nodes"].get(n, 0) for label in labels),
        )

        def row(name: str, values: list[Any]) -> str:
            return f"| {name} | " + " | ".join("-" if v is None else f"{v}" for v in values) + " |"

        lines.append(row("dbt build (wall)", [runs[x][build]["dbt_build_seconds"] for x in labels]))
        lines.append(
            row("dbt nodes summed", [runs[x][build]["dbt_node_sum_seconds"] for x in labels])
        )
        lines.append(
            row("**ana_ nodes summed**", [runs[x][build]["ana_sum_seconds"] for x in labels])
        )
        for node in nodes:
            lines.append(row(node, [runs[x][build]["ana_nodes"].get(node) for x in labels]))
        lines.append(row("**run_analysis (wall)**", [runs[x][analysis]["seconds"] for x in labels]))
        lines.append(row("run_analysis CPU", [runs[x][analysis]["cpu_seconds"] for x in labels]))
        lines.append(row("peak RSS MB", [runs[x][analysis]["peak_rss_mb"] for x in labels]))
        phases = sorted(
            {p for x in labels for p in runs[x][analysis]["phases"]},
            key=lambda p: -max(runs[x][analysis]["phases"].get(p, 0) for x in labels),
        )
        for phase in phases:
            lines.append(
                row(
                    phase,
                    [
                        f"{runs[x][analysis]['phases'].get(phase, '-')} "
                        f"({runs[x][analysis].get('phases_cpu', {}).get(phase, '-')})"
                        for x in labels
                    ],
                )
            )
        lines.append(
            row(
                "reading the ana_ models",
                [round(sum(runs[x][analysis]["reads"].values()), 2) for x in labels],
            )
        )
        lines.append(
            row(
                "load before→after (build; analysis)",
                [
                    f"{runs[x][build]['load'][0]}→{runs[x][build]['load'][1]}; "
                    f"{runs[x][analysis]['load'][0]}→{runs[x][analysis]['load'][1]}"
                    for x in labels
                ],
            )
        )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        return child_main(argv[1], json.loads(argv[2]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--old", default=None, help="commit or checkout folder to measure first")
    parser.add_argument("--analyses", type=int, default=1, help="run_analysis repeats (min kept)")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--name", default="analyze_latest", help="results file name")
    args = parser.parse_args(argv)

    from streamlytics import services
    from streamlytics.generate import generate_dataset

    urls = services.up()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_analyze_"))
    data = workdir / f"scale-{args.scale:g}"
    summary = generate_dataset(data, scale=args.scale, seed=42)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "scale": args.scale,
        "sessions": summary["sessions"],
        "checkouts": {},
    }
    try:
        checkouts = {"new": ROOT}
        if args.old:
            checkouts = {"old": checkout(args.old), **checkouts}
        for label, folder in checkouts.items():
            work = workdir / label
            work.mkdir(parents=True, exist_ok=True)
            results["checkouts"][label] = bench_checkout(
                label, folder, data, work, urls, args.analyses
            )
            results["day_rows"] = results["checkouts"][label]["day_rows"]
            write_results(results, args.name, markdown)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_results(results, args.name, markdown)
    print()
    print(markdown(results))
    print(f"results: {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
