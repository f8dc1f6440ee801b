"""The four pipeline questions answered in SQL over the Postgres core.

Two users: tests/test_mongo_pipelines.py takes these as the independent oracle each Mongo
pipeline must equal (same data, another engine, another code path), and
benchmarks/bench_mongo_vs_postgres.py times them against the pipelines. Columns and row order
match the pipelines' rows; text sorts use the "C" collation because MongoDB compares strings
bytewise.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from mongo.documents import AGE_BANDS, DEFAULT_SCHEMA


def _age_band_case(column: str) -> str:
    whens = " ".join(
        f"when {column} <= {high} then '{label}'" for _low, high, label in AGE_BANDS if high is not None
    )
    return f"case {whens} else '{AGE_BANDS[-1][2]}' end"


_USER_TOTALS = """
    user_totals as (
        select
            user_id,
            count(*) as sessions,
            sum(watch_duration_minutes) as watch_minutes,
            sum(completion_percentage) as completion_pct_sum
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
    u.age_band,
    u.subscription_type as plan,
    u.country,
    count(*) as users,
    count(t.user_id) as active_users,
    coalesce(sum(t.sessions), 0)::bigint as sessions,
    coalesce(sum(t.watch_minutes), 0)::bigint as watch_minutes,
    coalesce(sum(t.sessions), 0)::numeric / count(*) as sessions_per_user,
    coalesce(sum(t.watch_minutes), 0) / (count(*) * 60.0) as watch_hours_per_user,
    sum(t.completion_pct_sum) / nullif(sum(t.sessions), 0) as mean_completion_pct,
    avg(u.lifetime_watch_hours) as avg_lifetime_watch_hours
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
            count(*) as sessions,
            sum(watch_duration_minutes) as watch_minutes,
            sum(completion_percentage) as completion_pct_sum
        from {sessions}
        group by content_id
    )
select
    g.genre,
    count(*) as titles,
    count(*) filter (where c.content_type = 'movie') as movies,
    count(*) filter (where c.content_type = 'series') as series,
    coalesce(sum(t.sessions), 0)::bigint as sessions,
    coalesce(sum(t.watch_minutes), 0)::bigint as watch_minutes,
    sum(t.completion_pct_sum) / nullif(sum(t.sessions), 0) as mean_completion_pct,
    coalesce(sum(t.watch_minutes), 0)::numeric / count(*) as watch_minutes_per_title,
    sum(c.views)::bigint as views,
    avg(c.rating) as mean_rating,
    sum(c.production_budget)::bigint as production_budget,
    sum(c.production_budget)::numeric / nullif(sum(c.views), 0) as budget_per_view
from {content_genres} as g
inner join {content} as c on c.content_id = g.content_id
left join content_totals as t on t.content_id = g.content_id
group by g.genre
order by watch_minutes desc, g.genre collate "C"
"""

GEOGRAPHIC_DISTRIBUTION = """
with
    {user_totals}
select
    u.country,
    count(*) as users,
    count(t.user_id) as active_users,
    count(*) filter (where u.subscription_type = 'Basic') as basic_users,
    count(*) filter (where u.subscription_type = 'Standard') as standard_users,
    count(*) filter (where u.subscription_type = 'Premium') as premium_users,
    (count(*) filter (where u.subscription_type = 'Premium'))::numeric / count(*) as premium_share,
    coalesce(sum(t.sessions), 0)::bigint as sessions,
    coalesce(sum(t.watch_minutes), 0)::bigint as watch_minutes,
    coalesce(sum(t.watch_minutes), 0) / 60.0 as watch_hours,
    coalesce(sum(t.sessions), 0)::numeric / count(*) as sessions_per_user,
    coalesce(sum(t.watch_minutes), 0) / (count(*) * 60.0) as watch_hours_per_user,
    sum(t.completion_pct_sum) / nullif(sum(t.sessions), 0) as mean_completion_pct,
    avg(u.lifetime_watch_hours) as avg_lifetime_watch_hours
from {users} as u
left join user_totals as t on t.user_id = u.user_id
group by u.country
order by sessions desc, u.country collate "C"
"""

MONTHLY_VIEWING_TRENDS = """
select
    to_char(s.watch_date, 'YYYY-MM') as month,
    u.subscription_type as plan,
    count(distinct s.user_id) as active_users,
    count(*) as sessions,
    sum(s.watch_duration_minutes)::bigint as watch_minutes,
    sum(s.watch_duration_minutes) / 60.0 as watch_hours,
    count(*)::numeric / count(distinct s.user_id) as sessions_per_active_user,
    sum(s.completion_percentage) / count(*) as mean_completion_pct
from {sessions} as s
inner join {users} as u on u.user_id = s.user_id
group by 1, 2
order by to_char(s.watch_date, 'YYYY-MM'), u.subscription_type collate "C"
"""

QUESTIONS: dict[str, str] = {
    "engagement_by_demographics": ENGAGEMENT_BY_DEMOGRAPHICS,
    "content_performance": CONTENT_PERFORMANCE,
    "geographic_distribution": GEOGRAPHIC_DISTRIBUTION,
    "monthly_viewing_trends": MONTHLY_VIEWING_TRENDS,
}


def query(name: str, schema: str = DEFAULT_SCHEMA) -> sql.Composed:
    """The SQL of one question over the tables of ``schema``."""
    parts = {
        "user_totals": sql.SQL(_USER_TOTALS).format(sessions=sql.Identifier(schema, "viewing_sessions")),
        "age_band": sql.SQL(_age_band_case("age")),
        "users": sql.Identifier(schema, "users"),
        "sessions": sql.Identifier(schema, "viewing_sessions"),
        "content": sql.Identifier(schema, "content"),
        "content_genres": sql.Identifier(schema, "content_genres"),
    }
    return sql.SQL(QUESTIONS[name]).format(**parts)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def answer(conn: PgConnection, name: str, schema: str = DEFAULT_SCHEMA) -> list[dict[str, Any]]:
    """Rows of one question as dicts (numerics as float), in the pipeline's order."""
    with conn.cursor() as cur:
        cur.execute(query(name, schema))
        columns = [c.name for c in cur.description]
        return [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in cur.fetchall()]
