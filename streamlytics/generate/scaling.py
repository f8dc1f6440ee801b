"""How many users, titles and sessions a scale means, and how wide the ids must be.

Users (and with them sessions) grow linearly with the scale: 5,000 users at scale 1.
The catalogue grows with the square root of the scale (200 movies + 100 series at scale 1),
because a platform with 45× the audience does not carry 45× the titles; every title still gets
hundreds of sessions. Ids keep the course widths (U + 4, M/S + 3, S + 6 digits) while the counts
fit and widen to exactly the digits of the largest id beyond that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

COURSE_USERS = 5_000
COURSE_MOVIES = 200
COURSE_SERIES = 100
USER_ID_DIGITS = 4
CONTENT_ID_DIGITS = 3
SESSION_ID_DIGITS = 6


@dataclass(frozen=True)
class Sizes:
    users: int
    movies: int
    series: int


def sizes_for(scale: float) -> Sizes:
    """Clean row counts at a scale (sessions follow from the users' drawn session counts)."""
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    root = math.sqrt(scale)
    return Sizes(
        users=max(1, round(COURSE_USERS * scale)),
        movies=max(1, round(COURSE_MOVIES * root)),
        series=max(1, round(COURSE_SERIES * root)),
    )


def id_digits(largest: int, course_digits: int) -> int:
    """Digits after the prefix: the course width, or exactly enough for `largest`."""
    return max(course_digits, len(str(largest)))


@dataclass(frozen=True)
class IdFormat:
    """Prefix and zero-padded width of each id family in one dataset."""

    user_digits: int
    movie_digits: int
    series_digits: int
    session_digits: int

    def user(self, number: int) -> str:
        return f"U{number:0{self.user_digits}d}"

    def movie(self, number: int) -> str:
        return f"M{number:0{self.movie_digits}d}"

    def series(self, number: int) -> str:
        return f"S{number:0{self.series_digits}d}"

    def session(self, number: int) -> str:
        return f"S{number:0{self.session_digits}d}"

    def unknown_user(self) -> str:
        """An id of the right shape that no user has (numbering starts at 1)."""
        return self.user(0)

    def unknown_content(self, movie: bool) -> str:
        return self.movie(0) if movie else self.series(0)
