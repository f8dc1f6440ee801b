"""What each pipeline stage does: one small function per stage, calling that stage's own module.

Order and gates are streamlytics.pipeline.PIPELINE: ingest → validate-raw → transform →
validate-marts → publish → analyze → export-tableau. A stage runs only when every stage it
``needs`` completed; the publishing stages need both validation gates. The ingest stage is the
ingest flow itself (flows/ingest.py): its tasks are the stage's steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamlytics import services
from streamlytics.config import settings
from streamlytics.pipeline import GateFailed, RunContext

DEFAULT_SCALE = 1.0
DEFAULT_SEED = 42
RAW_FILES = ("users.csv", "content.json", "viewing_sessions.csv")


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


def transform(ctx: RunContext, on_output: Callable[[str], None] | None = None) -> dict[str, Any]:
    """dbt build of the whole project; ``on_output`` receives dbt's console lines as they come."""
    from streamlytics.transform import run_build

    result = run_build(on_output=on_output)
    detail = result.summary()
    if not result.ok:
        failed = [f.describe() for f in result.failures[:10]] or [
            f"dbt exited {result.return_code}"
        ]
        raise GateFailed(f"dbt build failed: {'; '.join(failed)}", detail)
    return detail


def publish(ctx: RunContext) -> dict[str, Any]:
    from mongo.stage import run_publish_stage

    return run_publish_stage(
        ctx.database_url, ctx.mongodb_uri, ctx.cfg.mongodb_db, cfg=ctx.cfg
    ).summary()


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
        "rows": row_counts(export_marts(out, ctx.database_url, cfg=ctx.cfg)),
    }


def dashboards(ctx: RunContext) -> dict[str, Any]:
    import contextlib

    from streamlytics import warehouse
    from streamlytics.dashboards import build_dashboards

    with contextlib.closing(warehouse.connect(ctx.cfg, ctx.database_url)) as conn:
        page = build_dashboards(conn, ctx.reports_dir)
    return {"outputs": {"Dashboards": str(page)}}
