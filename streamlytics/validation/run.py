"""Run a stage's checkpoint(s) against the database in use: the function the pipeline calls."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from streamlytics.config import settings
from streamlytics.validation.gx_context import DOCS_SITE, checkpoint_name, open_context
from streamlytics.validation.offline_docs import make_offline
from streamlytics.validation.report import ValidationReport, outcomes_from_checkpoint

STAGES = ("raw", "marts")
STAGE_CHOICES = (*STAGES, "all")


def stages_for(stage: str) -> tuple[str, ...]:
    """The checkpoints a `--stage` value runs; a clear error for anything else."""
    if stage == "all":
        return STAGES
    if stage not in STAGES:
        raise ValueError(f"unknown validation stage {stage!r}: use one of {', '.join(STAGE_CHOICES)}")
    return (stage,)


def run_validation(
    stage: str = "all",
    *,
    project_dir: Path | None = None,
    database_url: str | None = None,
    reports_dir: Path | None = None,
    today: date | None = None,
) -> ValidationReport:
    """Validate `stage` (raw, marts or all), build offline Data Docs and save the report as JSON.

    The report is saved to `reports_dir`/validation/<stage>.json (default: the project's reports
    folder); GX keeps every run's full results under expectations/gx/uncommitted/validations.
    The database is `database_url`, else the one the project uses (DATABASE_URL or its own server).
    Never raises on failed expectations: read ``report.passed``.
    """
    from streamlytics import services

    cfg = settings()
    url = database_url or services.database_url(cfg)
    today = today or date.today()
    context = open_context(project_dir, runtime_environment={"DATABASE_URL": url})
    parameters = {"today": today.isoformat(), "current_year": today.year}
    run_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    checkpoints = [context.checkpoints.get(checkpoint_name(name)) for name in stages_for(stage)]
    _require_tables(url, [d.data.data_asset for c in checkpoints for d in c.validation_definitions])
    outcomes = []
    for checkpoint in checkpoints:
        outcomes.extend(outcomes_from_checkpoint(checkpoint.run(expectation_parameters=parameters)))
    site_index = _docs_index(context)
    report = ValidationReport(stage=stage, outcomes=outcomes, run_at=run_at,
                              data_docs_index=make_offline(site_index.parent) if site_index else None)
    report.save((reports_dir or cfg.reports_dir) / "validation" / f"{stage}.json")
    return report


class MissingTablesError(ValueError):
    """A suite's table does not exist: the stage that builds it has not run on this database."""


def _require_tables(database_url: str, assets: list) -> None:
    # One clear message instead of every expectation failing with "relation does not exist".
    import psycopg2

    names = sorted({f"{a.schema_name}.{a.table_name}" for a in assets})
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("select name from unnest(%s::text[]) as name where to_regclass(name) is null", (names,))
        missing = [row[0] for row in cur.fetchall()]
    conn.close()
    if missing:
        raise MissingTablesError(
            f"{', '.join(missing)} not found in the database: raw tables come from "
            "`streamlytics ingest`, marts from dbt (`streamlytics transform`); run those first."
        )


def _docs_index(context) -> Path | None:
    for site in context.get_docs_sites_urls(site_names=[DOCS_SITE]):
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return Path(url.removeprefix("file://"))
    return None
