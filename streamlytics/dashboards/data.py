"""What the web dashboards show: the marts their dbt exposure declares, read as plain rows.

The page embeds aggregates only (a few thousand rows at any scale), never a session or a user,
so it opens in a second or two whatever the size of the log. Relations come from dbt's
manifest; the SQL is a plain select, so the same code reads the marts on any warehouse.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from streamlytics.dbt_relations import relation

# mart -> the columns the page uses (the page's JavaScript names them the same way)
MARTS: dict[str, tuple[str, ...]] = {
    "rpt_dashboard_activity": (
        "activity_month",
        "country",
        "subscription_type",
        "device_type",
        "active_user_count",
        "session_count",
        "total_watch_minutes",
        "sum_completion_percentage",
    ),
    # The log's days: only to tell a month the log covers in part from a whole one.
    "rpt_executive_summary": ("activity_date",),
    "rpt_financial_revenue": (
        "revenue_month",
        "subscription_type",
        "country",
        "genre",
        "revenue_cents",
    ),
    "rpt_user_engagement": (
        "activity_month",
        "country",
        "subscription_type",
        "age_band",
        "tenure_band",
        "active_user_count",
        "session_count",
        "total_watch_minutes",
        "sum_completion_percentage",
    ),
    "rpt_retention_by_plan": (
        "subscription_type",
        "cohort_month",
        "months_since_first_watch",
        "cohort_size",
        "retained_users",
    ),
    "rpt_content_performance": (
        "content_type",
        "genre_scope",
        "performance_rank",
        "content_id",
        "title",
        "session_count",
        "mean_completion_percentage",
        "views",
    ),
    "rpt_content_costs": (
        "content_id",
        "content_type",
        "title",
        "primary_genre",
        "production_budget",
        "views",
        "session_count",
        "rating",
    ),
    "rpt_completion_by_genre": (
        "content_type",
        "genre",
        "session_count",
        "mean_completion_percentage",
    ),
    "rpt_geographic": (
        "country",
        "user_count",
        "active_user_count",
        "session_count",
        "watch_hours",
        "revenue_usd",
    ),
    "rpt_top_content_by_country": (
        "country",
        "ranking_metric",
        "content_rank",
        "title",
        "content_type",
        "session_count",
    ),
}


def _plain(value: Any) -> Any:
    """A JSON value: exact decimals as floats (the page formats them), dates as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def read_marts(connection: Any) -> dict[str, dict[str, list[Any]]]:
    """Every mart of MARTS, column-wise ({mart: {column: [values]}}), in the mart's key order."""
    out: dict[str, dict[str, list[Any]]] = {}
    with connection.cursor() as cur:
        for mart, columns in MARTS.items():
            cur.execute(f"select {', '.join(columns)} from {relation(mart)}")
            rows = cur.fetchall()
            out[mart] = {c: [_plain(r[i]) for r in rows] for i, c in enumerate(columns)}
    return out
