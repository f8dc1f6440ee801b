"""Test oracle: the four pipeline questions answered in SQL over the Postgres core, and the marts.

Independent of the package on purpose: it aggregates the core's session log itself, in
PostgreSQL's own SQL, which mongo/ and the dbt sync models must never do, so it is a second
engine and a second code path to compare the MongoDB pipelines and documents against.

``CORE`` computes each question from ``core.users`` / ``core.content`` / ``core.content_genres``
/ ``core.viewing_sessions`` with the same columns, grain and row order as the pipeline. It is
the independent oracle of tests/test_mongo_pipelines.py (same data, another engine, another
code path) and the on-the-fly Postgres side of benchmarks/bench_mongo_vs_postgres.py.

``MARTS`` reads the dbt marts that answer the same questions (where one exists), so tests can
prove the pipelines agree with what the dashboards show. Text sorts use the "C" collation
because MongoDB compares strings bytewise.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

DEFAULT_SCHEMA = "core"

# Age bands of the engagement pipeline: closed intervals of completed years, written here
# independently of dbt's age_band macro.
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (13, 17, "13-17"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, None, "65+"),
)


def age_band(age: int) -> str:
    """The band label of an age, e.g. 30 -> '25-34', 70 -> '65+'."""
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    raise ValueError(f"age {age!r} is below the youngest band ({AGE_BANDS[0][0]})")


def _age_band_case(column: str) -> str:
    whens = " ".join(
        f"when {column} <= {high} then '{label}'"
        for _low, high, label in AGE_BANDS
        if high is not None
    )
    return f"case {whens} else '{AGE_BANDS[-1][2]}' end"


_USER_TOTALS = """
    user_totals as (
        select
            user_id,
            count(*) as session_count,
            sum(watch_minutes) as total_watch_minutes,
            sum(completion_percentage) as sum_completion_percentage,
            count(*) filter (where quality_level = '4K') as sessions_4k
        from {sessions}
        group by user_id
    )"""

ENGAGEMENT_BY_DEMOGRAPHICS = """
with
    {user_totals},
    users as (
        select *, {age_band} as age_band from {users}
    )
select
    u.country,
    u.subscription_type,
    u.age_band,
    count(*) as user_count,
    count(t.user_id) as active_user_count,
    coalesce(sum(t.session_count), 0)::bigint as session_count,
    coalesce(sum(t.total_watch_minutes), 0) / 60.0 as watch_hours,
    sum(t.session_count)::numeric / nullif(count(t.user_id), 0) as sessions_per_active_user,
    sum(t.total_watch_minutes) / 60.0 / nullif(count(t.user_id), 0) as watch_hours_per_active_user,
    sum(t.sum_completion_percentage) / nullif(sum(t.session_count), 0) as mean_completion_percentage,
    sum(t.sessions_4k)::numeric / nullif(sum(t.session_count), 0) as share_of_sessions_4k,
    avg(u.lifetime_watch_hours) as mean_lifetime_watch_hours
from users as u
left join user_totals as t on t.user_id = u.user_id
group by u.age_band, u.subscription_type, u.country
order by u.age_band collate "C", u.subscription_type collate "C", u.country collate "C"
"""

CONTENT_PERFORMANCE = """
with
    content_totals as (
        select
            content_id,
            count(*) as session_count,
            sum(watch_minutes) as total_watch_minutes,
            sum(completion_percentage) as sum_completion_percentage
        from {sessions}
        group by content_id
    )
select
    g.genre,
    count(*) as title_count,
    count(*) filter (where c.content_type = 'movie') as movie_count,
    count(*) filter (where c.content_type = 'series') as series_count,
    coalesce(sum(t.session_count), 0)::bigint as session_count,
    coalesce(sum(t.total_watch_minutes), 0)::bigint as total_watch_minutes,
    coalesce(sum(t.total_watch_minutes), 0) / 60.0 as watch_hours,
    sum(t.sum_completion_percentage) / nullif(sum(t.session_count), 0) as mean_completion_percentage,
    coalesce(sum(t.total_watch_minutes), 0)::numeric / count(*) as watch_minutes_per_title,
    sum(c.views)::bigint as views,
    avg(c.rating) as mean_rating,
    sum(c.production_budget)::bigint as production_budget,
    sum(c.production_budget)::numeric / nullif(sum(c.views), 0) as budget_per_view
