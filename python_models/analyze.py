"""One analysis run: read the core, compute every statistic, persist, return the headline.

Order of the results: data quality → descriptive → hypothesis tests → correlations → popularity
regression → trends → clustering → retention model → the seed's claims (which reuse the results
before them). The clustering and the retention model draw from generators of their own, so they
are fitted beside the rest, in a worker process when the machine has a second core
(:func:`model_fitter`); the tests share one generator, in that order. Each family of tests is
Holm-adjusted on its own (see results.py). The run is written to the ``analysis`` schema in one
transaction and, when a MongoDB URI is given, summarised in its ``statistics_summary``
collection.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.util import Finalize
from pathlib import Path
from typing import Any

import numpy as np
import psycopg2
from joblib.externals.loky import ProcessPoolExecutor

from python_models import (
    clustering,
    correlations,
    data,
    data_quality,
    descriptive,
    hypothesis_tests,
    persist,
    popularity_regression,
    retention_model,
    seed_findings,
    trends,
)
from python_models.results import ALPHA, Result, adjust_family, unique_names
from streamlytics.warehouse import models_reader

DEFAULT_SEED = 42
DEFAULT_N_BOOT = 1000

# The effects a reader asks about first, by result name (for run_summary.json and the CLI).
HEADLINE_RESULTS = (
    "premium_vs_basic_mean_completion",
    "plan_mean_completion",
    "plan_4k_share",
    "premium_vs_basic_watch_minutes",
    "premium_vs_basic_lifetime_hours",
    "quality_completion",
    "quality_completion_given_plan",
    "device_completion",
    "weekday_daily_sessions",
    "spearman_lifetime_hours__tenure_days",
    "movies_views_on_rating",
    "movies_views_on_budget_musd",
    "series_views_on_seasons",
    "series_views_on_episode_minutes",
    "movies_views_vs_sessions",
    "retention_auc_logistic",
    "retention_auc_gradient_boosting",
    "retention_auc_baseline_sessions_before",
    "retention_gain_over_baseline_logistic",
    "retention_auc_out_of_time_logistic",
    "kmeans_chosen_k",
    "kmeans_vs_ward_ari",
)


def default_run_results() -> Path | None:
    """dbt's run_results.json (in dbt's target folder), when a build has left one."""
    from streamlytics.dbt_relations import target_dir

    path = target_dir() / "run_results.json"
    return path if path.is_file() else None


def _brief(r: Result) -> dict[str, Any]:
    return {
        "section": r.section,
        "statistic_name": r.statistic_name,
        "statistic": r.statistic,
        "p_value": r.p_value,
        "p_adjusted": r.p_adjusted,
        "effect_name": r.effect_name,
        "effect": r.effect,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "n": r.n,
        "verdict": r.verdict,
        "interpretation": r.interpretation,
    }


def compute(
    conn: Any,
    *,
    seed: int = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
    run_results: Path | None = None,
    model_process: bool | None = None,
) -> dict[str, Any]:
    """Every statistic of a run, from the database behind `conn` (nothing is written).

    The clustering and the retention model are fitted beside the tests, in a process of their
    own when the machine has a second core (``model_process``: see :func:`model_fitter`);
    the results are the same either way."""
    rng = np.random.default_rng(seed)
    with model_fitter(model_process) as fitter:
        d = data.load(conn)
        models = fitter.submit(fit_models, d.users, retention_model.prepare(conn, d), seed, n_boot)
        return _compute_tests(conn, d, rng, n_boot, run_results, models)


Models = tuple[clustering.Clustering, retention_model.Retention]


def fit_models(users: Any, retention_inputs: tuple[Any, Any], seed: int, n_boot: int) -> Models:
    """The clustering and the retention model, from frames already read (no connection).

    Both draw from their own generators seeded with ``seed``, not from the tests' shared one,
    so where they run changes none of their numbers, nor the tests'."""
    clusters = clustering.run(users, seed, n_boot=min(n_boot, 500))
    retention = retention_model.fit(*retention_inputs, seed, n_boot=min(n_boot, 200))
    return clusters, retention


class _Here:
    """An executor that runs what it is given at once, in this process."""

    def submit(self, fn: Callable[..., Models], *args: Any) -> Future[Models]:
        done: Future[Models] = Future()
        done.set_result(fn(*args))
        return done


