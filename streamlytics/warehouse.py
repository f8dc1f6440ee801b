"""One reader for the consumers of the dbt models: a DB-API connection to the warehouse in use.

``connect()`` gives psycopg2's connection on PostgreSQL and :class:`SparkConnection` on Spark
(STREAMLYTICS_WAREHOUSE=spark): the same ``cursor().execute(sql, params)`` / ``fetch*`` /
``description`` on both, so a consumer that writes portable SQL (``select <columns> from
<relation>``, relations from streamlytics.dbt_relations) reads either engine unchanged.

On Spark the statement runs through Spark Connect and the rows come back as Arrow, converted
to the Python values psycopg2 gives (Decimal, date, aware UTC datetime, str, int, float).
psycopg2's parameter markers (``%s``, ``%(name)s``) become Spark's (``?``, ``:name``).

A relation too large to hold (the session log's aggregates at 10 M sessions) is read with
:func:`stream_rows`: a named cursor on both engines, a server-side one on PostgreSQL, the
result's Arrow batches as Spark Connect streams them on Spark.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any, Self

from streamlytics.config import Settings, settings


def connect(
    cfg: Settings | None = None, database_url: str | None = None, *, readonly: bool = False
) -> Any:
    """A DB-API connection to the warehouse the switch names (PostgreSQL: ``database_url`` or
    the one in use; Spark: SPARK_REMOTE's or the project's Connect server).

    ``readonly``: PostgreSQL's transactions refuse writes (a reader's guard); a Spark
    connection only ever reads through this module anyway.
    """
    from streamlytics import services

    cfg = cfg or settings()
    if cfg.warehouse == "spark":
        from streamlytics.ingest.spark_landing import connect as spark_session

        return SparkConnection(spark_session(services.spark_remote(cfg)))
    import psycopg2

    conn = psycopg2.connect(database_url or services.database_url(cfg))
    if readonly:
        conn.set_session(readonly=True)
    return conn


STREAM_BATCH = 10_000
"""Rows a PostgreSQL server-side cursor fetches per round trip in :func:`stream_rows`."""

_STREAM_IDS = itertools.count()


def stream_rows(
    conn: Any,
    sql: str,
    params: Sequence[Any] | dict[str, Any] | None = None,
    *,
    batch_size: int = STREAM_BATCH,
) -> Iterator[tuple[Any, ...]]:
    """The rows of ``sql``, in its order, never the whole result in this process at once.

    PostgreSQL: a named (server-side) cursor fetching ``batch_size`` rows per round trip, in
    the connection's transaction (so several streams of one connection read one snapshot).
    Spark: the result's Arrow batches as Spark Connect sends them (at most
    ``spark.connect.grpc.arrow.maxBatchSize``, 4 MB by default), converted one at a time.
    The cursor closes when the stream is exhausted or closed.
    """
    with contextlib.closing(stream_batches(conn, sql, params, batch_size=batch_size)) as batches:
        for rows in batches:
            yield from rows


def stream_batches(
    conn: Any,
    sql: str,
    params: Sequence[Any] | dict[str, Any] | None = None,
    *,
    batch_size: int = STREAM_BATCH,
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of :func:`stream_rows`, handed out as lists of at most ``batch_size`` rows (one
    fetch each), for a consumer that converts a batch at a time."""
    with conn.cursor(name=f"streamlytics_stream_{next(_STREAM_IDS)}") as cur:
        cur.itersize = batch_size
        cur.execute(sql, params)
        while rows := cur.fetchmany(batch_size):
            yield rows


def undefined_relation(exc: BaseException) -> bool:
    """Whether ``exc`` is the warehouse saying a relation does not exist (either engine)."""
    import psycopg2

    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return True
    condition = getattr(exc, "getCondition", None)
    return callable(condition) and condition() == "TABLE_OR_VIEW_NOT_FOUND"


