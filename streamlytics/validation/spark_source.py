"""The committed suites on the Spark warehouse: a GX Spark data source built at run time.

The committed context (expectations/gx) has one data source, PostgreSQL's, whose table assets
name PostgreSQL's schemas; GX's SQL data sources cannot reach Spark Connect. On Spark,
run_validation keeps the committed context for what it stores (suites, results, Data Docs) and
runs each of its validation definitions through a twin in an ephemeral context: a Spark data
source with one dataframe asset per committed asset, a whole-dataframe batch definition, and a
copy of the committed suite whose SQL checks name the Spark relations. The batch is the table
read through Spark Connect (one load's rows for a per-load suite); GX computes every metric
on Spark. Nothing of the twin is written to expectations/gx.

Names: the suites call relations ``raw.users``, ``audit.load_batches``,
``marts.rpt_revenue_by_genre``. The landing's databases (``raw``, ``audit``) are the ingest's,
prefixed like dbt's schemas (Settings.schema_prefix); every other relation is a dbt model, found
where dbt's manifest says it is (streamlytics.dbt_relations).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from streamlytics.config import Settings
from streamlytics.validation.gx_context import LOAD_COLUMN
from streamlytics.validation.loads import SparkValidatedLoads

LANDING_SCHEMAS = ("raw", "audit")
"""Databases written by the Spark landing (streamlytics/ingest/spark_landing.py), not by dbt."""
DATASOURCE = "streamlytics_spark"
BATCH_DEFINITION = "whole_dataframe"


def landing_or_model(schema: str, table: str, prefix: str, model: Callable[[str], str]) -> str:
    """The Spark relation the suites call ``schema.table``: the prefixed landing database's
    table, or ``model(table)``, the dbt model's relation."""
    if schema in LANDING_SCHEMAS:
        return f"{prefix}{schema}.{table}"
    return model(table)


def qualify_query(query: str, schemas: Iterable[str], name: Callable[[str, str], str]) -> str:
    """``query`` with every ``schema.table`` of one of ``schemas`` replaced by ``name(schema,
    table)``, in a string literal too (the ledger checks label rows with the table they count);
    an alias's column (``b.load_id``) or a longer name (``x.raw.t``) is left alone."""
    pattern = re.compile(rf"(?<![\w.])({'|'.join(re.escape(s) for s in sorted(schemas))})\.(\w+)\b")
    return pattern.sub(lambda m: name(m.group(1), m.group(2)), query)


class SparkTables:
    """The committed validation definitions bound to the tables of one Spark warehouse."""

    engine = "Spark"
    results_elsewhere = True
    """The twins store their results in the ephemeral context: run.py copies them over."""
    url = "postgresql://unused.invalid/spark-warehouse"
    """What the committed PostgreSQL data source's ``${DATABASE_URL}`` is given: never read,
    only its assets' names are (the context substitutes the variable when it loads)."""

    def __init__(self, cfg: Settings, spark: Any, schemas: Iterable[str]) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.cfg = cfg
        self.spark = spark
        self.schemas = tuple(schemas)
        """The schemas the suites name (their tables' and their SQL checks')."""
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        # persist=False: GX would cache every batch on the server and never release it.
        self.source = self.context.data_sources.add_spark(DATASOURCE, persist=False)
        self._twins: dict[str, Any] = {}
        self._relations: dict[str, str] = {}
        self._refreshed: set[str] = set()

    def relation(self, schema: str, table: str) -> str:
        """The Spark relation of what the suites call ``schema.table`` (RelationError when a
        model is not in dbt's manifest)."""
        from streamlytics.dbt_relations import relation

        return landing_or_model(
            schema, table, self.cfg.schema_prefix, lambda model: str(relation(model, self.cfg))
        )

    def missing_tables(self, definitions: Iterable[Any]) -> list[str]:
        """Relations of ``definitions``' assets that the warehouse does not have."""
        missing = []
        for definition in definitions:
            asset = definition.data.data_asset
            name = self.relation(asset.schema_name, asset.table_name)
            if not self.spark.catalog.tableExists(name):
                missing.append(name)
        return sorted(set(missing))

    def definition(self, committed: Any) -> Any:
        """The Spark twin of the committed validation definition ``committed``: same name, same
        suite (its SQL checks naming the Spark relations), a dataframe batch of its table."""
        import great_expectations as gx

        if committed.name in self._twins:
            return self._twins[committed.name]
        asset = committed.data.data_asset
        table = self.relation(asset.schema_name, asset.table_name)
        self._relations[committed.name] = table
        spark_asset = self.source.add_dataframe_asset(
            asset.name, batch_metadata={"relation": table}
        )
        batch = spark_asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        suite = self.context.suites.add(
            gx.ExpectationSuite(
                name=committed.suite.name,
                expectations=[self._expectation(e) for e in committed.suite.expectations],
                meta=dict(committed.suite.meta or {}),
            )
        )
        twin = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=committed.name, data=batch, suite=suite)
        )
        self._twins[committed.name] = twin
        return twin

    def _expectation(self, expectation: Any) -> Any:
        twin = expectation.copy(deep=True)
        twin.id = None
        query = getattr(twin, "unexpected_rows_query", None)
        if query:
            twin.unexpected_rows_query = qualify_query(query, self.schemas, self._read)
        return twin

    def _read(self, schema: str, table: str) -> str:
        name = self.relation(schema, table)
        self._refresh(name)
        return name

    def _refresh(self, name: str) -> None:
        # dbt and the landing write through other sessions; the server may still list the
        # files it saw before (a view's refresh reaches the tables under it).
        if name not in self._refreshed:
            self.spark.catalog.refreshTable(name)
            self._refreshed.add(name)

    def batch_parameters(self, definition: Any, load_id: int | None = None) -> dict[str, Any]:
        """The batch of ``definition`` (a twin): its whole table, or the rows of one load."""
        from pyspark.sql import functions as F

        name = self._relations[definition.name]
        self._refresh(name)
        frame = self.spark.table(name)
        if load_id is not None:
            frame = frame.where(F.col(LOAD_COLUMN) == F.lit(load_id))
        return {"dataframe": frame}

    def batch_identifier(self, batch_id: str, load_id: int | None) -> str:
        """The stored result's batch id: a dataframe batch's id names no load, so a per-load
        result is named after its load as PostgreSQL's partitioner names it."""
        return batch_id if load_id is None else f"{batch_id}-{LOAD_COLUMN}_{load_id}"

    def whole_batch(self, definition: Any) -> Any:
        return definition.batch_definition.get_batch(
            batch_parameters=self.batch_parameters(definition)
        )

    @contextmanager
    def validated_loads(self) -> Iterator[SparkValidatedLoads]:
        """The record of validated loads in the landing's audit database."""
        yield SparkValidatedLoads(self.spark, f"{self.cfg.schema_prefix}audit")