def _ready() -> None:
    """Nothing: unpickling it in a worker imports this module, and with it the models' libraries."""


def _model_pool() -> ProcessPoolExecutor:
    """A one-process pool for :func:`fit_models`, its worker started and importing now."""
    pool = ProcessPoolExecutor(max_workers=1)
    pool.submit(_ready)
    return pool


_standby: ProcessPoolExecutor | None = None


def start_model_worker() -> None:
    """Start the worker process the next :func:`model_fitter` of this process will use, and its
    imports, now: a caller that knows an analysis is coming (the pipeline's statistics lane,
    while dbt builds) takes the worker's start-up, ≈ 2 s of CPU, off the analysis' own time."""
    global _standby
    if _standby is None:
        _standby = _model_pool()
        # An analysis that never comes (a failed gate) must not hold this process's exit. A
        # multiprocessing finalizer, not atexit: a process-pool worker (a Prefect lane) leaves
        # through os._exit, after joining its children - the standby worker among them, which
        # would wait forever - and runs only these finalizers before that join.
        Finalize(None, _shutdown_standby, exitpriority=10)


def _shutdown_standby() -> None:
    global _standby
    pool, _standby = _standby, None
    if pool is not None:
        pool.shutdown(wait=True, kill_workers=True)


@contextmanager
def model_fitter(separate: bool | None) -> Iterator[Any]:
    """Where :func:`fit_models` runs: a process of its own, beside the caller's tests.

    The models and the tests each take a third to a half of a run on one core (the models are
    limited to one OpenMP thread), so with a second core they overlap. The worker is the one
    :func:`start_model_worker` started, else it starts on entry, so its interpreter and imports
    overlap the caller's reads. ``separate``: None = when the machine has more than one core;
    False = in this process, when submitted.
    """
    global _standby
    if separate is None:
        separate = (os.cpu_count() or 1) > 1
    if not separate:
        yield _Here()
        return
    # joblib's loky executor (scikit-learn's): a fresh interpreter, not a fork of a caller that
    # may have threads (a Prefect worker), and, unlike multiprocessing's spawn, no re-run of the
    # caller's __main__. Not loky's reusable executor: that is one per process, shared with
    # joblib's users, and its idle worker held a Prefect lane's exit for 10 s. Each pool serves
    # one analysis and is shut down on the way out.
    pool, _standby = _standby or _model_pool(), None
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, kill_workers=True)  # no waiting for a fit nobody will read
        raise
    pool.shutdown(wait=True)


def _compute_tests(
    conn: Any,
    d: data.AnalysisData,
    rng: np.random.Generator,
    n_boot: int,
    run_results: Path | None,
    models: Future[Models],
) -> dict[str, Any]:
    quality = data_quality.run(conn, run_results)
    described = descriptive.run(d.sessions, d.users, d.content)
    groups = data.user_session_groups(conn)
    tests = adjust_family(
        hypothesis_tests.run(
            d.sessions, d.users, data.completion_cells(conn), rng, n_boot=n_boot, groups=groups
        )
    )
    corr = adjust_family(correlations.run(d.users, d.sessions.minutes_completion))
    regression = adjust_family(popularity_regression.run(d.content))
    trend_results, trend_points = trends.run(d.sessions)
    trend_results = adjust_family(trend_results)
    evidence = seed_findings.device_and_quality_evidence(
        d.sessions.device_quality, groups, d.users, rng, n_boot=min(n_boot, 500)
    )
    so_far = {r.name: r for r in [*tests, *corr, *regression]}
    findings = seed_findings.run(so_far, evidence)
    clusters, retention = models.result()
    results = unique_names(
        [
            *quality.results,
            *tests,
            *corr,
            *regression,
            *trend_results,
            *clusters.results,
            *retention.results,
            *evidence,
            *findings,
        ]
    )
    silhouette_points = [
        {
            "series": "kmeans_silhouette",
            "measure": "silhouette",
            "point_index": i,
            "x_label": f"k={k}",
            "x": float(k),
            "y": s,
            "n": None,
        }
        for i, (k, s) in enumerate(sorted(clusters.silhouettes.items()))
    ]
    return {
        "data": d,
        "results": results,
        "descriptive": described,
        "series": [*trend_points, *retention.curves, *silhouette_points],
        "clusters": clusters,
        "retention": retention,
        "data_quality": quality,
    }


