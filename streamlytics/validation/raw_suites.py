"""Arrival contracts on the raw landing tables (schema raw) and the load ledger (audit.load_batches).

Each rule has one owner (docs/validation.md has the full split):
- here: what dbt does not express — column set, rows present, reconciliation with the load
  ledger, id patterns, dates before the platform's launch, release years, blank titles, child
  rows of content.json that belong to no item, and how far the delivery's spelling drifts from
  the canonical values (warnings). Null rates are not checked: every landing column is NOT NULL
  (an empty field is quarantined by the ingest);
- in dbt staging (quarantined as out_of_range) and its tests, not here: value ranges, unknown
  plans, devices and qualities, dates after the load, and the rules that need other rows
  (duplicates, unknown user/content ids, watch before registration, minutes above the content
  length, episodes list vs seasons). A delivery with such rows passes this gate: its rows are
  routed to audit.staging_quarantine, with reason, field and value, and the marts' gates judge
  what is published.
"""

from __future__ import annotations

import textwrap

import great_expectations.expectations as gxe

from streamlytics.validation.domains import Domains
from streamlytics.validation.specs import (
    CURRENT_YEAR,
    SuiteSpec,
    between,
    canonical_spelling,
    column_set,
    id_pattern,
    named,
    not_empty,
    sql_check,
)

STAGE = "raw"
LINEAGE = ("_batch_id", "_source_file", "_source_line", "_loaded_at", "_load_id")

# Earliest registration in the platform's export; no account, and so no session, predates it.
PLATFORM_LAUNCH = "2022-01-01"

USER_ID = r"^U[0-9]{4,}$"
SESSION_ID = r"^S[0-9]{6,}$"
MOVIE_ID = r"^M[0-9]{3,}$"
SERIES_ID = r"^S[0-9]{3,}$"
CONTENT_ID = r"^[MS][0-9]{3,}$"


def users_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="raw_users",
        stage=STAGE,
        schema="raw",
        table="users",
        expectations=(
            column_set(
                [
                    "user_id",
                    "age",
                    "country",
                    "subscription_type",
                    "registration_date",
                    "total_watch_time_hours",
                    *LINEAGE,
                ]
            ),
            not_empty(),
            id_pattern("user_id", USER_ID, "U + 4 digits (U0001)"),
            canonical_spelling("country", d.countries),
            canonical_spelling("subscription_type", d.subscription_types),
            between(
                "registration_date_not_before_launch",
                "registration_date",
                PLATFORM_LAUNCH,
                None,
                "No account before the platform's launch (a date after the load: staging).",
            ),
        ),
    )


def viewing_sessions_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="raw_viewing_sessions",
        stage=STAGE,
        schema="raw",
        table="viewing_sessions",
        # The one landing that grows by a file a day: each run reads only the loads it has not
        # validated yet (streamlytics/validation/loads.py); the ledger suite still reconciles
        # every load.
        per_load="viewing_sessions",
        expectations=(
            column_set(
                [
                    "session_id",
                    "user_id",
                    "content_id",
                    "watch_date",
                    "watch_duration_minutes",
                    "completion_percentage",
                    "device_type",
                    "quality_level",
                    *LINEAGE,
                ]
            ),
            not_empty(),
            id_pattern("session_id", SESSION_ID, "S + 6 digits (S000001)"),
            id_pattern("user_id", USER_ID, "U + 4 digits (U0001)"),
            id_pattern("content_id", CONTENT_ID, "M or S + 3 digits (M001, S001)"),
            between(
                "watch_date_not_before_launch",
                "watch_date",
                PLATFORM_LAUNCH,
                None,
                "No session before the platform's launch (a date after the load: staging).",
            ),
            canonical_spelling("device_type", d.device_types),
            canonical_spelling("quality_level", d.quality_levels),
        ),
    )


