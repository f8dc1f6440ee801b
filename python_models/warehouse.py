"""Read dbt models into data frames with plain, portable SQL.

The statistics and the report name the dbt models they read; where dbt built each one comes
from its manifest (streamlytics.dbt_relations). Queries are ``select <columns> from
<relation>``: no engine-specific SQL, so the same code reads PostgreSQL today and another
engine behind a DB-API connection later. Ordering, type conversion and reshaping happen here,
in Python, where they do not depend on the engine's collation or numeric types.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from streamlytics.dbt_relations import RelationError, relation
from streamlytics.warehouse import stream_batches

__all__ = ["RelationError", "model_exists", "query_frame", "read_model", "relation_exists"]


def query_frame(
    conn: Any, sql: str, params: tuple[Any, ...] | dict[str, Any] | None = None
) -> pd.DataFrame:
    """Run a query on a DB-API connection and return its rows as a data frame."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [c[0] for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def model_exists(conn: Any, model: str) -> bool:
    """Whether dbt knows `model` (its manifest) and has built it in the connected warehouse.

    A failed probe is rolled back, so call this before any write of the caller's transaction.
    """
    try:
        name = relation(model)
    except RelationError:
        return False
    return relation_exists(conn, str(name))


def relation_exists(conn: Any, name: str) -> bool:
    """Whether `name` (``schema.table``) can be read; a failed probe is rolled back."""
    try:
        with conn.cursor() as cur:
            cur.execute(f"select 1 from {name} where 1 = 0")
            cur.fetchall()
    except _driver_error(conn):
        conn.rollback()
        return False
    return True


def _driver_error(conn: Any) -> type[Exception]:
    # DB-API's optional extension: a connection names its driver's Error base class.
    return getattr(conn, "Error", Exception)


READ_BATCH = 50_000
"""Rows of a model that read_model holds as Python objects at a time (see there)."""


def read_model(
    conn: Any,
    model: str,
    columns: Sequence[str],
    *,
    floats: Sequence[str] = (),
    dates: Sequence[str] = (),
    order_by: Sequence[str] = (),
) -> pd.DataFrame:
    """Every row of dbt model `model`, with `columns` (in that order).

    `floats` become float64 (exact decimals and integers as the statistics use them), `dates`
    datetime64; `order_by` sorts in Python (byte order of strings, the same on every engine).

    The rows arrive in batches of READ_BATCH (a server-side cursor, streamlytics.warehouse's
    stream_batches), each converted before the next is fetched: a driver's rows are tuples of
    Python objects (a Decimal, a str per value), ten times the size of the columns they become,
    so a per-user model (ana_user_session_groups: ten rows a user) held whole as rows was the
    analysis's peak of memory. Each column's dtype is the one the whole result would infer.
    """
    names = list(columns)
    sql = f"select {', '.join(names)} from {relation(model)}"
    parts = [
        _converted(pd.DataFrame(rows, columns=names), floats, dates)
        for rows in stream_batches(conn, sql, batch_size=READ_BATCH)
    ]
    if not parts:
        frame = _converted(pd.DataFrame([], columns=names), floats, dates)
    elif len(parts) == 1:
        frame = parts[0]
    else:
        frame = _combined(parts, names)
    del parts  # the batches' copy is not held beside the sorted one
    if order_by:
        frame = frame.sort_values(list(order_by), kind="stable").reset_index(drop=True)
    return frame


def _converted(frame: pd.DataFrame, floats: Sequence[str], dates: Sequence[str]) -> pd.DataFrame:
    """One batch with its `floats` and `dates` converted."""
    for column in floats:
        frame[column] = _to_float(frame[column])
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _combined(parts: list[pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """The batches as one frame; a column whose batches inferred different dtypes (a nullable
    integer whose nulls fell in one batch) is inferred again over all its values, as the whole
    result's would have been."""
    frame = pd.concat(parts, ignore_index=True)
    for name in names:
        if len({p[name].dtype for p in parts}) > 1:
            values = np.concatenate([p[name].to_numpy(dtype=object) for p in parts])
            frame[name] = pd.DataFrame([(v,) for v in values], columns=[name])[name]
    return frame


def _to_float(values: pd.Series) -> pd.Series:
    # float(Decimal) is correctly rounded, as the warehouse's own cast to double precision is.
    if values.dtype == object:
        values = values.map(lambda v: float(v) if isinstance(v, Decimal) else v)
    return pd.to_numeric(values).astype("float64")
