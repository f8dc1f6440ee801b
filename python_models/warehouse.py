"""Read dbt models into data frames with plain, portable SQL.

The statistics and the report name the dbt models they read; where dbt built each one comes
from its manifest (streamlytics.dbt_relations). Queries are ``select <columns> from
<relation>``: no engine-specific SQL, so the same code reads PostgreSQL today and another
engine behind a DB-API connection later. Ordering, type conversion and reshaping happen here,
in Python, where they do not depend on the engine's collation or numeric types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    where: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Every row of dbt model `model` (those whose columns equal `where`'s values, when given),
    with `columns` (in that order).

    `floats` become float64 (exact decimals and integers as the statistics use them), `dates`
    datetime64; `order_by` sorts in Python (byte order of strings, the same on every engine).

    The rows arrive in batches of READ_BATCH (a server-side cursor, streamlytics.warehouse's
    stream_batches), each converted before the next is fetched: a driver's rows are tuples of
    Python objects (a Decimal, a str per value), ten times the size of the columns they become,
    so a per-user model (ana_user_session_groups: ten rows a user) held whole as rows was the
    analysis's peak of memory. The converted batches are kept column by column and each column
    joined on its own, its pieces let go as it is built, so the result is never held twice (a
    frame-wide concat would); each column's dtype is the one the whole result would infer.
    Sorting copies the frame: a caller whose use does not depend on row order passes no
    `order_by`.
    """
    names = list(columns)
    sql = f"select {', '.join(names)} from {relation(model)}"
    if where:
        sql += " where " + " and ".join(f"{column} = %s" for column in where)
    params = tuple(where.values()) if where else None
    pieces: dict[str, list[pd.Series]] = {name: [] for name in names}
    for rows in stream_batches(conn, sql, params, batch_size=READ_BATCH):
        batch = _converted(pd.DataFrame(rows, columns=names), floats, dates)
        for name in names:
            pieces[name].append(batch[name])
    if not pieces[names[0]]:
        frame = _converted(pd.DataFrame([], columns=names), floats, dates)
    else:
        frame = pd.DataFrame(index=pd.RangeIndex(sum(len(p) for p in pieces[names[0]])))
        for name in names:
            frame[name] = _joined(pieces.pop(name))
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


def _joined(parts: list[pd.Series]) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """One column's batches as one array (without the batches' index). Where the batches
    inferred different dtypes (a nullable integer whose nulls fell in one batch), the dtype is
    inferred again over all the values, as the whole result's would have been."""
    if len({p.dtype for p in parts}) > 1:
        values = np.concatenate([p.to_numpy(dtype=object) for p in parts])
        parts.clear()
        return pd.DataFrame([(v,) for v in values], columns=["v"])["v"].array
    joined = pd.concat(parts, ignore_index=True).array
    parts.clear()
    return joined


def _to_float(values: pd.Series) -> pd.Series:
    # float(Decimal) is correctly rounded, as the warehouse's own cast to double precision is.
    if values.dtype == object:
        values = values.map(lambda v: float(v) if isinstance(v, Decimal) else v)
    return pd.to_numeric(values).astype("float64")
