"""Tableau Hyper extracts of the marts the dashboards read: one ``<mart>.hyper`` file per model.

Which marts: the models that the ``type: dashboard`` exposures of dbt's manifest depend on
(dbt_project/models/marts/dashboards/_dashboards__exposures.yml), at the relations dbt built them
(streamlytics/dbt_relations.py); no schema is named here. The marts are read through
streamlytics/warehouse.py, from the engine the switch names.

Rows never pass through Python one by one, and a mart is never whole in this process's memory:
- PostgreSQL writes each mart as CSV (``COPY ... TO STDOUT``) into a temporary file, and Hyper
  loads that file with its own ``COPY ... FROM``. All marts are read in one repeatable-read
  transaction, so the extracts are one consistent snapshot.
- Spark sends each mart as Arrow record batches (Spark Connect's stream), written batch by batch
  to a temporary Parquet file that Hyper reads with ``external()``. Parquet tables have no
  snapshots: each mart is read once, as it is when its turn comes.
This process's memory therefore stays flat whatever the mart's size (hyperd's own buffers grow
slowly with the file: see benchmarks/bench_tableau_export.py); the cost is one temporary file on
disk per mart, deleted at once. Both engines give the same Hyper table: same columns, types
(from the contract's, which both engines build) and NOT NULL columns.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

from streamlytics.config import Settings
from streamlytics.dbt_relations import (
    Contract,
    Relation,
    RelationError,
    exposed_relations,
    model_contract,
)

HYPER_SCHEMA = "Extract"
# Hyper files at the default database version hold 64-bit numerics only (precision <= 18);
# wider or unconstrained numerics become double, which is what Tableau computes in anyway.
HYPER_MAX_NUMERIC_PRECISION = 18


class TableauExportError(RuntimeError):
    """An extract could not be written; the message names the mart and what to do."""


@dataclass(frozen=True)
class ColumnSpec:
    """How one column of a mart lands in Hyper."""

    name: str
    warehouse_type: str
    """The column's type as the warehouse names it (PostgreSQL's or Spark's)."""
    hyper_type: str
    """A Hyper SQL type name understood by tableauhyperapi.SqlType (e.g. ``numeric(10,2)``)."""
    nullable: bool
    cast_to_text: bool = False
    """True for types Hyper has no equivalent for (json, uuid, arrays, ...): exported as text."""


@dataclass(frozen=True)
class MartExtract:
    mart: str
    path: Path
    rows: int
    columns: int


def hyper_type_for(
    data_type: str,
    numeric_precision: int | None = None,
    numeric_scale: int | None = None,
    character_maximum_length: int | None = None,
) -> tuple[str, bool]:
    """The Hyper type for an ``information_schema.columns.data_type``, and whether to cast to text.

    Every type the marts use maps to its exact Hyper counterpart; anything else is exported as
    text rather than refused, so a new column type never blocks an extract.
    """
    exact = {
        "text": "text",
        "smallint": "small_int",
        "integer": "int",
        "bigint": "big_int",
        "real": "double",
        "double precision": "double",
        "boolean": "bool",
        "date": "date",
        "time without time zone": "time",
        "timestamp without time zone": "timestamp",
        "timestamp with time zone": "timestamp_tz",
        "interval": "interval",
    }
    if data_type in exact:
        return exact[data_type], False
    if data_type == "numeric":
        if numeric_precision is None or numeric_precision > HYPER_MAX_NUMERIC_PRECISION:
            return "double", False
        return f"numeric({numeric_precision},{numeric_scale or 0})", False
    if data_type == "character varying":
        return (
            f"varchar({character_maximum_length})" if character_maximum_length else "text"
        ), False
    if data_type == "character":
        return f"char({character_maximum_length or 1})", False
    return "text", True


def _sql_type(hyper_type: str):  # -> tableauhyperapi.SqlType
    from tableauhyperapi import SqlType

    name, _, args = hyper_type.partition("(")
    factory = getattr(SqlType, name)
    if not args:
        return factory()
    return factory(*(int(a) for a in args.rstrip(")").split(",")))


def dashboard_marts() -> list[Relation]:
    """The models the manifest's dashboard exposures depend on (TableauExportError if none)."""
    try:
        return exposed_relations("dashboard")
    except RelationError as exc:
        raise TableauExportError(str(exc)) from exc


def mart_columns(conn, schema: str, table: str) -> list[ColumnSpec]:
    """The columns of a PostgreSQL relation, as its catalog has them (empty: no such relation)."""
    with conn.cursor() as cur:
        cur.execute(
            "select column_name, data_type, numeric_precision, numeric_scale, "
            "character_maximum_length, is_nullable = 'YES' "
            "from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position",
            (schema, table),
        )
        specs = []
        for name, data_type, precision, scale, length, nullable in cur.fetchall():
            hyper_type, cast = hyper_type_for(data_type, precision, scale, length)
            specs.append(ColumnSpec(name, data_type, hyper_type, nullable, cast))
        return specs


