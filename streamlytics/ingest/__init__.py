"""Ingestion: the three raw exports into PostgreSQL (schemas raw and audit) with COPY.

Entry point: :func:`ingest_directory`. The Prefect flow ``flows.ingest.ingest_flow`` and the
CLI ``streamlytics ingest`` are thin wrappers around the same functions. See docs/ingestion.md.
"""

from streamlytics.ingest.checks import SourceFile, preflight
from streamlytics.ingest.errors import (
    IngestError,
    InvariantError,
    PreflightError,
    Problem,
    SourceChangedError,
)
from streamlytics.ingest.pipeline import ingest_directory, load_source
from streamlytics.ingest.report import FileReport, IngestReport

__all__ = [
    "FileReport",
    "IngestError",
    "IngestReport",
    "InvariantError",
    "PreflightError",
    "Problem",
    "SourceChangedError",
    "SourceFile",
    "ingest_directory",
    "load_source",
    "preflight",
]