def movies_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="raw_movies",
        stage=STAGE,
        schema="raw",
        table="movies",
        expectations=(
            column_set(
                [
                    "content_id",
                    "title",
                    "duration_minutes",
                    "release_year",
                    "rating",
                    "views_count",
                    "production_budget",
                    "_item_index",
                    *LINEAGE,
                ]
            ),
            not_empty(),
            id_pattern("content_id", MOVIE_ID, "M + 3 digits (M001)"),
            named(
                "title_not_blank", gxe.ExpectColumnValuesToMatchRegex(column="title", regex=r"[^ ]")
            ),
            between(
                "release_year_range",
                "release_year",
                1900,
                CURRENT_YEAR,
                "A release year in the future or before 1900 is a catalogue error.",
            ),
        ),
    )


def series_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="raw_series",
        stage=STAGE,
        schema="raw",
        table="series",
        expectations=(
            column_set(
                [
                    "content_id",
                    "title",
                    "seasons",
                    "avg_episode_duration",
                    "rating",
                    "total_views",
                    "production_budget",
                    "_item_index",
                    *LINEAGE,
                ]
            ),
            not_empty(),
            id_pattern("content_id", SERIES_ID, "S + 3 digits (S001)"),
            named(
                "title_not_blank", gxe.ExpectColumnValuesToMatchRegex(column="title", regex=r"[^ ]")
            ),
        ),
    )


def content_genres_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="raw_content_genres",
        stage=STAGE,
        schema="raw",
        table="content_genres",
        expectations=(
            column_set(
                ["content_id", "content_type", "genre", "genre_position", "_item_index", *LINEAGE]
            ),
            not_empty(),
            id_pattern("content_id", CONTENT_ID, "M or S + 3 digits (M001, S001)"),
            canonical_spelling("genre", d.genres),
            sql_check(
                "genre_rows_belong_to_an_item",
                "Every genre row belongs to a movie or series landed from the same item of the same batch.",
                """
                with genres as (select * from {batch})
                select g.content_id, g.content_type, g._item_index, g._load_id
                from genres as g
                where not exists (
                    select 1 from raw.movies as m
                    where g.content_type = 'movie' and m._load_id = g._load_id
                      and m._item_index = g._item_index and m.content_id = g.content_id
                ) and not exists (
                    select 1 from raw.series as s
                    where g.content_type = 'series' and s._load_id = g._load_id
                      and s._item_index = g._item_index and s.content_id = g.content_id
                )
                """,
                why="content.json is flattened into four tables; a stray child row means a broken load.",
            ),
        ),
    )


def series_seasons_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="raw_series_seasons",
        stage=STAGE,
        schema="raw",
        table="series_seasons",
        expectations=(
            column_set(["content_id", "season_number", "episode_count", "_item_index", *LINEAGE]),
            not_empty(),
            id_pattern("content_id", SERIES_ID, "S + 3 digits (S001)"),
            sql_check(
                "season_rows_belong_to_a_series",
                "Every season row belongs to a series landed from the same item of the same batch.",
                """
                with seasons as (select * from {batch})
                select e.content_id, e.season_number, e._item_index, e._load_id
                from seasons as e
                where not exists (
                    select 1 from raw.series as s
                    where s._load_id = e._load_id and s._item_index = e._item_index
                      and s.content_id = e.content_id
                )
                """,
                why="content.json is flattened into four tables; a stray child row means a broken load.",
            ),
        ),
    )


# Landed rows per load, from the *_rows tables under the raw views (the views inner-join the
# ledger, so rows without a ledger entry are only visible here), with the file kind each comes
# from. A content load's rows_loaded counts items (movies + series); genres and seasons are
# parts of those items.
_ITEMS = """
    select _load_id as load_id, 'users' as file_kind, 'raw.users_rows' as table_name, count(*) as n
    from raw.users_rows group by _load_id
    union all
    select _load_id, 'viewing_sessions', 'raw.viewing_sessions_rows', count(*)
    from raw.viewing_sessions_rows group by _load_id
    union all
    select _load_id, 'content', 'raw.movies_rows', count(*) from raw.movies_rows group by _load_id
    union all
    select _load_id, 'content', 'raw.series_rows', count(*) from raw.series_rows group by _load_id"""