_SPARK_EXACT = {
    "string": "text",
    "tinyint": "small_int",
    "smallint": "small_int",
    "int": "int",
    "bigint": "big_int",
    "float": "double",
    "double": "double",
    "boolean": "bool",
    "date": "date",
    "timestamp": "timestamp_tz",
    "timestamp_ntz": "timestamp",
}
_SPARK_PARAMETERISED = re.compile(r"(decimal|varchar|char)\((\d+)(?:,(\d+))?\)")


def spark_hyper_type(spark_type: str) -> tuple[str, bool]:
    """The Hyper type for a Spark SQL type (``describe``'s spelling), and whether to cast to text.

    The same Hyper type as :func:`hyper_type_for` gives the PostgreSQL type of the same contract
    column: string and text are text, decimal(p,s) is numeric(p,s), Spark's timestamp (an
    instant) is timestamp_tz as PostgreSQL's timestamptz is.
    """
    if spark_type in _SPARK_EXACT:
        return _SPARK_EXACT[spark_type], False
    match = _SPARK_PARAMETERISED.fullmatch(spark_type.replace(" ", ""))
    if match is None:
        return "text", True
    kind, first, second = match.groups()
    if kind == "decimal":
        return hyper_type_for("numeric", int(first), int(second or 0))
    return hyper_type_for(
        "character varying" if kind == "varchar" else "character", None, None, int(first)
    )


def spark_mart_columns(conn, mart: Relation) -> list[ColumnSpec]:
    """The columns of a mart on Spark (empty: not built), as PostgreSQL's table has them: in the
    contract's order (Spark puts partition columns last) and NOT NULL where the contract says
    (Parquet tables keep no NOT NULL)."""
    try:
        described = conn.columns(f"select * from {mart}")
    except conn.Error:
        return []
    try:
        contract = model_contract(mart.model)
    except RelationError:  # a relation dbt does not know: no contract promises anything
        contract = Contract((), frozenset())
    position = {name: i for i, name in enumerate(contract.columns)}
    described.sort(key=lambda column: position.get(column[0], len(position)))
    specs = []
    for name, spark_type, _ in described:
        hyper_type, cast = spark_hyper_type(spark_type)
        specs.append(ColumnSpec(name, spark_type, hyper_type, name not in contract.not_null, cast))
    return specs


def _copy_query(mart: Relation, columns: list[ColumnSpec]) -> sql.Composed:
    # The query is a plain select of the mart's columns (standard casts only); COPY is only how
    # PostgreSQL streams its answer as CSV.
    select_list = sql.SQL(", ").join(
        sql.SQL("cast({} as text)").format(sql.Identifier(c.name))
        if c.cast_to_text
        else sql.Identifier(c.name)
        for c in columns
    )
    return sql.SQL("copy (select {} from {}) to stdout with (format csv)").format(
        select_list, sql.Identifier(mart.schema, mart.identifier)
    )


def _table_definition(table: str, columns: list[ColumnSpec]):
    from tableauhyperapi import Nullability, TableDefinition, TableName

    return TableDefinition(
        TableName(HYPER_SCHEMA, table),
        [
            TableDefinition.Column(
                c.name,
                _sql_type(c.hyper_type),
                Nullability.NULLABLE if c.nullable else Nullability.NOT_NULLABLE,
            )
            for c in columns
        ],
    )


def _is_spark(conn) -> bool:
    from streamlytics.warehouse import SparkConnection

    return isinstance(conn, SparkConnection)


def _where(conn) -> str:
    return "the Spark warehouse" if _is_spark(conn) else f"database {conn.info.dbname!r}"


def _postgres_csv(conn, mart: Relation, columns: list[ColumnSpec], path: Path) -> int:
    """The mart as CSV in ``path`` (PostgreSQL's COPY); rows written."""
    with conn.cursor() as cur, path.open("w", encoding="utf-8", newline="") as fh:
        cur.copy_expert(_copy_query(mart, columns).as_string(conn), fh)
        return cur.rowcount


def _spark_parquet(conn, mart: Relation, columns: list[ColumnSpec], path: Path) -> int:
    """The mart as Parquet in ``path``, one row group per Arrow batch Spark sends; rows written
    (0: no file)."""
    import pyarrow.parquet as pq

    select_list = ", ".join(
        f"cast(`{c.name}` as string) as `{c.name}`" if c.cast_to_text else f"`{c.name}`"
        for c in columns
    )
    rows = 0
    writer = None
    try:
        for piece in conn.arrow_batches(f"select {select_list} from {mart}"):
            if writer is None:
                writer = pq.ParquetWriter(path, piece.schema)
            writer.write_table(piece.cast(writer.schema))
            rows += piece.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


_HYPER_SQL = {
    "double": "double precision",
    "big_int": "bigint",
    "small_int": "smallint",
    "int": "integer",
    "bool": "boolean",
    "timestamp_tz": "timestamp with time zone",
}


def _parquet_insert(table_name, columns: list[ColumnSpec], path: Path) -> str:
    """Hyper's statement loading the Parquet file: each column cast to its Hyper type (Hyper's
    COPY from Parquet converts nothing, e.g. a decimal(28,6) into a double column)."""
    from tableauhyperapi import Name, escape_string_literal

    select_list = ", ".join(
        f"cast({Name(c.name)} as {_HYPER_SQL.get(c.hyper_type, c.hyper_type)})" for c in columns
    )
    return (
        f"insert into {table_name} select {select_list} "
        f"from external({escape_string_literal(str(path))}, format => 'parquet')"
    )


