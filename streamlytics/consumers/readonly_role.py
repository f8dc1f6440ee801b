"""A read-only PostgreSQL login for live Tableau connections: SELECT on the marts, nothing else.

The role sees the ``marts`` schema only. Because dbt rebuilds a table by creating a new one and
swapping it in, grants on today's tables alone would vanish at the next build; default privileges
of the user that runs dbt make every future mart readable too. Running :func:`grant_readonly`
again changes nothing (except the password when one is given).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from psycopg2 import sql

DEFAULT_ROLE = "tableau_reader"
PASSWORD_ENV = "TABLEAU_READER_PASSWORD"
MARTS_SCHEMA = "marts"
# Schemas holding rows that are not fit for dashboards (unvalidated, quarantined, intermediate).
PRIVATE_SCHEMAS = ("raw", "staging", "core", "audit")


class ReadonlyRoleError(RuntimeError):
    """The role could not be made read-only on the marts alone; the message says why."""


@dataclass(frozen=True)
class ReadonlyGrant:
    role: str
    database: str
    created: bool
    """True when this call created the role."""
    password: str | None
    """The password set by this call; None when an existing role kept its password."""
    password_generated: bool
    """True when the password was generated here (show it once, it is stored nowhere)."""


def _role_exists(cur, role: str) -> bool:
    cur.execute("select 1 from pg_roles where rolname = %s", (role,))
    return cur.fetchone() is not None


def _existing_schemas(cur, names: tuple[str, ...]) -> list[str]:
    cur.execute(
        "select nspname from pg_namespace where nspname = any(%s) order by nspname", (list(names),)
    )
    return [row[0] for row in cur.fetchall()]


def _check_private_schemas(cur, role: str) -> None:
    """Privileges granted to PUBLIC reach every role; refuse rather than promise what is not true."""
    for private in _existing_schemas(cur, PRIVATE_SCHEMAS):
        cur.execute("select has_schema_privilege(%s, %s, 'USAGE')", (role, private))
        if cur.fetchone()[0]:
            raise ReadonlyRoleError(
                f"role {role!r} can still use schema {private!r} (usage granted to PUBLIC or a role it "
                f"belongs to): run `revoke usage on schema {private} from public` and try again."
            )


def grant_readonly(
    database_url: str | None = None,
    role: str = DEFAULT_ROLE,
    password: str | None = None,
    marts_schema: str = MARTS_SCHEMA,
) -> ReadonlyGrant:
    """Create or update ``role``: LOGIN, read-only, SELECT on every present and future mart.

    The password is ``password``, else $TABLEAU_READER_PASSWORD; when neither is given a new role
    gets a generated one and an existing role keeps its own. Must run as the user that owns the
    marts (the dbt user), so the default privileges cover the tables dbt creates.
    """
    import psycopg2

    from streamlytics import services

    url = database_url or services.database_url()
    password = password or os.environ.get(PASSWORD_ENV) or None
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            ident = sql.Identifier(role)
            created = not _role_exists(cur, role)
            generated = created and password is None
            if generated:
                password = secrets.token_urlsafe(24)
            if created:
                cur.execute(sql.SQL("create role {} login").format(ident))
            # Read-only even if someone later grants it more: every transaction starts read-only.
            cur.execute(
                sql.SQL(
                    "alter role {} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls"
                ).format(ident)
            )
            cur.execute(
                sql.SQL("alter role {} set default_transaction_read_only = on").format(ident)
            )
            if password is not None:
                cur.execute(
                    sql.SQL("alter role {} password {}").format(ident, sql.Literal(password))
                )

            cur.execute("select current_database(), current_user")
            database, owner = cur.fetchone()
            cur.execute(
                sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(database), ident
                )
            )
            cur.execute(
                sql.SQL("create schema if not exists {}").format(sql.Identifier(marts_schema))
            )
            schema = sql.Identifier(marts_schema)
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(schema, ident))
            cur.execute(sql.SQL("revoke create on schema {} from {}").format(schema, ident))
            cur.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(schema, ident)
            )
            cur.execute(
                sql.SQL(
                    "revoke insert, update, delete, truncate, references, trigger "
                    "on all tables in schema {} from {}"
                ).format(schema, ident)
            )
            cur.execute(
                sql.SQL(
                    "alter default privileges for role {} in schema {} grant select on tables to {}"
                ).format(sql.Identifier(owner), schema, ident)
            )
            for private in _existing_schemas(cur, PRIVATE_SCHEMAS):
                cur.execute(
                    sql.SQL("revoke all on schema {} from {}").format(
                        sql.Identifier(private), ident
                    )
                )
                cur.execute(
                    sql.SQL("revoke all on all tables in schema {} from {}").format(
                        sql.Identifier(private), ident
                    )
                )
            # PostgreSQL < 15 lets everyone create objects in public; no login should, this one included.
            cur.execute(sql.SQL("revoke create on schema public from public, {}").format(ident))
            _check_private_schemas(cur, role)
    finally:
        conn.close()
    return ReadonlyGrant(role, database, created, password, generated)


def drop_readonly(database_url: str, role: str = DEFAULT_ROLE) -> bool:
    """Remove the role's privileges in this database and, if it holds none elsewhere, the role."""
    import psycopg2

    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            if not _role_exists(cur, role):
                return False
            cur.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        conn.autocommit = True
        with conn.cursor() as cur:
            try:
                cur.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
            except psycopg2.errors.DependentObjectsStillReferenced:
                return False  # still granted in another database; drop it there first
        return True
    finally:
        conn.close()
