"""Run a stage's checkpoint(s) against the database in use: the function the pipeline calls."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from streamlytics.config import Settings, settings
from streamlytics.validation import loads
from streamlytics.validation.gx_context import (
    BATCH_DEFINITION,
    DOCS_SITE,
    LOAD_COLUMN,
    all_suites,
    checkpoint_name,
    open_context,
)
from streamlytics.validation.offline_docs import make_offline
from streamlytics.validation.report import (
    ValidationReport,
    outcome_from_result,
    outcomes_from_suite_result,
)

STAGES = ("raw", "marts")
STAGE_CHOICES = (*STAGES, "all")
# Stages whose expectations are first evaluated with counts but no sample of offending values
# (one aggregate query per table), then again with the checkpoint's result format (counts and
# a sample) for the failed ones only. The raw landing holds millions of rows: GX's sample query
# for a met expectation (`... where not <rule> limit 10`) finds nothing to stop at and scans
# the whole table, once per expectation; with a sample size of 0 it reads nothing.
# The marts are small and keep full detail on every expectation.
COUNTS_FIRST_STAGES = ("raw",)
COUNTS_ONLY = {"result_format": "BASIC", "partial_unexpected_count": 0}


def stages_for(stage: str) -> tuple[str, ...]:
    """The checkpoints a `--stage` value runs; a clear error for anything else."""
    if stage == "all":
        return STAGES
    if stage not in STAGES:
        raise ValueError(
            f"unknown validation stage {stage!r}: use one of {', '.join(STAGE_CHOICES)}"
        )
    return (stage,)


def run_validation(
    stage: str = "all",
    *,
    project_dir: Path | None = None,
    database_url: str | None = None,
    reports_dir: Path | None = None,
    today: date | None = None,
    all_loads: bool = False,
    cfg: Settings | None = None,
) -> ValidationReport:
    """Validate `stage` (raw, marts or all), build offline Data Docs and save the report as JSON.

    The report is saved to `reports_dir`/validation/<stage>.json (default: the project's reports
    folder); GX keeps every run's full results under expectations/gx/uncommitted/validations.
    The warehouse is `cfg`'s (the project's settings by default): on PostgreSQL the database is
    `database_url`, else the one the project uses (DATABASE_URL or its own server); on Spark the
    same suites read the Spark tables (streamlytics/validation/spark_source.py).
    A per-load suite (raw_viewing_sessions) reads only the loads it has not validated yet and
    reports the kept outcomes of the others (streamlytics/validation/loads.py); `all_loads`
    reads every load again.
    Never raises on failed expectations: read ``report.passed``.
    """
    from great_expectations.core.run_identifier import RunIdentifier

    cfg = cfg or settings()
    today = today or date.today()
    stages = stages_for(stage)
    tables = _tables(cfg, database_url)
    context = open_context(project_dir, runtime_environment={"DATABASE_URL": tables.url})
    parameters = {"today": today.isoformat(), "current_year": today.year}
    started = datetime.now(UTC)
    run_at = started.isoformat(timespec="seconds")
    checkpoints = [context.checkpoints.get(checkpoint_name(name)) for name in stages]
    _require_tables(tables, [d for c in checkpoints for d in c.validation_definitions])
    # The checkpoints' validation definitions run here one by one rather than through
    # Checkpoint.run: its UpdateDataDocs action rebuilds the site (and re-lists every stored
    # result for the index) once per suite; the site is built once below instead.
    run_id = RunIdentifier(run_name=f"streamlytics-{stage}", run_time=started)
    per_load = {spec.name: spec.per_load for spec in all_suites() if spec.per_load}
    outcomes, built = [], []
    for name, checkpoint in zip(stages, checkpoints):
        counts_first = name in COUNTS_FIRST_STAGES
        for committed in checkpoint.validation_definitions:
            definition = tables.definition(committed)
            if definition.suite.name in per_load:
                suite_outcomes, keys = _validate_per_load(
                    context,
                    checkpoint,
                    definition,
                    parameters,
                    run_id,
                    tables,
                    file_kind=per_load[definition.suite.name],
                    counts_first=counts_first,
                    revalidate=all_loads,
                )
                outcomes.extend(suite_outcomes)
                built.extend(keys)
                continue
            result, key = _validate(
                context,
                checkpoint,
                definition,
                parameters,
                run_id,
                tables,
                counts_first=counts_first,
            )
            outcomes.extend(outcomes_from_suite_result(result))
            built.append(key)
    site_index = _build_docs(context, built)
    report = ValidationReport(
        stage=stage,
        outcomes=outcomes,
        run_at=run_at,
        data_docs_index=make_offline(site_index.parent) if site_index else None,
    )
    report.save((reports_dir or cfg.reports_dir) / "validation" / f"{stage}.json")
    return report


def _validate(
    context,
    checkpoint,
    definition,
    parameters: dict,
    run_id,
    tables,
    *,
    counts_first: bool,
    load_id: int | None = None,
):
    """Run one validation definition (on the batch of `load_id`, for a per-load suite); returns
    its suite result (as stored in `context`) and the result's key.

    With `counts_first`, every expectation is evaluated without a sample of offending values,
    then the failed ones again with the checkpoint's result format, and their detailed results
    replace the first ones in the stored result: samples where they matter, and only there.
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    batch_parameters = tables.batch_parameters(definition, load_id)
    result = definition.run(
        checkpoint_id=checkpoint.id,
        batch_parameters=batch_parameters,
        expectation_parameters=parameters,
        result_format=COUNTS_ONLY if counts_first else checkpoint.result_format,
        run_id=run_id,
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=definition.suite.name),
        run_id=run_id,
        batch_identifier=tables.batch_identifier(result.batch_id, load_id),
    )
    failed = {_check(r) for r in result.results if not r.success} if counts_first else set()
    if failed:
        detailed = _detail(
            definition, failed, parameters, checkpoint.result_format, batch_parameters
        )
        result.results = [detailed.get(_check(r), r) for r in result.results]
    if failed or tables.results_elsewhere:
        context.validation_results_store.set(key, result)
    return result, key


