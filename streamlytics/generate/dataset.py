"""generate_dataset: the three course files (and a defect manifest) for a scale and a seed.

Users are produced in fixed blocks (seeding.BLOCK_USERS); each block's users and sessions are
drawn, encoded and appended to the files before the next block is drawn, so memory stays flat
whatever the scale. A first, cheap pass over the blocks counts sessions so that id widths and
defect quotas are known before anything is written.

A dirty run is the clean run of the same seed and scale plus the defect lines: defects use
their own random streams and never disturb the clean draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamlytics.generate import defects as dfx
from streamlytics.generate import distributions as d
from streamlytics.generate import seeding
from streamlytics.generate.catalogue import build_catalogue, render_content
from streamlytics.generate.dirty_content import fresh_counts, inject_content_defects, plan_sections
from streamlytics.generate.dirty_sessions import plan_session_defects
from streamlytics.generate.dirty_sessions import to_defects as session_defects
from streamlytics.generate.dirty_users import FRESH_ID_KINDS, plan_user_defects
from streamlytics.generate.dirty_users import to_defects as user_defects
from streamlytics.generate.layout import (
    SESSIONS_HEADER,
    USERS_HEADER,
    encode_sessions,
    encode_users,
)
from streamlytics.generate.scaling import (
    CONTENT_ID_DIGITS,
    SESSION_ID_DIGITS,
    USER_ID_DIGITS,
    IdFormat,
    Sizes,
    id_digits,
    sizes_for,
)
from streamlytics.generate.sessions import generate_sessions
from streamlytics.generate.users import UserBlock, generate_users
from streamlytics.generate.writer import splice, text_table

USERS_FILE, CONTENT_FILE, SESSIONS_FILE, MANIFEST_FILE = (
    "users.csv",
    "content.json",
    "viewing_sessions.csv",
    "manifest.json",
)


@dataclass(frozen=True)
class _BlockStats:
    users: np.ndarray  # users per block
    sessions: np.ndarray  # sessions per block
    late: np.ndarray  # sessions per block whose user registered after the log started


def _block_users(seed: int, block: int, total_users: int) -> UserBlock:
    first = block * seeding.BLOCK_USERS + 1
    n = min(seeding.BLOCK_USERS, total_users - first + 1)
    return generate_users(seeding.stream(seed, seeding.USERS, block), first, n)


def _count_blocks(seed: int, sizes: Sizes) -> _BlockStats:
    blocks = math.ceil(sizes.users / seeding.BLOCK_USERS)
    users, sessions, late = (np.zeros(blocks, dtype=np.int64) for _ in range(3))
    for b in range(blocks):
        block = _block_users(seed, b, sizes.users)
        users[b] = block.size
        sessions[b] = block.sessions.sum()
        late[b] = block.sessions[block.registration > d.WATCH_FIRST].sum()
    return _BlockStats(users, sessions, late)


def _allocate_users(quota: dict[str, int], stats: _BlockStats) -> list[dict[str, int]]:
    enum = dfx.allocate(quota["enum_case_whitespace"], stats.users, "enum_case_whitespace")
    per_kind = {"enum_case_whitespace": enum}
    per_kind["duplicate_id"] = dfx.allocate(
        quota["duplicate_id"], stats.users - enum, "duplicate_id"
    )
    # Extra lines need no particular row: spread them like the users (capacity is not binding).
    unbounded = stats.users * (1 + sum(quota.values()))
    for kind in (*FRESH_ID_KINDS, "empty_required"):
        per_kind[kind] = dfx.allocate(quota[kind], unbounded, kind)
    return [{k: int(v[b]) for k, v in per_kind.items()} for b in range(stats.users.shape[0])]


def _allocate_sessions(quota: dict[str, int], stats: _BlockStats) -> list[dict[str, int]]:
    room = stats.sessions.copy()
    per_kind = {}
    late = dfx.allocate(
        quota["watch_before_registration"],
        np.minimum(stats.late, room),
        "watch_before_registration",
    )
    per_kind["watch_before_registration"] = late
    room -= late
    pairs = dfx.allocate(quota["duplicate_id"], room // 2, "duplicate_id")
    per_kind["duplicate_id"] = pairs
    room -= 2 * pairs
    for kind in dfx.SESSIONS_KINDS:
        if kind not in per_kind:
            per_kind[kind] = dfx.allocate(quota[kind], room, kind)
            room -= per_kind[kind]
    return [{k: int(v[b]) for k, v in per_kind.items()} for b in range(stats.sessions.shape[0])]


def generate_dataset(
    out_dir: Path, scale: float = 1.0, seed: int = 42, dirty_fraction: float = 0.0
) -> dict[str, Any]:
    """Write users.csv, content.json, viewing_sessions.csv (and manifest.json when
    dirty_fraction > 0) into out_dir; same arguments give byte-identical files.

    Returns row counts per file (data records, defect lines included) and defect counts.
    Files are written under temporary names and renamed at the end, so a failed run never
    leaves a complete-looking dataset behind.
    """
    dfx.check_fraction(dirty_fraction)
    sizes = sizes_for(scale)
    dirty = dirty_fraction > 0
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    stats = _count_blocks(seed, sizes)
    total_sessions = int(stats.sessions.sum())
    n_content = sizes.movies + sizes.series
    user_quota = dfx.quota(dfx.USERS_KINDS, sizes.users, dirty_fraction)
    session_quota = dfx.quota(dfx.SESSIONS_KINDS, total_sessions, dirty_fraction)
    content_rng = seeding.stream(seed, seeding.DIRTY_CONTENT)
    content_plan = plan_sections(
        content_rng, dfx.quota(dfx.CONTENT_KINDS, n_content, dirty_fraction)
    )
    user_counts = _allocate_users(user_quota, stats) if dirty else None
    session_counts = _allocate_sessions(session_quota, stats) if dirty else None

    fresh_content = fresh_counts(content_plan)
    fresh_users = sum(user_quota[k] for k in FRESH_ID_KINDS)
    ids = IdFormat(
        user_digits=id_digits(sizes.users + fresh_users, USER_ID_DIGITS),
        movie_digits=id_digits(sizes.movies + fresh_content["movies"], CONTENT_ID_DIGITS),
        series_digits=id_digits(sizes.series + fresh_content["series"], CONTENT_ID_DIGITS),
        session_digits=id_digits(total_sessions, SESSION_ID_DIGITS),
    )

    catalogue = build_catalogue(
        seeding.stream(seed, seeding.CATALOGUE), sizes.movies, sizes.series, ids
    )
    manifest = dfx.ManifestWriter(out_dir) if dirty else None
    tmp = {name: out_dir / f"{name}.part" for name in (USERS_FILE, CONTENT_FILE, SESSIONS_FILE)}
    try:
        if dirty:
            text, content_defects = inject_content_defects(
                content_rng, catalogue, content_plan, ids
            )
            manifest.add(content_defects)
        else:
            text = render_content(catalogue.movies, catalogue.series)[0]
        tmp[CONTENT_FILE].write_text(text, encoding="ascii")

        lengths = catalogue.lengths()
        content_ids = catalogue.content_ids()
        content_table = text_table(content_ids)
        user_rows = session_rows = 0
        next_fresh = sizes.users + 1
        with (
            open(tmp[USERS_FILE], "wb") as users_out,
            open(tmp[SESSIONS_FILE], "wb") as sessions_out,
        ):
            users_out.write(USERS_HEADER.encode() + b"\n")
            sessions_out.write(SESSIONS_HEADER.encode() + b"\n")
            first_session = 1
            for b in range(stats.users.shape[0]):
                users = _block_users(seed, b, sizes.users)
                sessions = generate_sessions(
                    seeding.stream(seed, seeding.SESSIONS, b), users, lengths, first_session
                )
                first_session += sessions.size

                clean, ends = encode_users(users, ids)
                if dirty:
                    planned, next_fresh = plan_user_defects(
                        seeding.stream(seed, seeding.DIRTY_USERS, b),
                        users,
                        user_counts[b],
                        next_fresh,
                        ids,
                    )
                    data, lines = splice(clean, ends, [p.edit for p in planned], user_rows + 2)
                    manifest.add(user_defects(planned, lines))
                    user_rows += users.size + sum(p.edit.after for p in planned)
                else:
                    data = clean.tobytes()
                    user_rows += users.size
                users_out.write(data)

                clean, ends = encode_sessions(sessions, ids, content_table)
                if dirty:
                    registration = users.registration[sessions.user - users.first]
                    edits, info = plan_session_defects(
                        seeding.stream(seed, seeding.DIRTY_SESSIONS, b),
                        sessions,
                        registration,
                        lengths,
                        session_counts[b],
                        ids,
                        content_ids,
                    )
                    data, lines = splice(clean, ends, edits, session_rows + 2)
                    manifest.add(session_defects(info, lines))
                else:
                    data = clean.tobytes()
                session_rows += sessions.size
                sessions_out.write(data)

        for name, path in tmp.items():
            path.replace(out_dir / name)
        if manifest is not None:
            manifest.finish({"seed": seed, "scale": scale, "dirty_fraction": dirty_fraction})
        else:
            (out_dir / MANIFEST_FILE).unlink(missing_ok=True)  # a stale one would claim defects
    except BaseException:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        if manifest is not None:
            manifest.discard()
        raise

    by_kind = dict(sorted(manifest.counts.items())) if manifest is not None else {}
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        "scale": scale,
        "dirty_fraction": dirty_fraction,
        "users": user_rows,
        "movies": sizes.movies + sum(section == "movies" for _, section in content_plan),
        "series": sizes.series + sum(section == "series" for _, section in content_plan),
        "sessions": session_rows,
        "defects": sum(by_kind.values()),
        "defects_by_kind": by_kind,
    }
