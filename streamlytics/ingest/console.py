"""Terminal output of `streamlytics ingest`: a progress bar per file and the summary table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from streamlytics.ingest.checks import SourceFile
from streamlytics.ingest.progress import reporting


@contextmanager
def file_progress(console: Console) -> Iterator[None]:
    """Show one bar per file (bytes processed) while the loader runs inside this block."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def update(source: SourceFile, done: int) -> None:
            key = str(source.path)
            if key not in tasks:
                tasks[key] = progress.add_task(source.name, total=max(source.size, 1))
            progress.update(tasks[key], completed=done)

        with reporting(update):
            yield


def summary_table(report: dict[str, Any]) -> Table:
    """Per file: status, lines read = loaded + quarantined (report as IngestReport.to_dict()).

    Batches a load replaced are listed in the caption (batch ids are in the flow log and ledger).
    """
    files = report["files"]
    notes = [
        f"{f['file']} replaced batch {', '.join(b[:8] for b in f['superseded'])}"
        for f in files
        if f["superseded"]
    ]
    notes.append("skipped = these exact bytes were already loaded; nothing was written")
    table = Table(
        title=f"ingest of {report['data_dir']}",
        caption="\n".join(notes),
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    table.add_column(
        "file", no_wrap=True, min_width=max((len(f["file"]) for f in files), default=4)
    )
    table.add_column("status", no_wrap=True)
    for name in ("read", "loaded", "quarantined"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("sec", justify="right", no_wrap=True)
    for f in files:
        status = "[green]loaded[/]" if f["status"] == "loaded" else "[dim]skipped[/]"
        quarantined = f"{f['rows_quarantined']:,}"
        if f["rows_quarantined"]:
            quarantined = f"[yellow]{quarantined}[/]"
        table.add_row(
            f["file"],
            status,
            f"{f['lines_read']:,}",
            f"{f['rows_loaded']:,}",
            quarantined,
            f"{f['seconds']:.1f}",
        )
    return table
