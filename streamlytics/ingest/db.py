"""Connections and the landing schema: the database side of ingestion that is not a COPY."""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg2
import psycopg2.extensions

# pg_advisory_xact_lock key shared by every ingest transaction: concurrent loaders take
# turns, so two of them can never both decide that the same batch is new.
INGEST_LOCK_KEY = 0x5354524D_494E4753  # "STRMINGS"

# Errors that say the connection or server failed, not the data: the only ones worth a retry.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
)


def connect(database_url: str) -> psycopg2.extensions.connection:
    """A connection for loading: UTF-8, explicit transactions, named in pg_stat_activity."""
    conn = psycopg2.connect(database_url, application_name="streamlytics-ingest")
    conn.set_client_encoding("UTF8")
    return conn


def schema_sql() -> str:
    """The raw landing + audit DDL (streamlytics/ingest/schema.sql)."""
    return resources.files("streamlytics.ingest").joinpath("schema.sql").read_text(encoding="utf-8")


def lock(cursor: Any) -> None:
    """Serialise ingest transactions (held until commit or rollback)."""
    cursor.execute("select pg_advisory_xact_lock(%s)", (INGEST_LOCK_KEY,))


def apply_schema(conn: psycopg2.extensions.connection) -> None:
    """Create the raw and audit schemas, tables and views if they are missing (idempotent)."""
    with conn, conn.cursor() as cursor:
        lock(cursor)
        cursor.execute(schema_sql())
