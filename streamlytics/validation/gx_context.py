"""The committed GX file context (expectations/gx): open it, and (re)write it from the suite specs.

The context is generated from raw_suites.py / mart_suites.py and committed, so the data team
can read the suites as JSON and run the checkpoints with GX alone. The connection string is the
literal ``${DATABASE_URL}``: GX substitutes it from the environment (or from the
``runtime_environment`` given to :func:`open_context`) at run time; no secret is ever written.

GX checks every table asset against a live database when it is added, so building needs a
server: :func:`build_context` is given an empty scratch database, where it creates an empty
placeholder of each suite's table; nothing of that database ends up in the context.

Regenerate after changing a suite:  python -m streamlytics.validation.gx_context
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import great_expectations as gx
import psycopg2
from great_expectations.core.partitioners import PartitionerColumnValue
from great_expectations.data_context import FileDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig

from streamlytics.config import settings
from streamlytics.validation.domains import load_domains
from streamlytics.validation.mart_suites import mart_suites
from streamlytics.validation.raw_suites import raw_suites
from streamlytics.validation.specs import SuiteSpec

DATASOURCE = "streamlytics_postgres"
CONNECTION_STRING = "${DATABASE_URL}"
BATCH_DEFINITION = "whole_table"
# Batch definition of a SuiteSpec.per_load table: one batch per value of LOAD_COLUMN.
PER_LOAD_BATCH_DEFINITION = "per_load"
LOAD_COLUMN = "_load_id"
DOCS_SITE = "local_site"
# Runs listed on the Data Docs index: the newest 50 validation results (raw and marts together
# make 14 per pipeline run). GX reads every listed result from disk to draw the index, so an
# unbounded list makes each validation slower than the one before. Older results stay in the
# validations store, and their pages stay in the site; only the index stops linking them.
DOCS_INDEX_RESULTS = 50
# Files GX writes into a new context that the project does not use (and would only confuse).
_UNUSED = ("plugins",)


def default_project_dir() -> Path:
    """The folder holding the gx/ context and vendored Data Docs assets (expectations/ by default)."""
    return settings().gx_project_dir


def open_context(
    project_dir: Path | None = None, runtime_environment: dict[str, str] | None = None
) -> FileDataContext:
    """The file context under `project_dir`/gx; `runtime_environment` fills ``${...}`` substitutions."""
    project_dir = project_dir or default_project_dir()
    if not (project_dir / "gx" / "great_expectations.yml").is_file():
        raise FileNotFoundError(
            f"{project_dir / 'gx'} holds no GX context (great_expectations.yml): "
            "run `python -m streamlytics.validation.gx_context` to generate it."
        )
    return gx.get_context(
        mode="file", project_root_dir=project_dir, runtime_environment=runtime_environment
    )


def all_suites() -> list[SuiteSpec]:
    domains = load_domains(settings().dbt_project_dir)
    return [*raw_suites(domains), *mart_suites(domains)]


def checkpoint_name(stage: str) -> str:
    return f"{stage}_checkpoint"


def build_context(
    project_dir: Path, suites: Sequence[SuiteSpec], scratch_database_url: str
) -> FileDataContext:
    """Write a fresh context into `project_dir`/gx holding `suites`, one checkpoint per stage.

    Everything under gx/ except uncommitted/ is replaced, so the committed files are exactly
    what the specs say. `scratch_database_url` must name an empty database: empty placeholders
    of the suites' tables are created there for GX's connection checks.
    """
    _create_placeholders(scratch_database_url, suites)
    gx_dir = project_dir / "gx"
    if gx_dir.exists():
        for child in gx_dir.iterdir():
            if child.name != "uncommitted":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    context = gx.get_context(
        mode="file",
        project_root_dir=project_dir,
        runtime_environment={"DATABASE_URL": scratch_database_url},
    )
    _quiet(context)
    source = context.data_sources.add_postgres(name=DATASOURCE, connection_string=CONNECTION_STRING)
    definitions: dict[str, list[gx.ValidationDefinition]] = {}
    for spec in suites:
        asset = source.add_table_asset(
            name=spec.asset_name, schema_name=spec.schema, table_name=spec.table
        )
        batch = asset.add_batch_definition_whole_table(BATCH_DEFINITION)
        if spec.per_load:
            # GX only checks date partitioners against the data; a load id is an integer.
            batch = asset.add_batch_definition(
                PER_LOAD_BATCH_DEFINITION,
                partitioner=PartitionerColumnValue(column_name=LOAD_COLUMN),
                validate_partitioner=False,
            )
        suite = context.suites.add(gx.ExpectationSuite(name=spec.name, meta={"stage": spec.stage}))
        for expectation in spec.expectations:
            suite.add_expectation(expectation.copy(deep=True))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=spec.name, data=batch, suite=suite)
        )
        definitions.setdefault(spec.stage, []).append(definition)
    for stage, stage_definitions in definitions.items():
        context.checkpoints.add(
            gx.Checkpoint(
                name=checkpoint_name(stage),
                validation_definitions=stage_definitions,
                actions=[
                    gx.checkpoint.UpdateDataDocsAction(
                        name="update_data_docs", site_names=[DOCS_SITE]
                    )
                ],
                # SUMMARY keeps counts and a sample of unexpected values, without every row.
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
            )
        )
    for name in _UNUSED:
        shutil.rmtree(gx_dir / name, ignore_errors=True)
    return context


def _quiet(context: FileDataContext) -> None:
    # No usage statistics leave the machine, and no progress bars clutter the CLI's output.
    context.variables.config.analytics_enabled = False
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    sites = context.variables.data_docs_sites
    sites[DOCS_SITE]["site_index_builder"]["validation_results_limit"] = DOCS_INDEX_RESULTS
    context.variables.data_docs_sites = sites
    context.variables.save()


def _create_placeholders(database_url: str, suites: Sequence[SuiteSpec]) -> None:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        for schema, table in sorted({(s.schema, s.table) for s in suites}):
            cur.execute(f'create schema if not exists "{schema}"')
            cur.execute(f'create table if not exists "{schema}"."{table}" ()')


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """URL of a new empty database on the server of `server_url`, dropped on exit."""
    name = f"gx_build_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{name}"')
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def main() -> None:  # pragma: no cover - maintenance entry point
    from streamlytics import services

    project_dir = default_project_dir()
    with scratch_database(services.database_url()) as scratch:
        build_context(project_dir, all_suites(), scratch)
    print(f"wrote the GX context to {project_dir / 'gx'}")


if __name__ == "__main__":  # pragma: no cover
    main()