def _validate_per_load(
    context,
    checkpoint,
    definition,
    parameters: dict,
    run_id,
    tables,
    *,
    file_kind: str,
    counts_first: bool,
    revalidate: bool,
):
    """Validate the loads of `file_kind` that `definition`'s suite has not passed yet, one GX
    batch each; returns the suite's outcomes over every loaded load and the new results' keys."""
    suite = definition.suite
    suite_fingerprint = loads.fingerprint(suite)
    with tables.validated_loads() as record:
        pending, by_load = record.loads_to_validate(
            suite.name, file_kind, suite_fingerprint, revalidate
        )
        keys = []
        for load_id in pending:
            result, key = _validate(
                context,
                checkpoint,
                definition,
                parameters,
                run_id,
                tables,
                counts_first=counts_first,
                load_id=load_id,
            )
            by_load[load_id] = outcomes_from_suite_result(result)
            keys.append(key)
            if not any(o.fatal for o in by_load[load_id]):
                record.record_pass(suite.name, load_id, suite_fingerprint, by_load[load_id])
    if by_load:
        return loads.merge_loads(by_load), keys
    # No load landed a row: there is no batch to read, so the whole (empty) table is checked,
    # and has_rows says what is wrong. Not stored: there is no load to name the result after.
    whole = tables.whole_batch(definition)
    result = whole.validate(
        suite, result_format=checkpoint.result_format, expectation_parameters=parameters
    )
    return [outcome_from_result(suite.name, r) for r in result.results], []


def _check(result) -> str:
    # meta.check names an expectation uniquely within its suite (specs.named); copies of an
    # expectation get no id, so the check name is what pairs a detailed result with the first.
    return (result.expectation_config.meta or {}).get("check")