def reader_errors() -> tuple[type[Exception], ...]:
    """The base classes of every error a warehouse read may raise (Spark's when installed)."""
    import psycopg2

    try:
        from pyspark.errors import PySparkException
    except ImportError:  # the spark extra is optional
        return (psycopg2.Error,)
    return (psycopg2.Error, PySparkException)


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


def _arrow_rows(table: Any) -> list[tuple[Any, ...]]:
    """An Arrow table's rows as tuples of the Python values psycopg2 gives."""
    columns = [column.to_pylist() for column in table.columns]
    return list(zip(*columns)) if columns else []


def _description(schema: Any) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        (field.name, str(field.type), None, None, None, None, field.nullable) for field in schema
    )


def _arrow_batches(frame: Any) -> Iterator[Any]:
    """A Spark Connect DataFrame's result as Arrow tables, one per batch the server sends.

    The iterator behind ``DataFrame.toLocalIterator`` (pyspark 4.x Connect), without its
    conversion to Row objects: the batches stay Arrow, converted as the whole-result path does.
    """
    from pyspark.sql.types import StructType

    client = frame._session.client
    for item in client.to_table_as_iterator(frame._plan.to_proto(client), frame._plan.observations):
        if not isinstance(item, StructType):
            yield item


class SparkCursor:
    """DB-API cursor over a Spark Connect session (read-only use: selects and metadata).

    ``streaming`` (a named cursor, as on PostgreSQL): the rows arrive batch by batch as they
    are fetched, and ``rowcount`` stays -1; otherwise the whole result is read by ``execute``.
    """

    arraysize = 1000
    itersize = 10_000
    """Accepted for psycopg2's named-cursor interface; Spark decides its own batch sizes."""

    def __init__(self, spark: Any, *, streaming: bool = False) -> None:
        self._spark = spark
        self._streaming = streaming
        self._batches: Iterator[Any] = iter(())
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount = -1

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        statement, args = spark_statement(sql, params)
        frame = self._spark.sql(statement, args=args)
        self._next = 0
        if not self._streaming:
            table = frame.toArrow()
            self.description = _description(table.schema)
            self._rows = _arrow_rows(table)
            self._batches = iter(())
            self.rowcount = len(self._rows)
            return
        self._batches = _arrow_batches(frame)
        first = next(self._batches, None)
        if first is None:  # no batch at all: the columns from the plan
            from pyspark.sql.pandas.types import to_arrow_schema

            self.description = _description(to_arrow_schema(frame.schema))
            self._rows = []
        else:
            self.description = _description(first.schema)
            self._rows = _arrow_rows(first)
        self.rowcount = -1

    def _fill(self) -> bool:
        """Whether a row is ready, reading the next batches of a stream as needed."""
        while self._next >= len(self._rows):
            table = next(self._batches, None)
            if table is None:
                return False
            self._rows, self._next = _arrow_rows(table), 0
        return True

    def fetchone(self) -> tuple[Any, ...] | None:
        if not self._fill():
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        wanted = size or self.arraysize
        rows: list[tuple[Any, ...]] = []
        while len(rows) < wanted and self._fill():
            start = self._next
            self._next = min(len(self._rows), start + wanted - len(rows))
            rows.extend(self._rows[start : self._next])
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        while self._fill():
            rows.extend(self._rows[self._next :])
            self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while self._fill():
            # Hand out the current batch without a call per row.
            rows, start = self._rows, self._next
            self._next = len(rows)
            yield from itertools.islice(rows, start, None)

    def close(self) -> None:
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()  # a stream left early stops reading the server's answer
        self._batches = iter(())
        self._rows = []
        self._next = 0

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
        for piece in _arrow_batches(self.spark.sql(sql)):
            if piece.num_rows:
                yield piece

    def cursor(self, name: str | None = None) -> SparkCursor:
        """A named cursor streams, as psycopg2's server-side one does (:func:`stream_rows`)."""
        return SparkCursor(self.spark, streaming=name is not None)

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
