"""`streamlytics`: the command line over every stage of the pipeline (orchestration layer).

Like the flows in flows/, this module sits above the library: it may import flows/, nothing in
streamlytics/, mongo/ or python_models/ may (tests/test_layers.py checks). Each stage's command
calls that stage's code; ``--help`` lists the commands in pipeline order (COMMAND_ORDER).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from streamlytics import services as svc

T = TypeVar("T")

# --help lists the stages in the order a record goes through them, then the tools around them.
COMMAND_ORDER = (
    "services",
    "generate",
    "ingest",
    "validate",
    "transform",
    "publish",
    "mongo-pipelines",
    "analyze",
    "report",
    "export-tableau",
    "run",
    "serve",
    "docs",
    "grant-readonly",
)


class PipelineOrder(TyperGroup):
    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    cls=PipelineOrder,
    help="Streamlytics: analytics engineering for a video-streaming platform's data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
services_app = typer.Typer(
    help="Local PostgreSQL, MongoDB, Prefect and (with the Spark engine) Spark servers owned by the project.",
    no_args_is_help=True,
)
app.add_typer(services_app, name="services")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


WAREHOUSE_OPTION = typer.Option(
    None,
    "--warehouse",
    help="Warehouse engine: postgres or spark (default: STREAMLYTICS_WAREHOUSE, else postgres).",
)


def use_warehouse(engine: str | None) -> None:
    """Make ``--warehouse`` the engine of this process and of every child (dbt, Prefect tasks):
    config.settings() reads it back from STREAMLYTICS_WAREHOUSE, the one place it is read."""
    from streamlytics.config import ConfigError, settings, warehouse_engine

    try:
        if engine is not None:
            os.environ["STREAMLYTICS_WAREHOUSE"] = warehouse_engine(engine)
        settings()
    except ConfigError as exc:
        fail(str(exc), code=2)


@app.callback()
def _main(warehouse: str = WAREHOUSE_OPTION) -> None:
    # dbt reads profiles.yml from here; telemetry off for dbt and Prefect.
    from streamlytics.config import settings

    use_warehouse(warehouse)
    os.environ.setdefault("DBT_PROFILES_DIR", str(settings().dbt_profiles_dir))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@contextmanager
def reporting_to_prefect() -> Iterator[str]:
    """Flows started inside report to the Prefect server in use (the project's own, started if
    needed, or PREFECT_API_URL's); yields its API URL. Works whenever Prefect was imported."""
    try:
        svc.up()
        url = svc.prefect_api_url()
    except svc.ServiceError as exc:
        fail(str(exc))
    # The variable first: Prefect reads it when first imported, and threads that Prefect starts
    # (the process pool's log and event forwarder) and child processes see only that. The
    # temporary setting covers a process that had imported Prefect already. Both are undone.
    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        if before is None:
            del os.environ["PREFECT_API_URL"]
        else:
            os.environ["PREFECT_API_URL"] = before


class _CurrentStderr:
    """A stream that writes to whatever ``sys.stderr`` is at the moment of writing."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stderr, name)


def _prefect_console_to_current_stderr() -> None:
    """Make Prefect's console log handlers write to the ``sys.stderr`` of the moment they write.

    Prefect binds them to the stderr of the moment its logging was set up. A host that calls the
    CLI more than once in one process (typer's CliRunner swaps stderr for each call and closes it
    after) would leave them writing to a closed stream: every log line then fails, and the
    command's own error message is lost in "--- Logging error ---" reports. Binding them to this
    call's stderr instead would break the same way for whatever logs after the call returns.
    """
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, PrefectConsoleHandler) and not isinstance(
                handler.stream, _CurrentStderr
            ):
                with handler.lock:  # not setStream(): it flushes the old, maybe closed, stream
                    handler.stream = _CurrentStderr()
                    handler.console.file = handler.stream


def in_flow(name: str, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work(*args, **kwargs)`` as a Prefect flow run named ``name``, so the UI lists every stage
    run from the command line too; its errors are raised as they are."""
    with reporting_to_prefect():
        from prefect import flow

        _prefect_console_to_current_stderr()

        def stage() -> T:
            return work(*args, **kwargs)

        return flow(name=name, log_prints=True)(stage)()


@services_app.command("up")
def services_up() -> None:
    """Start the project's PostgreSQL, MongoDB and Prefect server (unless DATABASE_URL /
    MONGODB_URI / PREFECT_API_URL are set)."""
    try:
        urls = svc.up()
    except svc.ServiceError as exc:
        fail(str(exc))
    for name, url in urls.items():
        console.print(f"[green]✓[/] {name}: {svc._redact(url)}", highlight=False)


@services_app.command("down")
def services_down() -> None:
    """Stop the servers `services up` started, whatever the environment says (your own are never touched)."""
    stopped = svc.down()
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    for s in svc.status():
        if s.mode == "external":
            console.print(f"left alone: {s.name} at {s.url} (your server)", highlight=False)


@services_app.command("status")
def services_status() -> None:
    """Reachability and server version of every service, and the Prefect UI's address; exit 1
    if one is unreachable."""
    rows = svc.status()
    table = Table("service", "whose", "url", "reachable", "version", "detail")
    for s in rows:
        table.add_row(
            s.name,
            "project's (embedded)" if s.mode == "embedded" else "yours (external)",
            s.url or "-",
            "[green]yes[/]" if s.reachable else "[red]no[/]",
            s.version or "-",
            s.detail,
        )
    console.print(table)
    for s in rows:
        if s.name == "prefect" and s.reachable:
            console.print(f"Prefect UI: {s.url}", highlight=False, soft_wrap=True)
    if not all(s.reachable for s in rows if s.in_use):
        raise typer.Exit(1)


@services_app.command("env")
def services_env() -> None:
    """Print shell exports; use as: eval "$(streamlytics services env)"."""
    try:
        print(svc.env_exports())
    except svc.ServiceError as exc:
        fail(str(exc))


@app.command("generate")
def generate(
    out: Path = typer.Option(
        ..., "--out", help="Folder for users.csv, content.json, viewing_sessions.csv."
    ),
    scale: float = typer.Option(
        1.0, help="1 = course size (5,000 users, ≈222,785 sessions); users grow linearly."
    ),
    seed: int = typer.Option(42, help="Same seed and scale give byte-identical files."),
    dirty_fraction: float = typer.Option(
        0.0,
        "--dirty-fraction",
        help="Share of defect records to inject (0–0.5); also writes manifest.json.",
    ),
) -> None:
    """Write a synthetic dataset in the course layout (docs/generator.md)."""
    import time

    from streamlytics.generate import generate_dataset

    started = time.perf_counter()
    try:
        summary = generate_dataset(out, scale=scale, seed=seed, dirty_fraction=dirty_fraction)
    except (ValueError, OSError) as exc:
        fail(f"cannot generate into {out}: {exc}")
    seconds = time.perf_counter() - started
    table = Table("file", "records")
    table.add_row("users.csv", f"{summary['users']:,}")
    table.add_row("content.json", f"{summary['movies']:,} movies + {summary['series']:,} series")
    table.add_row("viewing_sessions.csv", f"{summary['sessions']:,}")
    if dirty_fraction > 0:
        table.add_row("manifest.json", f"{summary['defects']:,} defects")
    console.print(table)
    console.print(
        f"[green]✓[/] {out} (scale {scale:g}, seed {seed}) in {seconds:.2f} s", highlight=False
    )


@app.command("validate")
def validate(
    stage: str = typer.Option("all", "--stage", help="raw (landing + load ledger), marts, or all."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="List every expectation, not only failures."
    ),
    all_loads: bool = typer.Option(
        False,
        "--all-loads",
        help="Read every sessions load again, not only those not validated yet.",
    ),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """Great Expectations checkpoints on the raw landing and/or the marts; exit 1 on an error-severity failure."""
    use_warehouse(warehouse)
    from rich.markup import escape

    from streamlytics.validation import run_validation
    from streamlytics.validation.console import expectations_table, suites_table

    try:
        report = in_flow("validate", run_validation, stage, all_loads=all_loads)
    except (ValueError, FileNotFoundError, svc.ServiceError) as exc:
        fail(escape(str(exc)), code=2)
    console.print(suites_table(report))
    details = expectations_table(report, everything=verbose)
    if details is not None:
        console.print(details)
    console.print(f"results: {report.results_path}", highlight=False, soft_wrap=True)
    console.print(f"Data Docs (offline): {report.data_docs_index}", highlight=False, soft_wrap=True)
    if not report.passed:
        fail(escape(report.message()))
    console.print(f"[green]✓[/] {escape(report.message())}", highlight=False)


@app.command("export-tableau")
def export_tableau(
    out: Path = typer.Option(..., "--out", help="Folder for the .hyper files (one per mart)."),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """Write a Tableau Hyper extract (.hyper) of every mart a dashboard exposure of dbt reads."""
    use_warehouse(warehouse)
    from streamlytics.consumers import tableau

    try:
        extracts = in_flow("export-tableau", tableau.export_marts, out)
    except (svc.ServiceError, tableau.TableauExportError) as exc:
        fail(str(exc))
    table = Table("mart", "rows", "columns", "file")
    for e in extracts:
        table.add_row(e.mart, f"{e.rows:,}", str(e.columns), e.path.name)
    console.print(table)
    console.print(f"[green]✓[/] {len(extracts)} extracts in {out.resolve()}", highlight=False)


@app.command("dashboards")
def dashboards(
    out: Path = typer.Option(
        None, "--out", help="Folder for dashboards.html (default: the reports folder)."
    ),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """The five dashboards (Executive, User, Content, Financial, Geographic) as one offline page."""
    use_warehouse(warehouse)
    import contextlib

    import psycopg2

    from streamlytics import warehouse
    from streamlytics.config import settings
    from streamlytics.dashboards import build_dashboards
    from streamlytics.dbt_relations import RelationError

    cfg = settings()

    def build() -> Path:
        with contextlib.closing(warehouse.connect(cfg)) as conn:
            return build_dashboards(conn, out or cfg.reports_dir)

    try:
        path = in_flow("dashboards", build)
    except (svc.ServiceError, RelationError) as exc:
        fail(str(exc))
    except psycopg2.errors.UndefinedTable as exc:
        fail(f"{str(exc).splitlines()[0]}: build the marts first (`streamlytics transform`).")
    console.print(f"[green]✓[/] dashboards: {path}", highlight=False)


@app.command("grant-readonly")
def grant_readonly(
    role: str = typer.Option("tableau_reader", help="Login role to create or update."),
) -> None:
    """Create the read-only login for live Tableau connections (SELECT on the marts only)."""
    from streamlytics.consumers import readonly_role

    try:
        grant = readonly_role.grant_readonly(role=role)
    except (svc.ServiceError, readonly_role.ReadonlyRoleError) as exc:
        fail(str(exc))
    verb = "created" if grant.created else "updated"
    console.print(
        f"[green]✓[/] role {grant.role} {verb}: SELECT on schema marts of database {grant.database}"
    )
    if grant.password_generated:
        console.print(
            f"password (shown once, stored nowhere): [bold]{grant.password}[/]", highlight=False
        )
    elif grant.password is None:
        console.print("password unchanged (set TABLEAU_READER_PASSWORD and rerun to change it)")


@app.command("docs")
def docs(
    serve: bool = typer.Option(
        False, "--serve", help="Serve the dbt docs and GX Data Docs on localhost until Ctrl-C."
    ),
    port: int = typer.Option(8080, help="Port for --serve."),
) -> None:
    """Build the dbt docs as one offline page (reports/dbt_docs/index.html); link the GX Data Docs."""
    import time

    from streamlytics.consumers import docs_site

    try:
        site = docs_site.build_docs()
    except (svc.ServiceError, docs_site.DocsError) as exc:
        fail(str(exc))
    console.print(
        f"[green]✓[/] dbt docs ({len(site.marts)} marts): {site.dbt_index} (opens offline)"
    )
    console.print(f"GX Data Docs: {site.gx_index or 'not built yet (run the validation stage)'}")
    if not serve:
        return
    try:
        server = docs_site.serve_docs(site, port=port)
    except OSError as exc:
        fail(f"cannot serve on 127.0.0.1:{port}: {exc}; pick another --port")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    console.print(
        f"serving on {url}/dbt/" + (f" and {url}/gx/" if site.gx_index else "") + "; Ctrl-C stops"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


@app.command("publish")
def publish(
    mongo_db: str = typer.Option(
        None, "--mongo-db", help="MongoDB database (default: MONGODB_DB or 'streamlytics')."
    ),
    pipelines: bool = typer.Option(
        True, "--pipelines/--no-pipelines", help="Also run and save the four aggregation pipelines."
    ),
    full: bool = typer.Option(
        False,
        "--full",
        help="Rebuild every document. Default: when only session files arrived since the last "
        "publish, rebuild only the documents of the users and titles they touched.",
    ),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """Publish one MongoDB document per user and per title (idempotent, incremental), then run
    the pipelines."""
    use_warehouse(warehouse)
    from mongo.stage import PublishError, run_publish_stage
    from streamlytics.config import settings

    try:
        outcome = in_flow(
            "publish",
            run_publish_stage,
            svc.database_url(),
            svc.mongodb_uri(),
            mongo_db or settings().mongodb_db,
            run_pipelines=pipelines,
            full=full,
        )
    except (svc.ServiceError, PublishError) as exc:
        fail(str(exc))
    table = Table("collection", "inserted", "updated", "removed", "unchanged", "documents")
    counts = dict(outcome.collections)
    if outcome.results_saved:
        counts["pipeline_results"] = outcome.results_saved
    for name, c in counts.items():
        table.add_row(
            name, *(f"{n:,}" for n in (c.inserted, c.updated, c.removed, c.unchanged, c.total))
        )
    console.print(table)
    for name, rows in outcome.pipeline_rows.items():
        console.print(f"[green]✓[/] pipeline {name}: {rows} rows")


@app.command("mongo-pipelines")
def mongo_pipelines(
    name: str = typer.Option(None, "--name", help="Only this pipeline (default: all four)."),
    mongo_db: str = typer.Option(
        None, "--mongo-db", help="MongoDB database (default: MONGODB_DB or 'streamlytics')."
    ),
    limit: int = typer.Option(20, help="Rows shown per pipeline."),
) -> None:
    """Run the four aggregation pipelines over the published collections and show their rows."""
    from mongo.stage import PublishError, run_pipelines
    from streamlytics.config import settings

    try:
        results = run_pipelines(svc.mongodb_uri(), mongo_db or settings().mongodb_db, name)
    except (svc.ServiceError, PublishError) as exc:
        fail(str(exc))
    for pipeline, rows in results.items():
        table = Table(*(rows[0] if rows else ["(no rows)"]), title=f"{pipeline} ({len(rows)} rows)")
        for row in rows[:limit]:
            table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row.values()))
        console.print(table)


@app.command("report")
def report(
    out: Path = typer.Option(
        None, "--out", help="Folder for report.html (default: STREAMLYTICS_REPORTS_DIR / reports)."
    ),
    run_id: str = typer.Option(
        None, "--run-id", help="Analysis run to report (default: the latest completed one)."
    ),
    mongo_db: str = typer.Option(
        None, "--mongo-db", help="MongoDB database with the pipeline results (default: MONGODB_DB)."
    ),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """Build the self-contained HTML report (charts, findings, dashboards, data quality) from the latest analysis run."""
    use_warehouse(warehouse)
    import psycopg2
    from rich.markup import escape

    from python_models.report import ReportSourceError, build_report
    from streamlytics.config import settings

    cfg = settings()
    try:
        mongodb_uri = svc.mongodb_uri(cfg)
    except svc.ServiceError as exc:
        # The report is still worth having without MongoDB: its Mongo section says why it is empty.
        err_console.print(f"[yellow]warning:[/] {escape(str(exc))}", highlight=False)
        mongodb_uri = None
    try:
        path = build_report(
            svc.database_url(cfg),
            out or cfg.reports_dir,
            mongodb_uri,
            mongo_db or cfg.mongodb_db,
            run_id=run_id,
        )
    except (svc.ServiceError, ReportSourceError, psycopg2.Error) as exc:
        fail(escape(str(exc).strip()))
    console.print("[green]✓[/] report:", highlight=False)
    print(path)


@app.command("ingest")
def ingest(
    data_dir: Path = typer.Option(
        None,
        "--data-dir",
        help="Folder with users.csv, content.json and viewing_sessions*.csv "
        "(default: STREAMLYTICS_DATA_DIR / data/default).",
    ),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """Load the raw files into the warehouse (PostgreSQL COPY, or Parquet on Spark): checked first, idempotent, atomic per file (docs/ingestion.md)."""
    use_warehouse(warehouse)
    import psycopg2
    from rich.markup import escape

    from streamlytics.config import settings
    from streamlytics.ingest import IngestError, PreflightError, preflight
    from streamlytics.ingest.console import file_progress, summary_table

    data_dir = data_dir or settings().data_dir
    try:
        preflight(
            data_dir
        )  # fail fast, and before starting Prefect, when an input file is unusable
    except PreflightError as exc:
        fail(escape(str(exc)), code=2)
    from flows.ingest import ingest_flow

    try:
        with reporting_to_prefect(), file_progress(console):
            result = ingest_flow(str(data_dir))
    except (IngestError, psycopg2.Error, svc.ServiceError) as exc:
        fail(escape(f"ingest of {data_dir} failed: {exc}"))
    console.print(summary_table(result))


@app.command("serve")
def serve() -> None:
    """Serve the deployments of prefect.yaml on the project's Prefect server; Ctrl-C stops serving."""
    from streamlytics.consumers import deployments

    def ready(local: deployments.LocalPrefect) -> None:
        console.print(
            f"[green]✓[/] Prefect UI: [bold]{local.ui_url}[/] (deployments: {', '.join(local.deployment_names())})"
        )
        console.print(
            f"  from another shell: PREFECT_API_URL={local.api_url} prefect deployment ls",
            highlight=False,
        )
        console.print(
            f"  logs: {local.log_dir}; Ctrl-C stops the runner (the server keeps running)",
            highlight=False,
        )

    try:
        deployments.serve_until_interrupted(on_ready=ready)
    except (svc.ServiceError, deployments.PrefectServeError, ValueError) as exc:
        fail(str(exc))


@app.command("run")
def run(
    data_dir: Path = typer.Option(
        None,
        "--data-dir",
        help="Folder with users.csv, content.json, viewing_sessions*.csv "
        "(default: data/default, generated at scale 1 on first use).",
    ),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """The whole pipeline as one Prefect flow: ingest → validate → dbt → validate → publish → analyze → Tableau."""
    use_warehouse(warehouse)
    try:
        svc.up()
    except svc.ServiceError as exc:
        fail(str(exc))
    from streamlytics.transform import parse_ahead

    parse_ahead()  # dbt parses while Prefect is imported and the files load (the flow reuses it)
    with reporting_to_prefect():
        from flows.pipeline import pipeline_flow

        state = pipeline_flow(str(data_dir) if data_dir else None, return_state=True)
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, dict):  # the flow itself failed before it could summarise
        fail(f"the pipeline flow {state.name.lower()}: {summary}")
    table = Table("stage", "status", "seconds", "detail", title="streamlytics run")
    colour = {"completed": "green", "failed": "red", "skipped": "yellow"}
    for stage in summary["stages"]:
        table.add_row(
            stage["name"],
            f"[{colour[stage['status']]}]{stage['status']}[/]",
            f"{stage['seconds']:.1f}",
            stage["message"],
        )
    console.print(table)
    console.print(f"peak RSS {summary['peak_rss_mb']} MiB; summary: {summary['summary_path']}")
    for label, path in summary.get("outputs", {}).items():
        console.print(f"{label}: {path}")
    if summary["status"] != "completed":
        raise typer.Exit(1)


@app.command("transform")
def transform(
    select: list[str] = typer.Option(
        None, "--select", "-s", help="dbt node selection (default: the whole project)."
    ),
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Rebuild incremental models from scratch."
    ),
    threads: int = typer.Option(
        None, "--threads", help="dbt threads (default: DBT_THREADS or one per core)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not echo dbt's own output."),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """Build the dbt project (`dbt build`: seeds, models, tests) and report failures by model and test."""
    use_warehouse(warehouse)
    from rich.markup import escape

    from streamlytics.transform import TransformError, run_build

    echo = None if quiet else (lambda line: console.print(escape(line), highlight=False))
    try:
        result = in_flow(
            "transform",
            run_build,
            select=select or (),
            full_refresh=full_refresh,
            threads=threads,
            on_output=echo,
        )
    except (TransformError, svc.ServiceError) as exc:
        fail(escape(str(exc)))
    summary = result.summary()
    if result.failures or result.warnings:
        table = Table("status", "type", title="dbt failures and warnings")
        table.add_column("node", overflow="fold")
        table.add_column("detail", overflow="fold")
        for node in (*result.failures, *result.warnings):
            colour = "red" if node in result.failures else "yellow"
            table.add_row(
                f"[{colour}]{node.status}[/]", node.resource_type, node.name, escape(node.message)
            )
        console.print(table)
    console.print(
        f"models {summary['models']} built, {summary['models_failed']} failed, {summary['models_skipped']} skipped; "
        f"tests {summary['tests_passed']} passed, {summary['tests_failed']} failed, {summary['tests_warned']} warned; "
        f"unit tests {summary['unit_tests_passed']} passed, {summary['unit_tests_failed']} failed "
        f"({summary['elapsed_seconds']} s)",
        highlight=False,
    )
    if not result.ok:
        fail(
            f"dbt build failed: {len(result.failures)} node(s) failed (exit code {result.return_code})."
        )


@app.command("analyze")
def analyze(
    mongo: bool = typer.Option(
        True, "--mongo/--no-mongo", help="Also write the summary to MongoDB (statistics_summary)."
    ),
    mongo_db: str = typer.Option(
        None, "--mongo-db", help="MongoDB database (default: MONGODB_DB or 'streamlytics')."
    ),
    seed: int = typer.Option(42, help="Seed of every random step (bootstraps, samples, k-means)."),
    dbt_run_results: Path = typer.Option(
        None,
        "--dbt-run-results",
        help="dbt's run_results.json of the build that made this core, for the "
        "data-quality section (default: run_results.json in dbt's target folder, when present).",
    ),
    warehouse: str = WAREHOUSE_OPTION,
) -> None:
    """Compute every statistic from the core, write it to schema analysis (and MongoDB), print the headline."""
    use_warehouse(warehouse)
    from python_models.analyze import run_analysis
    from python_models.data import MissingCoreError
    from python_models.retention_model import LeakageSuspected

    try:
        head = in_flow(
            "analyze",
            run_analysis,
            svc.database_url(),
            svc.mongodb_uri() if mongo else None,
            mongo_db,
            seed=seed,
            run_results=dbt_run_results or "default",
        )
    except (svc.ServiceError, MissingCoreError, LeakageSuspected) as exc:
        fail(str(exc))
    table = Table(
        "result",
        "test",
        "statistic",
        "p (Holm)",
        "effect [95% CI]",
        "n",
        "verdict",
        title="Headline results",
    )
    for name, r in head["key_results"].items():
        effect = (
            "-"
            if r["effect"] is None
            else f"{r['effect_name']} {r['effect']:.3g}"
            + (f" [{r['ci_low']:.3g}, {r['ci_high']:.3g}]" if r["ci_low"] is not None else "")
        )
        p = r["p_adjusted"] if r["p_adjusted"] is not None else r["p_value"]
        stat = "-" if r["statistic"] is None else f"{r['statistic_name']} {r['statistic']:.4g}"
        table.add_row(
            name,
            r["section"],
            stat,
            "-" if p is None else f"{p:.2g}",
            effect,
            "-" if r["n"] is None else f"{r['n']:,}",
            r["verdict"] or "-",
        )
    console.print(table)
    for name, verdict in head["seed_findings"].items():
        console.print(f"seed claim {name}: [bold]{verdict}[/]", highlight=False)
    console.print(
        f"[green]✓[/] run {head['run_id']} in {head['seconds']} s: tables analysis.* "
        "(latest: analysis.latest_run)" + (", MongoDB statistics_summary" if mongo else ""),
        highlight=False,
    )
    print(head["run_id"])


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover - `python -m streamlytics.cli`
    main()