def _export_one(conn, hyper, mart: Relation, out_dir: Path, scratch: Path) -> MartExtract:
    from tableauhyperapi import Connection, CreateMode, escape_string_literal

    table = mart.model
    spark = _is_spark(conn)
    columns = (
        spark_mart_columns(conn, mart)
        if spark
        else mart_columns(conn, mart.schema, mart.identifier)
    )
    if not columns:
        raise TableauExportError(
            f"mart {mart.model!r} ({mart}) does not exist in {_where(conn)}: "
            "build the marts first (`dbt build` / `streamlytics run`)."
        )
    definition = _table_definition(table, columns)
    if spark:
        data_path = scratch / f"{table}.parquet"
        sent = _spark_parquet(conn, mart, columns, data_path)
        load = _parquet_insert(definition.table_name, columns, data_path) if sent else None
    else:
        data_path = scratch / f"{table}.csv"
        sent = _postgres_csv(conn, mart, columns, data_path)
        # Hyper's CSV reader and PostgreSQL's CSV writer agree: unquoted empty = NULL, "" = ''.
        load = (
            f"COPY {definition.table_name} FROM {escape_string_literal(str(data_path))} "
            "WITH (format csv, delimiter ',', NULL '', header false)"
        )
    # Written under a temporary name and renamed: a failed export never leaves a half extract.
    final = out_dir / f"{table}.hyper"
    partial = out_dir / f".{table}.hyper.partial"
    with Connection(hyper.endpoint, str(partial), CreateMode.CREATE_AND_REPLACE) as hconn:
        hconn.catalog.create_schema_if_not_exists(HYPER_SCHEMA)
        hconn.catalog.create_table(definition)
        hyper_rows = hconn.execute_command(load) if load else 0
    data_path.unlink(missing_ok=True)
    if hyper_rows != sent:
        partial.unlink(missing_ok=True)
        raise TableauExportError(
            f"mart {mart}: the warehouse sent {sent} rows but Hyper loaded {hyper_rows}; "
            "the extract was not written."
        )
    partial.replace(final)
    return MartExtract(table, final, hyper_rows, len(columns))


def _start_hyper(log_dir: Path):
    from tableauhyperapi import HyperProcess, Telemetry

    log_dir.mkdir(parents=True, exist_ok=True)
    # hyperd writes an ever-growing log into the working directory unless told otherwise.
    parameters = {"log_dir": str(log_dir), "log_file_max_count": "2", "log_file_size_limit": "10M"}
    return HyperProcess(
        telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=parameters
    )


def export_marts(
    out_dir: Path,
    database_url: str | None = None,
    marts: list[Relation] | None = None,
    log_dir: Path | None = None,
    cfg: Settings | None = None,
) -> list[MartExtract]:
    """Write ``<out_dir>/<model>.hyper`` for every mart, from the warehouse in use.

    ``marts`` defaults to :func:`dashboard_marts`; ``database_url`` is PostgreSQL's (default:
    the one in use), ignored on Spark. Each file holds one table ``"Extract"."<model>"`` with
    the mart's columns, types, NOT NULL columns and exactly its rows (checked against the count
    the warehouse sent); on PostgreSQL the marts are one consistent snapshot. Raises
    TableauExportError when there is no manifest or dashboard exposure, or a mart is not built.
    """
    from streamlytics import warehouse
    from streamlytics.config import settings

    cfg = cfg or settings()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = warehouse.connect(cfg, database_url)
    try:
        if cfg.warehouse != "spark":
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with conn.cursor() as cur:
                # Timestamps with time zone are written in UTC so Hyper stores the same instant.
                cur.execute("set local timezone = 'UTC'; set local datestyle = 'ISO, YMD'")
        marts = dashboard_marts() if marts is None else marts
        with (
            _start_hyper(log_dir or cfg.state_dir / "logs" / "hyper") as hyper,
            tempfile.TemporaryDirectory(prefix=".scratch-", dir=out_dir) as scratch,
        ):
            return [_export_one(conn, hyper, m, out_dir, Path(scratch)) for m in marts]
    finally:
        conn.rollback()
        conn.close()


def row_counts(extracts: list[MartExtract]) -> dict[str, int]:
    """Rows per mart, as run_summary.json reports them."""
    return {e.mart: e.rows for e in extracts}


def read_extract_count(path: Path, log_dir: Path | None = None) -> int:
    """Rows in the single table of a .hyper file written by :func:`export_marts`."""
    from tableauhyperapi import Connection, TableName

    from streamlytics.config import settings

    mart = Path(path).stem
    with (
        _start_hyper(log_dir or settings().state_dir / "logs" / "hyper") as hyper,
        Connection(hyper.endpoint, str(path)) as hconn,
    ):
        return int(
            hconn.execute_scalar_query(f"select count(*) from {TableName(HYPER_SCHEMA, mart)}")
        )