from {content_genres} as g
inner join {content} as c on c.content_id = g.content_id
left join content_totals as t on t.content_id = g.content_id
group by g.genre
order by total_watch_minutes desc, g.genre collate "C"
"""

GEOGRAPHIC_DISTRIBUTION = """
with
    {user_totals}
select
    u.country,
    count(*) as user_count,
    count(t.user_id) as active_user_count,
    count(*) filter (where u.subscription_type = 'Basic') as basic_user_count,
    count(*) filter (where u.subscription_type = 'Standard') as standard_user_count,
    count(*) filter (where u.subscription_type = 'Premium') as premium_user_count,
    (count(*) filter (where u.subscription_type = 'Premium'))::numeric / count(*) as premium_share,
    coalesce(sum(t.session_count), 0)::bigint as session_count,
    coalesce(sum(t.total_watch_minutes), 0)::bigint as total_watch_minutes,
    coalesce(sum(t.total_watch_minutes), 0) / 60.0 as watch_hours,
    sum(t.session_count)::numeric / nullif(count(t.user_id), 0) as sessions_per_active_user,
    sum(t.total_watch_minutes) / 60.0 / nullif(count(t.user_id), 0) as watch_hours_per_active_user,
    sum(t.sum_completion_percentage) / nullif(sum(t.session_count), 0) as mean_completion_percentage,
    avg(u.lifetime_watch_hours) as mean_lifetime_watch_hours
from {users} as u
left join user_totals as t on t.user_id = u.user_id
group by u.country
order by session_count desc, u.country collate "C"
"""

MONTHLY_VIEWING_TRENDS = """
select
    to_char(s.watch_date, 'YYYY-MM') as activity_month,
    u.subscription_type,
    count(distinct s.user_id) as active_user_count,
    count(*) as session_count,
    sum(s.watch_minutes)::bigint as total_watch_minutes,
    sum(s.watch_minutes) / 60.0 as watch_hours,
    count(*)::numeric / count(distinct s.user_id) as sessions_per_active_user,
    sum(s.completion_percentage) / count(*) as mean_completion_percentage
from {sessions} as s
inner join {users} as u on u.user_id = s.user_id
group by 1, 2
order by 1, u.subscription_type collate "C"
"""

CORE: dict[str, str] = {
    "engagement_by_demographics": ENGAGEMENT_BY_DEMOGRAPHICS,
    "content_performance": CONTENT_PERFORMANCE,
    "geographic_distribution": GEOGRAPHIC_DISTRIBUTION,
    "monthly_viewing_trends": MONTHLY_VIEWING_TRENDS,
}

# The marts answering the same questions; their rows are put in the pipeline's order and,
# for the monthly trend, compared after summing the pipeline's plans (the mart's grain is the
# month). content_performance has no genre-level mart (rpt_content_performance ranks titles).
MARTS: dict[str, str] = {
    "engagement_by_demographics": """
        select country, subscription_type, age_band, user_count, active_user_count, session_count,
               watch_hours, sessions_per_active_user, watch_hours_per_active_user,
               mean_completion_percentage, share_of_sessions_4k, mean_lifetime_watch_hours
        from {marts}.rpt_user_analytics
        order by age_band collate "C", subscription_type collate "C", country collate "C"
    """,
    "geographic_distribution": """
        select country, user_count, active_user_count, premium_share, session_count, watch_hours,
               mean_completion_percentage
        from {marts}.rpt_geographic
        order by session_count desc, country collate "C"
    """,
    "monthly_viewing_trends": """
        select to_char(activity_month, 'YYYY-MM') as activity_month, active_user_count, session_count,
               total_watch_minutes, mean_completion_percentage
        from {marts}.rpt_seasonal_by_month
        order by activity_month
    """,
}


def core_query(name: str, schema: str = DEFAULT_SCHEMA) -> sql.Composed:
    """The SQL of one question over the core tables of ``schema``."""
    parts = {
        "user_totals": sql.SQL(_USER_TOTALS).format(
            sessions=sql.Identifier(schema, "viewing_sessions")
        ),
        "age_band": sql.SQL(_age_band_case("age")),
        "users": sql.Identifier(schema, "users"),
        "sessions": sql.Identifier(schema, "viewing_sessions"),
        "content": sql.Identifier(schema, "content"),
        "content_genres": sql.Identifier(schema, "content_genres"),
    }
    return sql.SQL(CORE[name]).format(**parts)


def mart_query(name: str, marts_schema: str = "marts") -> sql.Composed:
    """The SQL reading the mart that answers question ``name`` (KeyError if none does)."""
    return sql.SQL(MARTS[name]).format(marts=sql.Identifier(marts_schema))


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def fetch(conn: PgConnection, query: sql.Composable) -> list[dict[str, Any]]:
    """Rows as dicts, numerics as float."""
    with conn.cursor() as cur:
        cur.execute(query)
        columns = [c.name for c in cur.description]
        return [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in cur.fetchall()]


def answer(conn: PgConnection, name: str, schema: str = DEFAULT_SCHEMA) -> list[dict[str, Any]]:
    """Rows of one question computed from the core, in the pipeline's order."""
    return fetch(conn, core_query(name, schema))


