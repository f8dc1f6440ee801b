"""One reader for the consumers of the dbt models: a DB-API connection to the warehouse in use.

``connect()`` gives psycopg2's connection on PostgreSQL and :class:`SparkConnection` on Spark
(STREAMLYTICS_WAREHOUSE=spark): the same ``cursor().execute(sql, params)`` / ``fetch*`` /
``description`` on both, so a consumer that writes portable SQL (``select <columns> from
<relation>``, relations from streamlytics.dbt_relations) reads either engine unchanged.

On Spark the statement runs through Spark Connect and the rows come back as Arrow, converted
to the Python values psycopg2 gives (Decimal, date, aware UTC datetime, str, int, float).
psycopg2's parameter markers (``%s``, ``%(name)s``) become Spark's (``?``, ``:name``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Self

from streamlytics.config import Settings, settings


def connect(cfg: Settings | None = None, database_url: str | None = None) -> Any:
    """A DB-API connection to the warehouse the switch names (PostgreSQL: ``database_url`` or
    the one in use; Spark: SPARK_REMOTE's or the project's Connect server)."""
    from streamlytics import services

    cfg = cfg or settings()
    if cfg.warehouse == "spark":
        from streamlytics.ingest.spark_landing import connect as spark_session

        return SparkConnection(spark_session(services.spark_remote(cfg)))
    import psycopg2

    return psycopg2.connect(database_url or services.database_url(cfg))


def models_reader(pg_conn: Any, cfg: Settings | None = None) -> Any:
    """The connection to read dbt's models from, for a consumer that also writes PostgreSQL
    (the statistics persist their runs there): ``pg_conn`` itself on PostgreSQL, so reads and
    writes share one transaction; a Spark connection on Spark."""
    cfg = cfg or settings()
    return connect(cfg) if cfg.warehouse == "spark" else pg_conn


_MARKERS = re.compile(r"%\((\w+)\)s|%s|%%")


def spark_statement(
    sql: str, params: Sequence[Any] | dict[str, Any] | None
) -> tuple[str, list[Any] | dict[str, Any] | None]:
    """psycopg2's markers as Spark's: ``%s`` → ``?`` (positional), ``%(name)s`` → ``:name``."""
    if params is None:
        return sql, None
    named = isinstance(params, dict)

    def marker(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if (match.group(1) is not None) != named:
            raise TypeError("mix of named and positional parameters in one statement")
        return f":{match.group(1)}" if named else "?"

    converted = _MARKERS.sub(marker, sql)
    return converted, (dict(params) if named else list(params))


class SparkCursor:
    """DB-API cursor over a Spark Connect session (read-only use: selects and metadata)."""

    arraysize = 1000

    def __init__(self, spark: Any) -> None:
        self._spark = spark
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount = -1

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        statement, args = spark_statement(sql, params)
        table = self._spark.sql(statement, args=args).toArrow()
        self.description = tuple(
            (field.name, str(field.type), None, None, None, None, field.nullable)
            for field in table.schema
        )
        columns = [column.to_pylist() for column in table.columns]
        self._rows = list(zip(*columns)) if columns else []
        self._next = 0
        self.rowcount = len(self._rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        start = self._next
        self._next = min(len(self._rows), start + (size or self.arraysize))
        return self._rows[start : self._next]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        self._rows = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SparkConnection:
    """DB-API connection over a Spark Connect session. Parquet tables have no transactions:
    commit and rollback do nothing (a reader has nothing to undo)."""

    def __init__(self, spark: Any) -> None:
        from pyspark.errors import PySparkException

        self.spark = spark
        self.Error = PySparkException
        """DB-API's optional extension: the driver's error base class (python_models reads it)."""

    def columns(self, sql: str) -> list[tuple[str, str, bool]]:
        """(name, Spark SQL type as ``describe`` writes it, nullable) of each column of the answer
        to ``sql``; Spark analyses the query without running it."""
        return [
            (field.name, field.dataType.simpleString(), field.nullable)
            for field in self.spark.sql(sql).schema.fields
        ]

    def arrow_batches(self, sql: str) -> Iterator[Any]:
        """The answer to ``sql`` as ``pyarrow.Table`` pieces, one per batch Spark Connect sends
        (a few MB each), yielded as they arrive: the whole answer is never in memory.

        DataFrame.toArrow collects the whole answer and toLocalIterator turns every value into a
        Row; this is the stream both are built on (pyspark's Connect client,
        ``to_table_as_iterator``), kept whole as Arrow.
        """
        import pyarrow as pa

        frame = self.spark.sql(sql)
        client = frame._session.client
        plan = frame._plan
        for piece in client.to_table_as_iterator(plan.to_proto(client), plan.observations):
            if isinstance(piece, pa.Table) and piece.num_rows:
                yield piece

    def cursor(self, name: str | None = None) -> SparkCursor:
        # A named (server-side) cursor streams on PostgreSQL; Spark's result arrives as Arrow
        # batches either way, so the name changes nothing.
        return SparkCursor(self.spark)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass  # the session is shared by the process (getOrCreate); the server keeps it

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
