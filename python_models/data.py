"""Read the dbt core (schema ``core``) at run time: profiles, titles and session aggregates.

This module is the only place that knows the core's column names; the analyses downstream
use the names of :class:`AnalysisData`. Nothing is cached: every run reads the database.

Sessions are never read row by row. PostgreSQL aggregates them to what the statistics need —
frequency tables of a variable per group (``value, count(*)``; see frequencies.py), counts
per category, per-day and per-month sums, per-user metrics — so the memory of an analysis
grows with users, titles and distinct values, not with sessions.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from python_models.frequencies import Freq

CONTENT_SQL = """
select c.content_id, c.content_type, c.title, c.content_length_minutes as length_minutes,
       cast(c.rating as double precision) as rating,
       cast(c.production_budget as double precision) as budget,
       cast(c.views as double precision) as views,
       m.release_year, s.season_count as seasons, s.episode_total
from core.content as c
left join core.movie_details as m on m.content_id = c.content_id
left join core.series_details as s on s.content_id = c.content_id
order by c.content_id
"""

# One row per user: the profile and their behaviour over the whole log (zero sessions: counts
# 0, means missing). tenure_days counts from registration to the last day of the log.
USER_METRICS_SQL = """
with behaviour as (
    select v.user_id,
           count(*) as sessions,
           sum(v.watch_minutes) as watch_minutes,
           avg(v.completion_percentage) as mean_completion,
           avg(v.watch_minutes) as minutes_per_session,
           avg(case when v.quality_level = '4K' then 1.0 else 0.0 end) as share_4k,
           avg(case when v.device_type = 'Mobile' then 1.0 else 0.0 end) as share_mobile,
           avg(case when c.content_type = 'series' then 1.0 else 0.0 end) as share_series
    from core.viewing_sessions as v
    left join core.content as c on c.content_id = v.content_id
    group by v.user_id
)
select u.user_id, u.age, u.country, u.subscription_type as plan, u.registration_date,
       cast(u.lifetime_watch_hours as double precision) as lifetime_hours,
       cast(coalesce(b.sessions, 0) as double precision) as sessions,
       cast(coalesce(b.watch_minutes, 0) as double precision) as watch_minutes,
       cast(b.mean_completion as double precision) as mean_completion,
       cast(b.minutes_per_session as double precision) as minutes_per_session,
       cast(b.share_4k as double precision) as share_4k,
       cast(b.share_mobile as double precision) as share_mobile,
       cast(b.share_series as double precision) as share_series,
       cast(%(data_end)s - u.registration_date as double precision) as tenure_days
from core.users as u
left join behaviour as b on b.user_id = u.user_id
order by u.user_id
"""

# Every session-level aggregate the analyses use, in one pass over the sessions (grouping sets):
# the frequency tables (`value`, `n`) of watch minutes and completion by plan / quality /
# device, watch minutes per day (→ per weekday, and with the sums, the daily series), the joint
# table of watch minutes and completion (→ their correlations; at most 180k value pairs), and
# the category counts (plan × quality, device × quality). `kind` names the grouping set.
# Overall tables are the sums over the plan groups (a missing plan is a group of its own).
# Values are hashed as double precision: numeric hashing made this pass three times slower.
GROUPING_KEYS = ("plan", "quality", "device", "watch_date", "watch_minutes", "completion")
GROUPING_SETS = {
    "minutes_by_plan": ("plan", "watch_minutes"),
    "completion_by_plan": ("plan", "completion"),
    "completion_by_quality": ("quality", "completion"),
    "completion_by_device": ("device", "completion"),
    "minutes_by_day": ("watch_date", "watch_minutes"),
    "minutes_completion": ("watch_minutes", "completion"),
    "plan_quality": ("plan", "quality"),
    "device_quality": ("device", "quality"),
}


def _grouping_id(columns: tuple[str, ...]) -> int:
    # PostgreSQL's grouping(a, b, …): bit set for every argument not grouped by, first argument highest.
    return sum(
        1 << (len(GROUPING_KEYS) - 1 - i) for i, c in enumerate(GROUPING_KEYS) if c not in columns
    )


def session_aggregates_sql() -> str:
    kinds = " ".join(
        f"when {_grouping_id(cols)} then '{kind}'" for kind, cols in GROUPING_SETS.items()
    )
    sets = ", ".join("(" + ", ".join(cols) + ")" for cols in GROUPING_SETS.values())
    return f"""
