"""Defect kinds, how many of each to inject, and the manifest that lists every one.

A defect's kind is the reason code the pipeline must record for it (DATA_FORMAT contract), and
its expected stage says where: rejected at ingest, rejected in dbt staging, or normalised (the
row flows on). Every defect line carries exactly one defect and never makes another row wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

INGEST, STAGING, NORMALISED = "ingest", "staging", "normalised"

STAGE = {
    "field_count": INGEST,
    "bad_number": INGEST,
    "bad_date": INGEST,
    "empty_required": INGEST,
    "json_missing_key": INGEST,
    "json_wrong_type": INGEST,
    "duplicate_id": STAGING,
    "unknown_user_id": STAGING,
    "unknown_content_id": STAGING,
    "out_of_range": STAGING,
    "watch_before_registration": STAGING,
    "duration_above_length": STAGING,
    "episodes_mismatch": STAGING,
    "enum_case_whitespace": NORMALISED,
}

USERS_KINDS = (
    "field_count",
    "bad_number",
    "bad_date",
    "empty_required",
    "duplicate_id",
    "out_of_range",
    "enum_case_whitespace",
)
SESSIONS_KINDS = (
    "field_count",
    "bad_number",
    "bad_date",
    "empty_required",
    "duplicate_id",
    "unknown_user_id",
    "unknown_content_id",
    "out_of_range",
    "watch_before_registration",
    "duration_above_length",
    "enum_case_whitespace",
)
CONTENT_KINDS = (
    "bad_number",
    "empty_required",
    "json_missing_key",
    "json_wrong_type",
    "duplicate_id",
    "out_of_range",
    "episodes_mismatch",
)

MAX_DIRTY_FRACTION = 0.5


@dataclass(frozen=True)
class Defect:
    """One injected defect, as listed in manifest.json."""

    file: str
    line: int
    kind: str
    field: str | None
    value: str | None
    item_index: int | None = None
    section: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "item_index": self.item_index,
            "section": self.section,
            "field": self.field,
            "kind": self.kind,
            "value": self.value,
            "expected_stage": STAGE[self.kind],
        }


def check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= MAX_DIRTY_FRACTION:
        raise ValueError(
            f"dirty fraction must be between 0 and {MAX_DIRTY_FRACTION}, got {fraction!r}"
        )


def quota(kinds: tuple[str, ...], rows: int, fraction: float) -> dict[str, int]:
    """Defects per kind for a file of `rows` clean records: fraction × rows split evenly over the
    kinds, and at least one of every kind whenever fraction > 0."""
    if fraction <= 0:
        return {kind: 0 for kind in kinds}
    each = max(1, round(fraction * rows / len(kinds)))
    return {kind: each for kind in kinds}


def allocate(total: int, capacity: np.ndarray, what: str) -> np.ndarray:
    """Split `total` over blocks in proportion to capacity (largest remainder), never above it."""
    capacity = np.asarray(capacity, dtype=np.int64)
    room = int(capacity.sum())
    if total > room:
        raise ValueError(
            f"cannot place {total} '{what}' defects: only {room} suitable rows; "
            "use a larger scale or a smaller dirty fraction"
        )
    if total == 0:
        return np.zeros_like(capacity)
    share = total * capacity / room
    out = np.minimum(np.floor(share).astype(np.int64), capacity)
    for i in np.argsort(-(share - out), kind="stable"):
        if out.sum() == total:
            break
        if out[i] < capacity[i]:
            out[i] += 1
    while out.sum() < total:  # only when rounding met full blocks
        i = int(np.argmax(capacity - out))
        out[i] += 1
    return out


class ManifestWriter:
    """Streams defects of each file to its own spool, then writes manifest.json in file order
    (content.json, users.csv, viewing_sessions.csv), each sorted by line."""

    FILES = ("content.json", "users.csv", "viewing_sessions.csv")

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        # Open until finish() merges them into manifest.json and removes them.
        self._spools: dict[str, IO[str]] = {
            name: open(out_dir / f".manifest-{name}.part", "w", encoding="utf-8")  # noqa: SIM115
            for name in self.FILES
        }
        self.counts: dict[str, int] = {}

    def add(self, defects: list[Defect]) -> None:
        """Add defects; within one call they may come in any order, calls must follow the file."""
        for defect in sorted(defects, key=lambda x: (x.file, x.line)):
            self._spools[defect.file].write(json.dumps(defect.record()) + "\n")
            self.counts[defect.kind] = self.counts.get(defect.kind, 0) + 1

    def finish(self, header: dict[str, Any]) -> Path:
        """Write manifest.json ({header..., "defects": [...]}) and remove the spools."""
        target = self.out_dir / "manifest.json"
        tmp = self.out_dir / "manifest.json.part"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write("{\n")
            out.writelines(
                f"  {json.dumps(key)}: {json.dumps(value)},\n" for key, value in header.items()
            )
            out.write('  "defects": [')
            first = True
            for name in self.FILES:
                spool = self._spools[name]
                spool.close()
                with open(spool.name, encoding="utf-8") as lines:
                    for line in lines:
                        out.write(("\n    " if first else ",\n    ") + line.rstrip("\n"))
                        first = False
            out.write("\n  ]\n}\n" if not first else "]\n}\n")
        self.discard()
        tmp.replace(target)
        return target

    def discard(self) -> None:
        for spool in self._spools.values():
            spool.close()
            Path(spool.name).unlink(missing_ok=True)
