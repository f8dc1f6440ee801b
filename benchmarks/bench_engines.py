"""The whole pipeline on PostgreSQL and on local Spark, stage by stage, side by side in one run.

    .venv/bin/python benchmarks/bench_engines.py --scales 1 10

Per scale: the generator writes a clean data set (seed 42); then, for each engine, `streamlytics
run` (the Prefect flow, every stage) on those files, twice: a first run on fresh services and a
second on the same files (every file skipped, incremental models append nothing: the idempotent
re-run a scheduler makes). Each engine runs on servers of its own in a fresh state folder
(STREAMLYTICS_STATE_DIR: PostgreSQL, MongoDB, Prefect and, for Spark, the local Connect server),
started before the clock starts and stopped after, so neither engine sees the other's tables or
warm caches, and the project's own servers and data are not touched.

Figures are each stage's seconds from run_summary.json (what the Prefect flow measured) and the
run's wall time; the Spark / PostgreSQL ratio is per stage. Stages run side by side where the
DAG allows (publish, analyze and the Tableau export after the marts' gate), so the wall time is
less than the sum. Output: a markdown table on stdout and in benchmarks/results/<name>.md, the
figures in <name>.json. The load average is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlytics.pipeline import PIPELINE

CLI = [sys.executable, "-m", "streamlytics.cli"]
ENGINES = ("postgres", "spark")
STAGES = tuple(stage.name for stage in PIPELINE)
"""Every stage of `streamlytics run`, in pipeline order (dashboards included)."""


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def engine_env(engine: str, work: Path) -> dict[str, str]:
    """The environment of a CLI whose servers and outputs live under ``work`` only."""
    own = ("DATABASE_URL", "MONGODB_URI", "PREFECT_API_URL", "SPARK_REMOTE", "SPARK_THRIFT_HOST")
    env = {k: v for k, v in os.environ.items() if k not in own}
    env.update(
        STREAMLYTICS_WAREHOUSE=engine,
        STREAMLYTICS_STATE_DIR=str(work / "state"),
        STREAMLYTICS_REPORTS_DIR=str(work / "reports"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return env


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [*CLI, *args], check=False, env=env, capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(
            f"`streamlytics {' '.join(args)}` ({env['STREAMLYTICS_WAREHOUSE']}) exited "
            f"{done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def one_run(data: Path, env: dict[str, str]) -> dict:
    """`streamlytics run` on ``data``: wall seconds, and each stage's seconds and status."""
    started = time.perf_counter()
    cli(["run", "--data-dir", str(data)], env)
    wall = time.perf_counter() - started
    summary = json.loads((Path(env["STREAMLYTICS_REPORTS_DIR"]) / "run_summary.json").read_text())
    return {
        "wall": round(wall, 1),
        "status": summary["status"],
        "stages": {s["name"]: round(s["seconds"], 1) for s in summary["stages"]},
        "load": load(),
    }


def bench_engine(engine: str, data: Path, work: Path) -> dict:
    env = engine_env(engine, work)
    cli(["services", "up"], env)
    try:
        first = one_run(data, env)
        second = one_run(data, env)
    finally:
        subprocess.run(
            [*CLI, "services", "down"], check=False, env=env, capture_output=True, cwd=ROOT
        )
    return {"first": first, "rerun": second}


def table(results: dict[str, dict]) -> str:
    lines = [
        "| scale | stage | PostgreSQL | Spark | Spark / PG | re-run PG | re-run Spark |",
        "|---|---|---|---|---|---|---|",
    ]
    for scale, by_engine in results.items():
        pg, sp = by_engine["postgres"], by_engine["spark"]
        for stage in (*STAGES, "wall"):
            if stage == "wall":
                a, b = pg["first"]["wall"], sp["first"]["wall"]
                ra, rb = pg["rerun"]["wall"], sp["rerun"]["wall"]
                label = "**whole run (wall)**"
            else:
                a, b = pg["first"]["stages"].get(stage), sp["first"]["stages"].get(stage)
                ra, rb = pg["rerun"]["stages"].get(stage), sp["rerun"]["stages"].get(stage)
                label = stage
            ratio = f"{b / a:.1f}" if a and b else "-"
            lines.append(f"| {scale:g} | {label} | {a} s | {b} s | {ratio} | {ra} s | {rb} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--name", default="engines_latest")
    args = parser.parse_args()
    from streamlytics.generate import generate_dataset

    results: dict[float, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_engines_") as tmp:
        for scale in args.scales:
            data = Path(tmp) / f"data_{scale:g}"
            generate_dataset(data, scale=scale, seed=42)
            results[scale] = {}
            for engine in ENGINES:
                print(f"scale {scale:g}, {engine}: load {load()}", file=sys.stderr, flush=True)
                results[scale][engine] = bench_engine(
                    engine, data, Path(tmp) / f"{engine}_{scale:g}"
                )
                for run in ("first", "rerun"):
                    status = results[scale][engine][run]["status"]
                    if status != "completed":
                        raise SystemExit(f"{engine} {run} run at scale {scale:g} ended {status}")
    text = table(results)
    print(text)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(
        f"# {args.name}\n\n`benchmarks/bench_engines.py --scales "
        f"{' '.join(f'{s:g}' for s in args.scales)}` (load at the end: {load()})\n\n{text}\n"
    )
    (out / f"{args.name}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