_PARTS = """
    union all
    select _load_id, 'content', 'raw.content_genres_rows', count(*) from raw.content_genres_rows group by _load_id
    union all
    select _load_id, 'content', 'raw.series_seasons_rows', count(*) from raw.series_seasons_rows group by _load_id"""


def _with_landed(landed: str, body: str) -> str:
    """`body` preceded by the CTEs `ledger` (the suite's batch) and `landed` (load_id, file_kind,
    table_name, n) built from `landed`."""
    cte = textwrap.indent(textwrap.dedent(landed).strip(), "    ")
    return f"with ledger as (select * from {{batch}}),\nlanded as (\n{cte}\n)\n{textwrap.dedent(body).strip()}"


def load_ledger_suite(d: Domains) -> SuiteSpec:
    """Reconciliation of the raw landing with audit.load_batches (one row per load attempt).

    lines_read = rows_loaded + rows_quarantined is a check constraint of the ledger itself, so
    it is not repeated here.
    """
    return SuiteSpec(
        name="raw_load_ledger",
        stage=STAGE,
        schema="audit",
        table="load_batches",
        expectations=(
            sql_check(
                "every_file_has_a_loaded_batch",
                "Each of users, content and viewing_sessions has at least one batch with status loaded.",
                """
                with ledger as (select * from {batch})
                select k.file_kind
                from (values ('users'), ('content'), ('viewing_sessions')) as k (file_kind)
                where not exists (
                    select 1 from ledger as b where b.file_kind = k.file_kind and b.status = 'loaded'
                )
                """,
            ),
            sql_check(
                "landed_rows_match_ledger",
                "For every loaded batch, the rows in the raw tables equal the ledger's rows_loaded.",
                _with_landed(
                    _ITEMS,
                    """
                select b.load_id, b.source_file, b.rows_loaded, coalesce(sum(l.n), 0) as rows_landed
                from ledger as b
                left join landed as l on l.load_id = b.load_id
                where b.status = 'loaded'
                group by b.load_id, b.source_file, b.rows_loaded
                having coalesce(sum(l.n), 0) <> b.rows_loaded
                """,
                ),
                why="Rows added or deleted after the load, or a ledger that lies, break 'nothing lost'.",
            ),
            sql_check(
                "landed_rows_have_a_loaded_batch",
                "Every landed row belongs to a load of its file kind whose status is loaded.",
                _with_landed(
                    _ITEMS + _PARTS,
                    """
                select l.table_name, l.load_id, l.n as rows_landed, b.status, b.file_kind
                from landed as l
                left join ledger as b on b.load_id = l.load_id
                where b.load_id is null or b.status <> 'loaded' or b.file_kind <> l.file_kind
                """,
                ),
                why="A superseded or failed load must leave no rows behind; rows of an unknown load "
                "mean a bypassed loader (and are invisible through the raw views).",
            ),
            sql_check(
                "quarantine_matches_ledger",
                "For every loaded batch, audit.quarantine holds as many ingest rows as rows_quarantined.",
                """
                with ledger as (select * from {batch})
                select b.load_id, b.source_file, b.rows_quarantined, count(q.quarantine_id) as quarantine_rows
                from ledger as b
                left join audit.quarantine as q on q.batch_id = b.batch_id and q.stage = 'ingest'
                where b.status = 'loaded'
                group by b.load_id, b.source_file, b.rows_quarantined
                having count(q.quarantine_id) <> b.rows_quarantined
                """,
            ),
        ),
    )


def raw_suites(d: Domains) -> list[SuiteSpec]:
    """Every raw-stage suite, in the order the checkpoint runs and reports them."""
    return [
        load_ledger_suite(d),
        users_suite(d),
        viewing_sessions_suite(d),
        movies_suite(d),
        series_suite(d),
        content_genres_suite(d),
        series_seasons_suite(d),
    ]
