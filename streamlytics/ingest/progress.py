"""Progress reporting without threading a callback through every layer (CLI → flow → task).

The CLI installs a callback with :func:`reporting`; the flow reads it with
:func:`current_progress` and hands it to the loader. Without one, nothing is reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from streamlytics.ingest.pipeline import FileProgress

_PROGRESS: ContextVar[FileProgress | None] = ContextVar(
    "streamlytics_ingest_progress", default=None
)


@contextmanager
def reporting(callback: FileProgress) -> Iterator[None]:
    """Send loader progress (file, bytes done) to ``callback`` inside this block."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def current_progress() -> FileProgress | None:
    return _PROGRESS.get()
