"""audit.quarantine: where every line or item that cannot land goes, with the reason.

Rejections are spooled (in memory up to a limit, then on disk) while the landing COPY runs, and
copied into audit.quarantine in the same transaction right after it, so memory stays flat even
for a file that is entirely bad.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

from streamlytics.ingest.copy_text import decode_row, encode_row

SPOOL_MEMORY_BYTES = 16 * 1024 * 1024
_SHOWN_VALUE_CHARS = 120

QUARANTINE_COLUMNS = (
    "batch_id",
    "source_file",
    "source_line",
    "item_index",
    "stage",
    "reason_code",
    "field",
    "value",
    "message",
    "raw_text",
)


@dataclass(frozen=True)
class Rejection:
    """One line (CSV) or item (content.json) that did not land, and why."""

    line: int
    reason: str
    field: str | None
    value: str | None
    detail: str
    raw_text: str
    item_index: int | None = None
    item_label: str | None = None
    """content.json: e.g. ``movies[4]``, to name the item in the message."""


def shown(value: str) -> str:
    """A value quoted for a message, cut short if it is long."""
    if len(value) > _SHOWN_VALUE_CHARS:
        value = value[: _SHOWN_VALUE_CHARS - 3] + "..."
    return repr(value)


def message_for(source_file: str, rejection: Rejection) -> str:
    """The human sentence stored with a rejection: file, line, field, value and problem."""
    where = f"{source_file} line {rejection.line}"
    if rejection.item_label:
        where += f" ({rejection.item_label})"
    if rejection.field is None:
        return f"{where}: {rejection.detail}"
    if rejection.value is None:
        return f"{where}: field {rejection.field} {rejection.detail}"
    return f"{where}: field {rejection.field} = {shown(rejection.value)} {rejection.detail}"


class QuarantineSpool:
    """Collects the rejections of one batch and copies them into audit.quarantine."""

    def __init__(self, batch_id: str, source_file: str) -> None:
        self.batch_id = batch_id
        self.source_file = source_file
        self.count = 0
        # Lives as long as the spool: close() (or leaving its `with` block) closes it.
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_MEMORY_BYTES, mode="w+b"
        )

    def add(self, rejection: Rejection) -> None:
        row: tuple[Any, ...] = (
            self.batch_id,
            self.source_file,
            rejection.line,
            rejection.item_index,
            "ingest",
            rejection.reason,
            rejection.field,
            rejection.value,
            message_for(self.source_file, rejection),
            rejection.raw_text,
        )
        self._file.write(encode_row(row).encode("utf-8", errors="replace"))
        self.count += 1

    def copy_into(self, cursor: Any) -> int:
        """COPY the spooled rows into audit.quarantine; returns the rows the server stored."""
        if self.count == 0:
            return 0
        self._file.seek(0)
        cursor.copy_expert(
            f"copy audit.quarantine ({', '.join(QUARANTINE_COLUMNS)}) from stdin",
            self._file,
            size=1024 * 1024,
        )
        return cursor.rowcount

    def rows(self) -> Iterator[list[str | None]]:
        """The spooled rows as values in QUARANTINE_COLUMNS order (strings; NULL is None)."""
        self._file.seek(0)
        for line in self._file:
            yield decode_row(line.decode("utf-8").removesuffix("\n"))
        self._file.seek(0, 2)  # further add() calls append

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def delete_batches(cursor: Any, batch_ids: list[str]) -> None:
    """Remove the ingest rejections of superseded batches (their ledger rows keep the counts)."""
    if batch_ids:
        cursor.execute(
            "delete from audit.quarantine where stage = 'ingest' and batch_id = any(%s)",
            (batch_ids,),
        )
