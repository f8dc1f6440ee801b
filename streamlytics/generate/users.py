"""Users: demographics, plan, registration date, lifetime hours and how many sessions each has.

Lifetime hours depend on the plan only (Premium ≈ 2× Basic) and are drawn independently of the
registration date, so tenure and lifetime hours are deliberately unrelated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlytics.generate import distributions as d


@dataclass(frozen=True)
class UserBlock:
    """One block of consecutive users; row i is user number `first + i`."""

    first: int
    age: np.ndarray
    country: np.ndarray  # index into distributions.COUNTRIES
    plan: np.ndarray  # index into distributions.PLANS
    registration: np.ndarray  # day number
    hours_tenths: np.ndarray  # lifetime hours × 10
    sessions: np.ndarray  # number of sessions in the log

    @property
    def size(self) -> int:
        return int(self.age.shape[0])

    def watch_start(self) -> np.ndarray:
        """First day each user can have a session: registration, but not before the log starts."""
        return np.maximum(self.registration, d.WATCH_FIRST)


def draw_lifetime_tenths(rng: np.random.Generator, plan: np.ndarray) -> np.ndarray:
    mean = np.asarray(d.LIFETIME_HOURS_MEAN)[plan]
    hours = d.truncated_gamma(
        rng, mean, d.LIFETIME_HOURS_SHAPE, d.LIFETIME_HOURS_MIN, d.LIFETIME_HOURS_MAX
    )
    return np.rint(hours * 10).astype(np.int64)


def generate_users(rng: np.random.Generator, first: int, n: int) -> UserBlock:
    """n users numbered from `first`; all values inside the course domains."""
    age = rng.integers(d.AGE_MIN, d.AGE_MAX + 1, n)
    country = d.categorical(rng, d.COUNTRY_P, n)
    plan = d.categorical(rng, d.PLAN_P, n)
    registration = d.stratified_days(rng, d.REGISTRATION_FIRST, d.REGISTRATION_LAST, n)
    hours = draw_lifetime_tenths(rng, plan)
    sessions = d.session_counts(rng, n)
    return UserBlock(first, age, country, plan, registration, hours, sessions)
