"""Tableau Hyper extracts: one file per mart, opened with tableauhyperapi, same rows and values.

The marts are hand-made tables; a small manifest (like the one dbt writes) declares them as the
models of a dashboard exposure, which is how the export finds them.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest

from streamlytics.consumers import tableau

MARTS_DDL = """
create schema marts;
create schema staging;
create table staging.not_a_mart as select 1 as x;
create table marts.fct_sessions (
    session_id bigint not null,
    user_id integer,
    device varchar(10),
    title text,
    plan char(7),
    watch_minutes numeric(10, 2),
    avg_completion numeric,
    score double precision,
    watch_date date,
    started_at timestamp,
    loaded_at timestamptz,
    is_complete boolean,
    duration interval,
    tags jsonb
);
insert into marts.fct_sessions
select
    g,
    case when g % 7 = 0 then null else g % 100 end,
    (array['mobile', 'tv', 'desktop'])[1 + g % 3],
    case g % 5 when 0 then null when 1 then '' when 2 then 'comma, "quote"' when 3 then e'new\\nline é' else 'plain' end,
    case when g % 2 = 0 then 'basic' else 'premium' end,
    round((g * 1.37)::numeric, 2),
    g / 3.0,
    case when g % 11 = 0 then null else g * 0.25 end,
    date '2024-01-01' + g,
    timestamp '2024-01-01 00:00:00' + g * interval '61 seconds',
    timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour',
    case when g % 3 = 0 then null else g % 2 = 0 end,
    g * interval '1 minute',
    jsonb_build_object('g', g)
from generate_series(1, 1500) as g;
create table marts.dim_empty (content_id integer primary key, title text not null);
create view marts.rpt_devices as
    select device, count(*) as sessions from marts.fct_sessions group by device;
"""


MARTS = ("dim_empty", "fct_sessions", "rpt_devices")


def write_manifest(target: Path, dashboards: dict[str, tuple[str, ...]]) -> Path:
    """A manifest.json in ``target`` with the marts as models (schema marts) and the given
    dashboard exposures (name -> models), plus a model no dashboard reads."""
    nodes = {
        f"model.p.{name}": {
            "name": name,
            "resource_type": "model",
            "schema": "staging" if name == "not_a_mart" else "marts",
        }
        for name in (*MARTS, "not_a_mart")
    }
    exposures = {
        f"exposure.p.{name}": {
            "name": name,
            "type": "dashboard",
            "depends_on": {"nodes": [f"model.p.{m}" for m in models]},
        }
        for name, models in dashboards.items()
    }
    exposures["exposure.p.app"] = {
        "name": "app",
        "type": "application",
        "depends_on": {"nodes": ["model.p.not_a_mart"]},
    }
    target.mkdir(parents=True, exist_ok=True)
    (target / "manifest.json").write_text(json.dumps({"nodes": nodes, "exposures": exposures}))
    return target


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two dashboards reading the three marts (one of them both)."""
    target = write_manifest(
        tmp_path / "target",
        {"sessions": ("fct_sessions", "rpt_devices"), "catalogue": ("dim_empty", "rpt_devices")},
    )
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    return target


@pytest.fixture
def marts_db(pg_url: str, manifest: Path) -> str:
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute(MARTS_DDL)
    conn.close()
    return pg_url


def _pg_rows(url: str, query: str) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("set timezone = 'UTC'")
            cur.execute(query)
            return cur.fetchall()
    finally:
        conn.close()


def _hyper_rows(
    path: Path, table: str, log_dir: Path
) -> tuple[list[list], list[tuple[str, str, bool]]]:
    from tableauhyperapi import Connection, Nullability, TableName

    with tableau._start_hyper(log_dir) as hyper, Connection(hyper.endpoint, str(path)) as conn:
        name = TableName("Extract", table)
        definition = conn.catalog.get_table_definition(name)
        columns = [
            (c.name.unescaped, str(c.type), c.nullability == Nullability.NULLABLE)
            for c in definition.columns
        ]
        return conn.execute_list_query(f"select * from {name} order by 1"), columns


def _plain(value):
    """Hyper's own date/time classes as the standard library's, for comparison with psycopg2."""
    if hasattr(value, "to_datetime"):
        return value.to_datetime()
    if hasattr(value, "to_date"):
        return value.to_date()
    return value


