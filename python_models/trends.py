"""Viewing over time, from each session's watch_date: monthly, weekday and daily series.

Series rows are chart-ready points for analysis.series (series, measure, point_index, x_label,
x, y, n). Months are calendar months of the log; a month only partly covered by the log says
so through its `days` count (n of the 'days_in_data' measure). Weekday means are per calendar
day, so a weekday that occurs more often in the log does not look busier for that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from python_models.correlations import correlation_result
from python_models.hypothesis_tests import WEEKDAYS, daily_sessions
from python_models.results import Result


def _points(series: str, measure: str, labels: list[str], values: list[float], n: list[int] | None = None,
            x: list[float] | None = None) -> list[dict[str, Any]]:
    return [
        {"series": series, "measure": measure, "point_index": i, "x_label": label,
         "x": float(x[i]) if x is not None else float(i), "y": float(v),
         "n": int(n[i]) if n is not None else None}
        for i, (label, v) in enumerate(zip(labels, values))
    ]


def monthly(sessions: pd.DataFrame) -> list[dict[str, Any]]:
    """Sessions, watch minutes, mean completion, active users and days covered, per month."""
    month = sessions["watch_date"].dt.to_period("M")
    g = sessions.groupby(month)
    labels = [str(p) for p in g.size().index]
    n = g.size().tolist()
    out = _points("monthly", "sessions", labels, n, n)
    out += _points("monthly", "watch_minutes", labels, g["watch_minutes"].sum().tolist(), n)
    out += _points("monthly", "mean_completion", labels, g["completion"].mean().tolist(), n)
    out += _points("monthly", "active_users", labels, g["user_id"].nunique().tolist(), n)
    out += _points("monthly", "days_in_data", labels, g["watch_date"].nunique().tolist(), n)
    return out


def weekday(sessions: pd.DataFrame) -> list[dict[str, Any]]:
    """Per weekday: total sessions, sessions per calendar day, mean completion and minutes."""
    days = daily_sessions(sessions)
    per_day = days.groupby("weekday")["sessions"]
    wd = sessions.assign(weekday=[WEEKDAYS[d] for d in sessions["watch_date"].dt.day_of_week]).groupby("weekday")
    labels = list(WEEKDAYS)
    n_days = [int(per_day.size().get(d, 0)) for d in labels]
    totals = [int(wd.size().get(d, 0)) for d in labels]
    out = _points("weekday", "sessions", labels, totals, totals)
    out += _points("weekday", "sessions_per_day", labels, [float(per_day.mean().get(d, np.nan)) for d in labels], n_days)
    out += _points("weekday", "mean_completion", labels, [float(wd["completion"].mean().get(d, np.nan)) for d in labels], totals)
    out += _points("weekday", "mean_watch_minutes", labels, [float(wd["watch_minutes"].mean().get(d, np.nan)) for d in labels], totals)
    return out


def daily(sessions: pd.DataFrame) -> list[dict[str, Any]]:
    days = daily_sessions(sessions)
    labels = [d.strftime("%Y-%m-%d") for d in days["watch_date"]]
    return _points("daily", "sessions", labels, days["sessions"].tolist())


def run(sessions: pd.DataFrame) -> tuple[list[Result], list[dict[str, Any]]]:
    """The series, and a Spearman test of a monotone trend in sessions per day over the log."""
    days = daily_sessions(sessions)
    index = np.arange(days.shape[0], dtype=float)
    trend = correlation_result(
        index, days["sessions"].to_numpy(dtype=float), method="spearman", name="daily_sessions_trend",
        variables="day_index ~ sessions_per_day", words=("day of the log", "sessions that day"), level="day",
    )
    trend = trend.with_(section="trend", details={**trend.details, "first_day": str(days["watch_date"].min().date()),
                                                  "last_day": str(days["watch_date"].max().date())})
    return [trend], monthly(sessions) + weekday(sessions) + daily(sessions)
