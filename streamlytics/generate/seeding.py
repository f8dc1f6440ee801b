"""Independent, reproducible random streams for every part of a generated dataset.

Each stream is keyed by (seed, purpose, block). A block is a fixed run of users
(:data:`BLOCK_USERS`), so the random numbers behind any row depend only on the seed and the
block it belongs to: neither the chunk size used for writing nor the order in which blocks are
visited can change a single byte of output.
"""

from __future__ import annotations

import numpy as np

BLOCK_USERS = 2000
"""Users per seeding block. Part of the output definition: changing it changes every file."""

# Purpose codes keep streams apart; never renumber them (that would change every dataset).
CATALOGUE = 1
USERS = 2
SESSIONS = 3
DIRTY_CONTENT = 4
DIRTY_USERS = 5
DIRTY_SESSIONS = 6


def stream(seed: int, purpose: int, block: int = 0) -> np.random.Generator:
    """A Generator that is a pure function of (seed, purpose, block)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(purpose, block)))
