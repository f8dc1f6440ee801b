"""Viewing sessions for one block of users, as column arrays (no text yet).

Structure carried by the draws:
- the completion share comes from a plan-specific Beta (means 0.68 / 0.79 / 0.88);
- watched minutes are that share of the title's length (movie duration, or one episode),
  never above it; the reported completion is 100 × minutes / length plus a little noise;
- Premium streams more 4K; device does not depend on anything;
- the watch date is uniform between max(registration, 2024-01-01) and 2024-08-31.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlytics.generate import distributions as d
from streamlytics.generate.users import UserBlock


@dataclass(frozen=True)
class SessionBlock:
    """Sessions of one user block, ordered by user; row i has session number `first + i`."""

    first: int
    user: np.ndarray  # user number
    content: np.ndarray  # index into the catalogue (movies first, then series)
    day: np.ndarray  # day number
    minutes: np.ndarray
    completion_tenths: np.ndarray
    device: np.ndarray  # index into distributions.DEVICES
    quality: np.ndarray  # index into distributions.QUALITIES

    @property
    def size(self) -> int:
        return int(self.user.shape[0])


def _beta_params() -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(d.COMPLETION_MEAN_BY_PLAN)
    return mean * d.COMPLETION_CONCENTRATION, (1.0 - mean) * d.COMPLETION_CONCENTRATION


def generate_sessions(
    rng: np.random.Generator, users: UserBlock, lengths: np.ndarray, first: int
) -> SessionBlock:
    """All sessions of `users` (users.sessions[i] rows for user i), numbered from `first`."""
    row_user = np.repeat(np.arange(users.size), users.sessions)
    n = row_user.shape[0]
    plan = users.plan[row_user]

    content = rng.integers(0, lengths.shape[0], n)
    length = lengths[content]
    a, b = _beta_params()
    share = np.clip(rng.beta(a[plan], b[plan]), d.COMPLETION_MIN, 1.0)
    minutes = np.clip(np.rint(share * length), d.WATCH_MINUTES_MIN, length).astype(np.int64)
    noise = np.clip(
        rng.normal(0.0, d.COMPLETION_NOISE_SD, n), -d.COMPLETION_NOISE_MAX, d.COMPLETION_NOISE_MAX
    )
    noisy = 1000.0 * minutes / length + 10.0 * noise
    completion = np.clip(np.rint(noisy), 100, 1000).astype(np.int64)

    device = d.categorical(rng, d.DEVICE_P, n)
    cum = np.cumsum(np.asarray(d.QUALITY_P_BY_PLAN), axis=1)[plan]
    u = rng.random(n)
    quality = ((u >= cum[:, 0]).astype(np.int8) + (u >= cum[:, 1])).astype(np.int8)

    start = users.watch_start()[row_user]
    day = start + (rng.random(n) * (d.WATCH_LAST - start + 1)).astype(np.int64)

    return SessionBlock(
        first, users.first + row_user, content, day, minutes, completion, device, quality
    )
