"""What each pipeline stage does: one small function per stage, calling that stage's own module.

Order and gates (see streamlytics.pipeline): ingest → validate-raw → transform → validate-marts
→ publish → analyze → export-tableau. A stage runs only when every stage it ``needs`` completed;
the publishing stages need both validation gates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlytics import services
from streamlytics.config import settings
from streamlytics.pipeline import GateFailed, RunContext, Stage

DEFAULT_SCALE = 1.0
DEFAULT_SEED = 42
RAW_FILES = ("users.csv", "content.json", "viewing_sessions.csv")
# Everything that publishes (MongoDB, report, Tableau) waits for both validation gates.
PUBLISH_GATES = ("validate-raw", "validate-marts")


def make_context(data_dir: Path | None) -> RunContext:
    """Resolve services and folders; the default data set is generated on first use."""
    cfg = settings()
    services.up(cfg)
    services.export_to_environ(cfg)
    folder = (data_dir or cfg.data_dir).resolve()
    if data_dir is None and not all((folder / name).exists() for name in RAW_FILES):
        from streamlytics.generate import generate_dataset

        generate_dataset(folder, scale=DEFAULT_SCALE, seed=DEFAULT_SEED)
    return RunContext(
        cfg=cfg,
        data_dir=folder,
        database_url=services.database_url(cfg),
        mongodb_uri=services.mongodb_uri(cfg),
        reports_dir=cfg.reports_dir,
    )


def ingest(ctx: RunContext) -> dict[str, Any]:
    from flows.ingest import ingest_flow

    return ingest_flow(str(ctx.data_dir))


def validate_raw(ctx: RunContext) -> dict[str, Any]:
    return _validate(ctx, "raw")


def validate_marts(ctx: RunContext) -> dict[str, Any]:
    return _validate(ctx, "marts")


def _validate(ctx: RunContext, stage: str) -> dict[str, Any]:
    from streamlytics.validation import run_validation

    report = run_validation(stage)
    detail = report.to_dict()
    if not report.passed:
        raise GateFailed(
            f"{stage} validation failed: {', '.join(report.failed_expectations)}; publishing is skipped",
            detail,
        )
    return detail


def transform(ctx: RunContext) -> dict[str, Any]:
    from streamlytics.transform import run_build

    result = run_build()
    detail = result.summary()
    if not result.ok:
        failed = [f.describe() for f in result.failures[:10]] or [
            f"dbt exited {result.return_code}"
        ]
        raise GateFailed(f"dbt build failed: {'; '.join(failed)}", detail)
    return detail


def publish(ctx: RunContext) -> dict[str, Any]:
    from mongo.stage import run_publish_stage

    return run_publish_stage(ctx.database_url, ctx.mongodb_uri, ctx.cfg.mongodb_db).summary()


def analyze(ctx: RunContext) -> dict[str, Any]:
    from python_models.analyze import run_analysis

    # The report is drawn from the data the statistics were computed from (read once).
    return run_analysis(
        ctx.database_url, ctx.mongodb_uri, ctx.cfg.mongodb_db, report_dir=ctx.reports_dir
    )


def export_tableau(ctx: RunContext) -> dict[str, Any]:
    from streamlytics.consumers.tableau import export_marts, row_counts

    out = ctx.reports_dir / "tableau"
    return {
        "outputs": {"Tableau extracts": str(out)},
        "rows": row_counts(export_marts(out, ctx.database_url)),
    }


def pipeline_stages() -> list[Stage]:
    # isolated: CPU-bound Python, run in a process of its own (streamlytics.stage_host). ingest
    # (COPY, with Prefect tasks of its own) and transform (dbt is a subprocess already) stay threads.
    return [
        Stage("ingest", ingest, (), "raw files → raw landing tables (COPY), bad rows quarantined"),
        Stage(
            "validate-raw",
            validate_raw,
            ("ingest",),
            "Great Expectations on the raw landing",
            isolated=True,
        ),
        # dbt builds even when the raw gate fails: staging quarantines the offending rows, and
        # the data team needs that quarantine to act on. Nothing is *published* past a failed gate.
        Stage("transform", transform, ("ingest",), "dbt build: staging → core → marts, with tests"),
        Stage(
            "validate-marts",
            validate_marts,
            ("transform",),
            "Great Expectations on the marts",
            isolated=True,
        ),
        Stage(
            "publish",
            publish,
            PUBLISH_GATES,
            "marts → MongoDB collections and pipelines",
            isolated=True,
        ),
        Stage("analyze", analyze, PUBLISH_GATES, "statistics and the HTML report", isolated=True),
        Stage(
            "export-tableau",
            export_tableau,
            PUBLISH_GATES,
            "Tableau Hyper extracts of the marts",
            isolated=True,
        ),
    ]
