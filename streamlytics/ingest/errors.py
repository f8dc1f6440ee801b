"""Errors the loader raises, each able to say which file, line and column it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot be loaded at all (a preflight finding)."""

    file: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
        return f"{where}: {self.message}"


class IngestError(Exception):
    """Base class: the ingest stage could not complete."""


class PreflightError(IngestError):
    """The input directory failed its checks; nothing was written to the database."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the input files; nothing was loaded:\n{lines}"
        )


class InvariantError(IngestError):
    """A batch did not account for every line it read; its transaction was rolled back."""


class SourceChangedError(IngestError):
    """A file's bytes changed between the preflight check and the load."""