with s as (
    select v.watch_date, cast(v.watch_minutes as double precision) as watch_minutes,
           cast(v.completion_percentage as double precision) as completion,
           v.quality_level as quality, v.device_type as device, u.subscription_type as plan
    from core.viewing_sessions as v
    left join core.users as u on u.user_id = v.user_id
)
select case grouping({", ".join(GROUPING_KEYS)}) {kinds} end as kind,
       plan, quality, device, watch_date, watch_minutes, completion,
       coalesce(watch_minutes, completion) as value,
       count(*) as n,
       sum(watch_minutes) as sum_minutes,
       sum(completion) as sum_completion
from s
group by grouping sets ({sets})
"""


MONTHLY_USERS_SQL = """
with user_months as (
    select distinct date_trunc('month', watch_date) as month, user_id from core.viewing_sessions
)
select to_char(month, 'YYYY-MM') as month, count(*) as active_users from user_months group by month order by month
"""

# Per user, from the sessions strictly before the cutoff only — the where clause is the time
# split of the retention model (retention_model.py) — and who watched on or after it.
RETENTION_FEATURES_SQL = """
select v.user_id,
       count(*) as sessions_before,
       sum(v.watch_minutes) as watch_minutes_before,
       cast(avg(v.completion_percentage) as double precision) as mean_completion_before,
       count(distinct v.watch_date) as active_days_before,
       max(v.watch_date) as last_session,
       cast(avg(case when v.quality_level = '4K' then 1.0 else 0.0 end) as double precision) as share_4k_before,
       cast(avg(case when v.device_type = 'Mobile' then 1.0 else 0.0 end) as double precision) as share_mobile_before,
       count(*) filter (where v.watch_date >= %(recent)s) as sessions_last_30_days
from core.viewing_sessions as v
where v.watch_date < %(cutoff)s
group by v.user_id
"""
RETAINED_SQL = "select distinct user_id from core.viewing_sessions where watch_date >= %(cutoff)s"

# Completion per user and quality level (a user has one plan): enough for the OLS of
# completion ~ quality + plan and its user-clustered standard errors (hypothesis_tests.py).
COMPLETION_CELLS_SQL = """
select dense_rank() over (order by v.user_id) as cluster, v.quality_level as quality, u.subscription_type as plan,
       count(*) as n, cast(sum(v.completion_percentage) as double precision) as sum_y,
       cast(var_pop(v.completion_percentage) * count(*) as double precision) as ss_y
