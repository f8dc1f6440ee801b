"""The course CSV layout: headers, column order and number/date formats, for both CSV files.

Clean blocks are encoded column-wise by :mod:`writer`; :func:`user_fields` and
:func:`session_fields` give one row as strings, formatted identically, for defect lines.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np

from streamlytics.generate import distributions as d
from streamlytics.generate import writer as w
from streamlytics.generate.scaling import IdFormat
from streamlytics.generate.sessions import SessionBlock
from streamlytics.generate.users import UserBlock

USERS_HEADER = "user_id,age,country,subscription_type,registration_date,total_watch_time_hours"
SESSIONS_HEADER = (
    "session_id,user_id,content_id,watch_date,watch_duration_minutes,"
    "completion_percentage,device_type,quality_level"
)
USERS_COLUMNS = USERS_HEADER.split(",")
SESSIONS_COLUMNS = SESSIONS_HEADER.split(",")

_DATE_TABLE_FIRST = d.REGISTRATION_FIRST


def day_text(day: int) -> str:
    """A day number as YYYY-MM-DD."""
    return (d.EPOCH + dt.timedelta(days=int(day))).isoformat()


def tenths_text(value: int) -> str:
    return f"{value // 10}.{value % 10}"


@lru_cache(maxsize=1)
def _date_table() -> np.ndarray:
    return w.text_table([day_text(day) for day in range(_DATE_TABLE_FIRST, d.WATCH_LAST + 1)])


@lru_cache(maxsize=8)
def _tables(names: tuple[str, ...]) -> np.ndarray:
    return w.text_table(names)


def encode_users(users: UserBlock, ids: IdFormat) -> tuple[np.ndarray, np.ndarray]:
    """The block's users.csv lines (see writer.join_rows)."""
    n = users.size
    number = users.first + np.arange(n)
    return w.join_rows(
        [
            [w.constant("U", n), w.digits(number, ids.user_digits, pad=True)],
            w.digits(users.age, 3, pad=False),
            _tables(d.COUNTRIES)[users.country],
            _tables(d.PLANS)[users.plan],
            _date_table()[users.registration - _DATE_TABLE_FIRST],
            w.tenths(users.hours_tenths, 4),
        ]
    )


def encode_sessions(
    sessions: SessionBlock, ids: IdFormat, content_table: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The block's viewing_sessions.csv lines; content_table = writer.text_table(content ids)."""
    n = sessions.size
    number = sessions.first + np.arange(n)
    return w.join_rows(
        [
            [w.constant("S", n), w.digits(number, ids.session_digits, pad=True)],
            [w.constant("U", n), w.digits(sessions.user, ids.user_digits, pad=True)],
            content_table[sessions.content],
            _date_table()[sessions.day - _DATE_TABLE_FIRST],
            w.digits(sessions.minutes, 3, pad=False),
            w.tenths(sessions.completion_tenths, 3),
            _tables(d.DEVICES)[sessions.device],
            _tables(d.QUALITIES)[sessions.quality],
        ]
    )


def user_fields(users: UserBlock, i: int, ids: IdFormat) -> list[str]:
    """Row i of the block as the strings encode_users writes."""
    return [
        ids.user(users.first + i),
        str(int(users.age[i])),
        d.COUNTRIES[users.country[i]],
        d.PLANS[users.plan[i]],
        day_text(users.registration[i]),
        tenths_text(int(users.hours_tenths[i])),
    ]


def session_fields(
    sessions: SessionBlock, i: int, ids: IdFormat, content_ids: list[str]
) -> list[str]:
    """Row i of the block as the strings encode_sessions writes."""
    return [
        ids.session(sessions.first + i),
        ids.user(int(sessions.user[i])),
        content_ids[sessions.content[i]],
        day_text(sessions.day[i]),
        str(int(sessions.minutes[i])),
        tenths_text(int(sessions.completion_tenths[i])),
        d.DEVICES[sessions.device[i]],
        d.QUALITIES[sessions.quality[i]],
    ]