def mart_answer(conn: PgConnection, name: str, marts_schema: str = "marts") -> list[dict[str, Any]]:
    """Rows of the mart answering question ``name``."""
    return fetch(conn, mart_query(name, marts_schema))


TOP_TITLES = """
with
    content_totals as (
        select
            content_id,
            count(*) as session_count,
            count(distinct user_id) as viewer_count,
            sum(watch_minutes) as total_watch_minutes,
            sum(completion_percentage) / count(*) as mean_completion_percentage
        from {sessions}
        group by content_id
    ),
    ranked as (
        select
            c.content_type,
            row_number() over (
                order by coalesce(t.session_count, 0) desc, coalesce(t.total_watch_minutes, 0) desc,
                         c.content_id collate "C"
            ) as performance_rank,
            c.content_id,
            c.title,
            coalesce(t.session_count, 0) as session_count,
            coalesce(t.viewer_count, 0) as viewer_count,
            coalesce(t.total_watch_minutes, 0) / 60.0 as watch_hours,
            t.mean_completion_percentage,
            c.rating,
            c.views
        from {content} as c
        left join content_totals as t on t.content_id = c.content_id
        where c.content_type = {content_type}
    )
select * from ranked where performance_rank <= {limit} order by performance_rank
"""

TOP_TITLES_MART = """
select content_type, performance_rank, content_id, title, session_count, viewer_count, watch_hours,
       mean_completion_percentage, rating, views
from {marts}.rpt_content_performance
where genre_scope = 'All genres' and content_type = {content_type}
order by performance_rank
"""


def top_titles(
    conn: PgConnection, content_type: str, limit: int = 10, schema: str = DEFAULT_SCHEMA
) -> list[dict[str, Any]]:
    """pipelines.top_titles computed from the core."""
    return fetch(
        conn,
        sql.SQL(TOP_TITLES).format(
            sessions=sql.Identifier(schema, "viewing_sessions"),
            content=sql.Identifier(schema, "content"),
            content_type=sql.Literal(content_type),
            limit=sql.Literal(limit),
        ),
    )


def top_titles_mart(
    conn: PgConnection, content_type: str, marts_schema: str = "marts"
) -> list[dict[str, Any]]:
    """The overall top 10 of one type, as marts.rpt_content_performance holds it."""
    return fetch(
        conn,
        sql.SQL(TOP_TITLES_MART).format(
            marts=sql.Identifier(marts_schema), content_type=sql.Literal(content_type)
        ),
    )