def test_every_mart_a_dashboard_reads_becomes_a_hyper_file_holding_its_row_count(
    marts_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "extracts"
    extracts = tableau.export_marts(out, database_url=marts_db, log_dir=tmp_path / "logs")

    assert sorted(p.name for p in out.iterdir()) == [
        "dim_empty.hyper",
        "fct_sessions.hyper",
        "rpt_devices.hyper",
    ]
    expected = {
        m: _pg_rows(marts_db, f"select count(*) from marts.{m}")[0][0]
        for m in ("fct_sessions", "dim_empty", "rpt_devices")
    }
    assert (
        tableau.row_counts(extracts)
        == expected
        == {"fct_sessions": 1500, "dim_empty": 0, "rpt_devices": 3}
    )
    for extract in extracts:
        assert (
            tableau.read_extract_count(extract.path, log_dir=tmp_path / "logs")
            == expected[extract.mart]
        )


def test_extract_keeps_every_value_type_and_null(marts_db: str, tmp_path: Path) -> None:
    (extract,) = [
        e
        for e in tableau.export_marts(
            tmp_path / "x", database_url=marts_db, log_dir=tmp_path / "logs"
        )
        if e.mart == "fct_sessions"
    ]
    rows, columns = _hyper_rows(extract.path, "fct_sessions", tmp_path / "logs")

    assert columns == [
        ("session_id", "BIG_INT", False),
        ("user_id", "INT", True),
        ("device", "VARCHAR(10)", True),
        ("title", "TEXT", True),
        ("plan", "CHAR(7)", True),
        ("watch_minutes", "NUMERIC(10, 2)", True),
        ("avg_completion", "DOUBLE", True),
        ("score", "DOUBLE", True),
        ("watch_date", "DATE", True),
        ("started_at", "TIMESTAMP", True),
        ("loaded_at", "TIMESTAMP_TZ", True),
        ("is_complete", "BOOL", True),
        ("duration", "INTERVAL", True),
        ("tags", "TEXT", True),
    ]
    expected = _pg_rows(
        marts_db,
        "select session_id, user_id, device, title, plan, watch_minutes, avg_completion::float8, score, "
        "watch_date, started_at, loaded_at, is_complete, tags::text from marts.fct_sessions order by 1",
    )
    got = [tuple(_plain(v) for i, v in enumerate(row) if i != 12) for row in rows]
    assert len(got) == len(expected) == 1500
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs
    # Spot checks of what CSV could lose: '' vs NULL, quotes, newlines, exact decimals, UTC instants.
    assert expected[0][3] == "" and got[0][3] == "" and got[4][3] is None
    assert got[1][3] == 'comma, "quote"' and got[2][3] == "new\nline é"
    assert got[0][5] == Decimal("1.37")
    assert got[0][10] == dt.datetime(2024, 1, 1, 1, tzinfo=dt.UTC)
    assert [(r[12].months, r[12].days, r[12].microseconds) for r in rows[:2]] == [
        (0, 0, 60_000_000),
        (0, 0, 120_000_000),
    ]


def test_export_of_marts_not_built_names_the_mart_and_the_fix(
    pg_url: str, manifest: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        tableau.TableauExportError, match="mart 'dim_empty' .*does not exist.*dbt build"
    ):
        tableau.export_marts(tmp_path, database_url=pg_url, log_dir=tmp_path / "logs")


def test_export_without_a_dashboard_exposure_says_to_declare_one(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(write_manifest(tmp_path / "target", {})))
    with pytest.raises(tableau.TableauExportError, match="no exposure of type 'dashboard'"):
        tableau.export_marts(tmp_path, database_url=pg_url, log_dir=tmp_path / "logs")


@pytest.mark.parametrize(
    ("pg", "precision", "scale", "length", "hyper", "cast"),
    [
        ("integer", 32, 0, None, "int", False),
        ("numeric", 12, 3, None, "numeric(12,3)", False),
        ("numeric", 30, 3, None, "double", False),
        ("numeric", None, None, None, "double", False),
        ("character varying", None, None, 40, "varchar(40)", False),
        ("character varying", None, None, None, "text", False),
        ("timestamp with time zone", None, None, None, "timestamp_tz", False),
        ("uuid", None, None, None, "text", True),
        ("ARRAY", None, None, None, "text", True),
    ],
)
def test_postgres_types_map_to_their_hyper_counterpart(
    pg, precision, scale, length, hyper, cast
) -> None:
    assert tableau.hyper_type_for(pg, precision, scale, length) == (hyper, cast)


def test_cli_exports_the_marts_of_the_configured_database(
    marts_db: str, pg_env: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from streamlytics.cli import app

    result = CliRunner().invoke(app, ["export-tableau", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "fct_sessions" in result.output and "1,500" in result.output
    assert (tmp_path / "cli" / "fct_sessions.hyper").is_file()


@pytest.mark.parametrize(
    ("pg", "precision", "scale", "spark"),
    [
        ("text", None, None, "string"),
        ("bigint", 64, 0, "bigint"),
        ("integer", 32, 0, "int"),
        ("double precision", 53, None, "double"),
        ("numeric", 18, 6, "decimal(18,6)"),
        ("numeric", 3, 1, "decimal(3,1)"),
        ("numeric", None, None, "decimal(28,6)"),  # unconstrained on PostgreSQL: a double
        ("numeric", 28, 6, "decimal(28,6)"),
        ("date", None, None, "date"),
        ("boolean", None, None, "boolean"),
        ("timestamp with time zone", None, None, "timestamp"),
        ("timestamp without time zone", None, None, "timestamp_ntz"),
    ],
)
def test_a_contract_column_gets_one_hyper_type_on_either_engine(
    pg, precision, scale, spark
) -> None:
    """The contract's type per engine (text/string, timestamptz/timestamp, ...) lands in Hyper
    as one type, so the extracts' schema does not depend on the warehouse."""
    assert tableau.spark_hyper_type(spark) == tableau.hyper_type_for(pg, precision, scale)


def test_spark_types_hyper_lacks_are_exported_as_text() -> None:
    assert tableau.spark_hyper_type("array<string>") == ("text", True)
    assert tableau.spark_hyper_type("interval day to second") == ("text", True)