from core.viewing_sessions as v
join core.users as u on u.user_id = v.user_id
where v.quality_level is not null and u.subscription_type is not null
group by v.user_id, v.quality_level, u.subscription_type
"""

# Tables whose row counts (and, where there is one, latest load time) identify the data a run saw.
FINGERPRINT_TABLES = (
    "users",
    "content",
    "movie_details",
    "series_details",
    "genres",
    "content_genres",
    "series_episodes",
    "viewing_sessions",
)
LOADED_AT_TABLES = ("users", "content", "viewing_sessions")

PLANS = ("Basic", "Standard", "Premium")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
QUALITY_ORDER = ("SD", "HD", "4K")


class MissingCoreError(RuntimeError):
    """The core tables are absent or empty: the analysis has nothing honest to say."""


@dataclass(frozen=True)
class SessionAggregates:
    """What the analyses know of the sessions: aggregates computed by PostgreSQL."""

    n: int
    first_day: dt.date
    last_day: dt.date
    frequencies: dict[
        str, dict[str, Freq]
    ]  # table → group ('all' when ungrouped) → frequency table
    plan_quality: pd.DataFrame  # plan, quality, n
    device_quality: pd.DataFrame  # device, quality, n
    daily: pd.DataFrame  # watch_date (every day of the log), sessions, sum_minutes, sum_completion
    minutes_completion: pd.DataFrame  # watch_minutes, completion, n: the joint frequency table
    monthly_users: pd.DataFrame  # month ('YYYY-MM'), active_users

    def freq(self, table: str) -> dict[str, Freq]:
        return self.frequencies.get(table, {})


@dataclass(frozen=True)
class AnalysisData:
    """The core as the analyses see it."""

    users: pd.DataFrame  # one row per user: profile and behaviour (see USER_METRICS_SQL)
    content: (
        pd.DataFrame
    )  # content_id, content_type, title, length_minutes, rating, budget, views, ...
    sessions: SessionAggregates
    fingerprint: dict[str, Any]

    @property
    def data_end(self) -> dt.date:
        """The last day of the session log: the reference day for tenure and the retention split."""
        return self.sessions.last_day


def query_frame(
    conn: Any, sql: str, params: tuple[Any, ...] | dict[str, Any] | None = None
) -> pd.DataFrame:
    """Run a query on a DB-API connection and return its rows as a data frame."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def copy_frame(
    conn: Any,
    sql: str,
    params: dict[str, Any] | None = None,
    *,
    dates: tuple[str, ...] = (),
    text: tuple[str, ...] = (),
) -> pd.DataFrame:
    """A query's rows through COPY … TO STDOUT (CSV) into a data frame.

    For results with many rows (one per user): no Python object per value, and numbers arrive
    as PostgreSQL prints them (float8 in shortest exact form). `text` columns stay strings.
    """
    buf = io.BytesIO()
    with conn.cursor() as cur:
        query = cur.mogrify(sql, params).decode() if params else sql
        cur.copy_expert(f"copy ({query}) to stdout with (format csv, header true)", buf)
    buf.seek(0)
    frame = pd.read_csv(
        buf,
        dtype={c: "string" for c in text} if text else None,
        keep_default_na=True,
        low_memory=False,
        na_values=[""],
    )
    for col in text:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    for col in dates:
        frame[col] = pd.to_datetime(frame[col])
    return frame


def fingerprint(conn: Any) -> dict[str, Any]:
    """Row count of every core table and the latest loaded_at of the loaded ones."""
    counts: dict[str, int] = {}
    latest: dict[str, str | None] = {}
    with conn.cursor() as cur:
        for table in FINGERPRINT_TABLES:
            cur.execute(f"select count(*) from core.{table}")
            counts[table] = int(cur.fetchone()[0])
        for table in LOADED_AT_TABLES:
            cur.execute(f"select max(loaded_at) from core.{table}")
            value = cur.fetchone()[0]
            latest[table] = value.isoformat() if value is not None else None
    return {"row_counts": counts, "max_loaded_at": latest}


def _require_core(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "select count(*) from information_schema.tables where table_schema = 'core' and table_name = any(%s)",
            (list(FINGERPRINT_TABLES),),
        )
        found = cur.fetchone()[0]
    if found < len(FINGERPRINT_TABLES):
        raise MissingCoreError(
            f"schema core has {found} of the {len(FINGERPRINT_TABLES)} core tables: "
            "run the pipeline first (ingest, then `dbt build`)."
        )