def _detail(
    definition, checks: set[str], parameters: dict, result_format, batch_parameters
) -> dict:
    """Results, by check name, of the expectations named `checks` of `definition`'s suite
    evaluated again on the same batch with `result_format`."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(
        name=definition.suite.name,
        expectations=[
            copy.copy(e)
            for e in definition.suite.expectations
            if (e.meta or {}).get("check") in checks
        ],
    )
    batch = definition.batch_definition.get_batch(batch_parameters=batch_parameters)
    detailed = batch.validate(suite, result_format=result_format, expectation_parameters=parameters)
    return {_check(r): r for r in detailed.results}


def _build_docs(context, result_keys: list) -> Path | None:
    """Render this run's result pages (and the pages of suites changed since theirs), then redraw
    the index: once per run, whatever the number of suites."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    suites = sorted({k.expectation_suite_identifier.name for k in result_keys})
    index = _docs_index(context)
    stale = [s for s in suites if index is None or _suite_page_stale(context, index.parent, s)]
    context.build_data_docs(
        site_names=[DOCS_SITE],
        resource_identifiers=[*result_keys, *(ExpectationSuiteIdentifier(name=s) for s in stale)],
    )
    return _docs_index(context)


def _suite_page_stale(context, site_dir: Path, suite: str) -> bool:
    # A suite's page renders only the committed suite, so it changes only when the suite does.
    page = site_dir / "expectations" / f"{suite}.html"
    source = Path(context.root_directory) / "expectations" / f"{suite}.json"
    try:
        return page.stat().st_mtime_ns < source.stat().st_mtime_ns
    except FileNotFoundError:
        return True


class MissingTablesError(ValueError):
    """A suite's table does not exist: the stage that builds it has not run on this database."""


def _require_tables(tables, definitions: list) -> None:
    # One clear message instead of every expectation failing with "relation does not exist".
    from streamlytics.dbt_relations import RelationError

    try:
        missing = tables.missing_tables(definitions)
    except RelationError as exc:  # Spark: no manifest yet, or a mart dbt does not define
        raise MissingTablesError(str(exc)) from exc
    if missing:
        raise MissingTablesError(
            f"{', '.join(missing)} not found in the {tables.engine} warehouse: raw tables come "
            "from `streamlytics ingest`, marts from dbt (`streamlytics transform`); run those first."
        )


def _tables(cfg: Settings, database_url: str | None):
    """The validation definitions bound to the warehouse `cfg` names."""
    from streamlytics import services

    if cfg.warehouse == "spark":
        from streamlytics.ingest.spark_landing import connect
        from streamlytics.validation.spark_source import SparkTables

        schemas = {spec.schema for spec in all_suites()}
        return SparkTables(cfg, connect(services.spark_remote(cfg)), schemas)
    return PostgresTables(database_url or services.database_url(cfg))


class PostgresTables:
    """The committed validation definitions as they are: their assets are tables of the
    PostgreSQL database at `url` (GX's connection string ``${DATABASE_URL}``)."""

    engine = "PostgreSQL"
    results_elsewhere = False
    """Results are stored by the committed context itself."""

    def __init__(self, url: str) -> None:
        self.url = url

    def missing_tables(self, definitions: list) -> list[str]:
        import psycopg2

        assets = [d.data.data_asset for d in definitions]
        names = sorted({f"{a.schema_name}.{a.table_name}" for a in assets})
        with closing(psycopg2.connect(self.url)) as conn, conn.cursor() as cur:
            cur.execute(
                "select name from unnest(%s::text[]) as name where to_regclass(name) is null",
                (names,),
            )
            return [row[0] for row in cur.fetchall()]

    def definition(self, committed: Any) -> Any:
        return committed

    def batch_parameters(self, definition: Any, load_id: int | None) -> dict | None:
        return None if load_id is None else {LOAD_COLUMN: load_id}

    def batch_identifier(self, batch_id: str, load_id: int | None) -> str:
        return batch_id  # the per-load partitioner names the load already

    def whole_batch(self, definition: Any) -> Any:
        return definition.data.data_asset.get_batch_definition(BATCH_DEFINITION).get_batch()

    @contextmanager
    def validated_loads(self) -> Iterator[loads.PostgresValidatedLoads]:
        import psycopg2

        with closing(psycopg2.connect(self.url)) as conn:
            yield loads.PostgresValidatedLoads(conn)


def _docs_index(context) -> Path | None:
    for site in context.get_docs_sites_urls(site_names=[DOCS_SITE]):
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return Path(url.removeprefix("file://"))
    return None
