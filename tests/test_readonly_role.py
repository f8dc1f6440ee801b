"""The read-only role for live Tableau connections: reads the marts, nothing else, ever."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from psycopg2 import errors

from streamlytics.consumers import readonly_role

SCHEMAS_DDL = """
create schema raw; create table raw.users (user_id text);
insert into raw.users values ('U1');
create schema staging; create view staging.stg_users as select * from raw.users;
create schema core; create table core.users as select 1 as user_id;
create schema audit; create table audit.quarantine as select 1 as quarantine_id;
create schema marts; create table marts.dim_users as select 1 as user_id, 'basic' as plan;
"""


@pytest.fixture
def db_with_schemas(pg_url: str) -> str:
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMAS_DDL)
    conn.close()
    return pg_url


@pytest.fixture
def role(db_with_schemas: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A role name of this test's own: roles are server-wide, unlike the throwaway database."""
    monkeypatch.delenv(readonly_role.PASSWORD_ENV, raising=False)
    name = f"tableau_reader_{uuid.uuid4().hex[:8]}"
    yield name
    readonly_role.drop_readonly(db_with_schemas, name)


def _as(url: str, role: str):
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    conn = psycopg2.connect(urlunsplit(parts._replace(netloc=f"{role}:secret@{host}")))
    conn.autocommit = True
    return conn


def _fails(conn, statement: str, error: type[Exception]) -> None:
    with conn.cursor() as cur, pytest.raises(error):
        cur.execute(statement)


def test_reader_selects_marts_and_can_neither_write_nor_read_raw(
    db_with_schemas: str, role: str
) -> None:
    readonly_role.grant_readonly(db_with_schemas, role=role, password="secret")
    conn = _as(db_with_schemas, role)
    try:
        with conn.cursor() as cur:
            cur.execute("select user_id, plan from marts.dim_users")
            assert cur.fetchall() == [(1, "basic")]
            # Past the read-only session default, the privileges themselves must refuse writes.
            cur.execute("set default_transaction_read_only = off")
        denied = errors.InsufficientPrivilege
        _fails(conn, "insert into marts.dim_users values (2, 'x')", denied)
        _fails(conn, "update marts.dim_users set plan = 'x'", denied)
        _fails(conn, "delete from marts.dim_users", denied)
        _fails(conn, "truncate marts.dim_users", denied)
        _fails(conn, "create table marts.mine (x int)", denied)
        _fails(conn, "create table public.mine (x int)", denied)
        for table in ("raw.users", "staging.stg_users", "core.users", "audit.quarantine"):
            _fails(conn, f"select * from {table}", denied)
        with conn.cursor() as cur:
            cur.execute("reset default_transaction_read_only")
        _fails(conn, "insert into marts.dim_users values (2, 'x')", errors.ReadOnlySqlTransaction)
    finally:
        conn.close()


def test_marts_rebuilt_by_dbt_stay_readable(db_with_schemas: str, role: str) -> None:
    readonly_role.grant_readonly(db_with_schemas, role=role, password="secret")
    owner = psycopg2.connect(db_with_schemas)
    with owner, owner.cursor() as cur:
        # What a dbt table build does: a new relation replaces the old one.
        cur.execute(
            "drop table marts.dim_users; create table marts.dim_users as select 7 as user_id"
        )
        cur.execute("create table marts.fct_new as select 1 as n")
    owner.close()
    conn = _as(db_with_schemas, role)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select (select user_id from marts.dim_users), (select n from marts.fct_new)"
            )
            assert cur.fetchone() == (7, 1)
    finally:
        conn.close()


def test_granting_twice_changes_nothing_and_keeps_the_generated_password(
    db_with_schemas: str, role: str
) -> None:
    first = readonly_role.grant_readonly(db_with_schemas, role=role)
    second = readonly_role.grant_readonly(db_with_schemas, role=role)

    assert first.created and first.password_generated and len(first.password or "") >= 24
    assert not second.created and second.password is None and not second.password_generated
    conn = psycopg2.connect(db_with_schemas)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select rolpassword like 'SCRAM-SHA-256$%%', rolcanlogin from pg_authid where rolname = %s",
                (role,),
            )
            assert cur.fetchone() == (True, True)
            cur.execute(
                "select has_table_privilege(%s, 'marts.dim_users', 'SELECT'), "
                "has_schema_privilege(%s, 'raw', 'USAGE')",
                (role, role),
            )
            assert cur.fetchone() == (True, False)
    finally:
        conn.close()


def test_schema_opened_to_public_is_refused_with_the_fix(db_with_schemas: str, role: str) -> None:
    conn = psycopg2.connect(db_with_schemas)
    with conn, conn.cursor() as cur:
        cur.execute("grant usage on schema raw to public")
    conn.close()
    with pytest.raises(
        readonly_role.ReadonlyRoleError, match="revoke usage on schema raw from public"
    ):
        readonly_role.grant_readonly(db_with_schemas, role=role, password="secret")


def test_cli_shows_a_generated_password_once(db_with_schemas: str, pg_env: str, role: str) -> None:
    from typer.testing import CliRunner

    from streamlytics.cli import app

    first = CliRunner().invoke(app, ["grant-readonly", "--role", role])
    second = CliRunner().invoke(app, ["grant-readonly", "--role", role])
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert f"role {role} created" in first.output and "shown once" in first.output
    assert f"role {role} updated" in second.output and "password unchanged" in second.output