def headline(
    computed: dict[str, Any], run_id: str, started: datetime, finished: datetime
) -> dict[str, Any]:
    """The figures a reader wants first, JSON-ready."""
    by_name = {r.name: r for r in computed["results"]}
    sections: dict[str, int] = {}
    for r in computed["results"]:
        sections[r.section] = sections.get(r.section, 0) + 1
    files = {
        r.details["batch_id"][:12] + ":" + r.variables.split(" ")[0]: {
            "lines_read": r.n,
            "refused": r.statistic,
            "verdict": r.verdict,
        }
        for r in computed["results"]
        if r.section == "data_quality" and r.name.startswith("file_")
    }
    return {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "seconds": round((finished - started).total_seconds(), 2),
        "alpha": ALPHA,
        "data_end": str(computed["data"].data_end),
        "row_counts": computed["data"].fingerprint["row_counts"],
        "results_by_section": sections,
        "seed_findings": {
            r.name: r.verdict for r in computed["results"] if r.section == "seed_finding"
        },
        "key_results": {
            name: _brief(by_name[name]) for name in HEADLINE_RESULTS if name in by_name
        },
        "retention": {
            k: v
            for k, v in computed["retention"].headline.items()
            if k not in ("features", "excluded")
        },
        "data_quality": files,
        "outputs": {"statistics (PostgreSQL)": f"analysis.results where run_id = '{run_id}'"},
    }


def run_analysis(
    database_url: str,
    mongodb_uri: str | None = None,
    mongodb_db: str | None = None,
    *,
    seed: int = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
    run_results: Path | None | str = "default",
    report_dir: Path | str | None = None,
) -> dict[str, Any]:
    """Compute every statistic from the database at `database_url`, persist it, return the headline.

    Writes one run to the ``analysis`` schema (one transaction) and, when `mongodb_uri` is
    given, a summary document to ``statistics_summary`` in `mongodb_db` (default: the
    configured MONGODB_DB). `run_results` is dbt's run_results.json for the data-quality
    section ("default": the project's, when present; None: leave dbt out). Raises
    data.MissingCoreError when the core is absent or empty, and
    retention_model.LeakageSuspected when the retention model scores implausibly well.
    With `report_dir`, the HTML report of this run is written there too, drawn from the same
    data the statistics were computed from (read once, not twice); its path is in the headline's
    outputs under "HTML report".
    """
    started = datetime.now(UTC)
    clock = time.perf_counter()
    dbt_results = (
        default_run_results()
        if run_results == "default"
        else (Path(run_results) if run_results else None)
    )
    run_id = str(uuid.uuid4())
    conn = psycopg2.connect(database_url)
    try:
        # The models from the warehouse in use (Spark or this PostgreSQL); the run is persisted
        # to PostgreSQL's analysis schema either way.
        reader = models_reader(conn)
        computed = compute(reader, seed=seed, n_boot=n_boot, run_results=dbt_results)
        finished = datetime.now(UTC)
        head = headline(computed, run_id, started, finished)
        head["seconds"] = round(time.perf_counter() - clock, 2)
        record = persist.RunRecord(
            run_id=run_id,
            started_at=started,
            finished_at=finished,
            fingerprint=computed["data"].fingerprint,
            parameters={
                "seed": seed,
                "n_boot": n_boot,
                "alpha": ALPHA,
                "dbt_run_results": str(dbt_results) if dbt_results else None,
            },
            headline=head,
            results=computed["results"],
            descriptive=computed["descriptive"],
            series=computed["series"],
            cluster_profiles=computed["clusters"].profiles,
            user_clusters=computed["clusters"].assignments,
            data_quality=computed["data_quality"].rules,
        )
        persist.write_postgres(conn, record)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
    if mongodb_uri:
        from streamlytics.config import settings

        persist.write_mongo(mongodb_uri, mongodb_db or settings().mongodb_db, record)
        head["outputs"]["statistics summary (MongoDB)"] = (
            f"{mongodb_db or settings().mongodb_db}.{persist.SUMMARY_COLLECTION}"
        )
    if report_dir is not None:
        from python_models.report import build_report

        path = build_report(
            database_url,
            report_dir,
            mongodb_uri,
            mongodb_db,
            run_id=run_id,
            run_results_path=dbt_results,
            core=computed["data"],
        )
        head["outputs"]["HTML report"] = str(path)
    return head
