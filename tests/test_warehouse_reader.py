"""The one reader: the same DB-API calls give the same Python values on PostgreSQL and Spark."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pandas as pd
import psycopg2
import pytest

from python_models.warehouse import query_frame, relation_exists
from streamlytics import warehouse
from streamlytics.config import settings

ROWS = [
    (
        "U1",
        34,
        Decimal("120.5"),
        dt.date(2024, 2, 29),
        dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.UTC),
    ),
    ("U2", None, Decimal("0.125"), dt.date(2023, 1, 1), None),
    ('Ünïcode, "quoted"', 7, Decimal(-3), None, dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
]
TYPES = {
    "postgres": "user_id text, age integer, hours numeric(12, 3), day date, seen timestamptz",
    "spark": "user_id string, age int, hours decimal(12, 3), day date, seen timestamp",
}
QUERY = (
    "select user_id, age, hours, day, seen from {t} where age is null or age > %s order by user_id"
)


def fill(conn, table: str, engine: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            f"create table {table} ({TYPES[engine]})"
            + (" using parquet" if engine == "spark" else "")
        )
        for row in ROWS:
            literals = ", ".join(
                "null"
                if v is None
                else f"'{v}'"
                if isinstance(v, str)
                else f"timestamp '{v:%Y-%m-%d %H:%M:%S}'"
                if isinstance(v, dt.datetime)
                else f"date '{v}'"
                if isinstance(v, dt.date)
                else str(v)
                for v in row
            )
            cur.execute(f"insert into {table} values ({literals})")


def test_spark_reader_returns_what_psycopg2_returns(pg_url, spark_remote, spark_session, spark_db):
    spark_session.sql(f"create database {spark_db}")
    cfg = dataclasses.replace(settings(), warehouse="spark", spark_remote=spark_remote)
    with warehouse.connect(cfg) as on_spark, psycopg2.connect(pg_url) as on_pg:
        with on_pg.cursor() as cur:
            cur.execute("set timezone = 'UTC'")
            cur.execute("create schema reader")
        fill(on_pg, "reader.t", "postgres")
        fill(on_spark, f"{spark_db}.t", "spark")
        for conn, table in ((on_pg, "reader.t"), (on_spark, f"{spark_db}.t")):
            with conn.cursor() as cur:
                cur.execute(QUERY.format(t=table), (10,))
                assert [d[0] for d in cur.description] == ["user_id", "age", "hours", "day", "seen"]
                assert cur.fetchone() == ROWS[0]
                assert cur.fetchall() == [ROWS[1]]
                cur.execute(
                    f"select count(*) as n from {table} where user_id = %(id)s or age = %(age)s",
                    {"id": "U2", "age": 7},
                )
                assert cur.fetchall() == [(2,)]
        spark_frame = query_frame(on_spark, QUERY.format(t=f"{spark_db}.t"), (0,))
        pg_frame = query_frame(on_pg, QUERY.format(t="reader.t"), (0,))
        assert spark_frame.equals(pg_frame)
        assert relation_exists(on_spark, f"{spark_db}.t")
        assert not relation_exists(on_spark, f"{spark_db}.missing")


def test_psycopg2_markers_become_spark_markers():
    assert warehouse.spark_statement("a = %s and b like 'x%%' and c = %s", (1, 2)) == (
        "a = ? and b like 'x%' and c = ?",
        [1, 2],
    )
    assert warehouse.spark_statement("a = %(a)s", {"a": 1}) == ("a = :a", {"a": 1})
    assert warehouse.spark_statement("no params %s", None) == ("no params %s", None)
    with pytest.raises(TypeError):
        warehouse.spark_statement("a = %(a)s and b = %s", {"a": 1})


def test_read_model_in_batches_equals_one_read(pg_url, monkeypatch):
    """read_model joins its batches column by column into what one batch would have given: the
    same values and dtypes (a nullable integer whose nulls fall in one batch only included: that
    batch infers float64, the others int64), decimals as floats, dates as datetimes, the sort."""
    import python_models.warehouse as reader

    rows = [
        (f"U{i % 7}", None if i == 9 else i, Decimal(i) / 8, dt.date(2024, 1, 1 + i % 28))
        for i in range(23)
    ]
    columns = ["user_id", "age", "hours", "day"]
    monkeypatch.setattr(reader, "relation", lambda model: model)
    with psycopg2.connect(pg_url) as conn:
        with conn.cursor() as cur:
            cur.execute("create table m (user_id text, age integer, hours numeric(9, 3), day date)")
            cur.executemany("insert into m values (%s, %s, %s, %s)", rows)

        def read(batch: int, order_by: tuple[str, ...] = (), where=None) -> pd.DataFrame:
            monkeypatch.setattr(reader, "READ_BATCH", batch)
            return reader.read_model(
                conn,
                "m",
                columns,
                floats=("hours",),
                dates=("day",),
                order_by=order_by,
                where=where,
            )

        whole = read(1000)
        assert list(whole.itertuples(index=False, name=None))[:2] == [
            ("U0", 0, 0.0, pd.Timestamp("2024-01-01")),
            ("U1", 1, 0.125, pd.Timestamp("2024-01-02")),
        ]
        assert dict(whole.dtypes.astype(str)) == {
            "user_id": "str",
            "age": "float64",
            "hours": "float64",
            "day": "datetime64[s]",
        }
        key = ("user_id", "day")
        for batch in (1, 4, 10):
            pd.testing.assert_frame_equal(read(batch), whole)
            pd.testing.assert_frame_equal(read(batch, key), read(1000, key))
        assert list(read(4, key)["user_id"]) == sorted(r[0] for r in rows)
        u3 = read(2, where={"user_id": "U3"})
        expected = whole[whole["user_id"] == "U3"].reset_index(drop=True)
        pd.testing.assert_frame_equal(u3, expected, check_dtype=False)  # no null age: int64
        assert len(u3) == 3
        assert read(2, where={"user_id": "U3", "age": 10})["age"].tolist() == [10]

        with conn.cursor() as cur:
            cur.execute("delete from m where age is null")
        assert read(4)["age"].dtype == "int64"
        with conn.cursor() as cur:
            cur.execute("delete from m")
        empty = read(4)
        assert empty.empty and list(empty.columns) == columns
