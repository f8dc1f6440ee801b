"""What an ingest run did, per file: the value the CLI prints and the flow returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class FileReport:
    file: str
    kind: str
    batch_id: str
    status: Literal["loaded", "skipped"]
    """'skipped': these exact bytes were already loaded, nothing was written."""
    lines_read: int
    rows_loaded: int
    rows_quarantined: int
    load_id: int
    """Ledger row of the batch (for a skipped file: the earlier load)."""
    superseded: tuple[str, ...] = ()
    """Batch ids this load replaced."""
    seconds: float = 0.0

    @property
    def accounted(self) -> bool:
        return self.lines_read == self.rows_loaded + self.rows_quarantined


@dataclass(frozen=True)
class IngestReport:
    data_dir: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def loaded(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "loaded"]

    @property
    def skipped(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "skipped"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