def session_aggregates(conn: Any) -> SessionAggregates:
    """Every session-level aggregate, in two passes over core.viewing_sessions."""
    rows = copy_frame(
        conn,
        session_aggregates_sql(),
        dates=("watch_date",),
        text=("kind", "plan", "quality", "device"),
    )
    of = lambda kind: rows[rows["kind"] == kind]
    by_day = of("minutes_by_day")
    if by_day.empty:
        raise MissingCoreError(
            "core.viewing_sessions is empty: load data and run `dbt build` before analysing."
        )
    by_day = by_day.assign(weekday=[WEEKDAYS[d] for d in by_day["watch_date"].dt.day_of_week])

    def tables(part: pd.DataFrame, key: str | None) -> dict[str, Freq]:
        if key is None:
            return {"all": Freq.of(part["value"].to_numpy(float), part["n"].to_numpy(np.int64))}
        part = part[part[key].notna()]  # a missing group is no group (the overall table counts it)
        return {
            str(k): Freq.of(g["value"].to_numpy(float), g["n"].to_numpy(np.int64))
            for k, g in part.groupby(key)
        }

    frequencies = {
        "minutes_by_plan": tables(of("minutes_by_plan"), "plan"),
        "completion_by_plan": tables(of("completion_by_plan"), "plan"),
        "completion_by_quality": tables(of("completion_by_quality"), "quality"),
        "completion_by_device": tables(of("completion_by_device"), "device"),
        "minutes_by_weekday": tables(by_day, "weekday"),
        "minutes": tables(of("minutes_by_plan"), None),
        "completion": tables(of("completion_by_plan"), None),
    }
    daily = (
        by_day.groupby("watch_date")[["n", "sum_minutes", "sum_completion"]]
        .sum()
        .rename(columns={"n": "sessions"})
    )
    days = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    daily = daily.reindex(days, fill_value=0).rename_axis("watch_date").reset_index()
    daily["sessions"] = daily["sessions"].astype(np.int64)
    daily["weekday"] = [WEEKDAYS[d] for d in days.day_of_week]
    counts = lambda kind, cols: of(kind)[[*cols, "n"]].reset_index(drop=True)
    return SessionAggregates(
        n=int(daily["sessions"].sum()),
        first_day=days[0].date(),
        last_day=days[-1].date(),
        frequencies=frequencies,
        plan_quality=counts("plan_quality", ["plan", "quality"]),
        device_quality=counts("device_quality", ["device", "quality"]),
        daily=daily,
        minutes_completion=counts("minutes_completion", ["watch_minutes", "completion"]),
        monthly_users=query_frame(conn, MONTHLY_USERS_SQL),
    )


def completion_cells(conn: Any) -> pd.DataFrame:
    """Per user and quality level: sessions, sum and within-cell sum of squares of completion."""
    return copy_frame(conn, COMPLETION_CELLS_SQL, text=("quality", "plan"))


def sessions_before(conn: Any, cutoff: dt.date) -> pd.DataFrame:
    """Per user with a session before `cutoff`: the retention model's behaviour features."""
    recent = cutoff - dt.timedelta(days=30)
    return copy_frame(
        conn,
        RETENTION_FEATURES_SQL,
        {"cutoff": cutoff, "recent": recent},
        dates=("last_session",),
        text=("user_id",),
    )


def active_since(conn: Any, cutoff: dt.date) -> set[str]:
    """The users with at least one session on or after `cutoff`."""
    return set(copy_frame(conn, RETAINED_SQL, {"cutoff": cutoff}, text=("user_id",))["user_id"])


def load(conn: Any) -> AnalysisData:
    """Everything the analyses need, read from the core now."""
    _require_core(conn)
    content = query_frame(conn, CONTENT_SQL)
    if content.empty:
        raise MissingCoreError(
            "core.content is empty: load data and run `dbt build` before analysing."
        )
    sessions = session_aggregates(conn)
    users = copy_frame(
        conn,
        USER_METRICS_SQL,
        {"data_end": sessions.last_day},
        dates=("registration_date",),
        text=("user_id", "country", "plan"),
    )
    if users.empty:
        raise MissingCoreError(
            "core.users is empty: load data and run `dbt build` before analysing."
        )
    for col in ("age", "sessions", "watch_minutes", "tenure_days"):
        users[col] = users[col].astype("float64")
    for col in ("length_minutes", "release_year", "seasons", "episode_total"):
        content[col] = pd.to_numeric(content[col]).astype("float64")
    return AnalysisData(users, content.reset_index(drop=True), sessions, fingerprint(conn))
