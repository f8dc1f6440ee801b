"""Helpers the benchmark scripts share."""

from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """URL of a new empty database on the server of ``admin_url``, dropped (with force) afterwards."""
    # Imported here: benchmark children import their script, and their peak RSS is measured.
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def resolve_commit(root: Path, spec: str) -> str:
    """The full hash of the commit ``spec`` (a hash, branch or tag) names in ``root``'s repository."""
    return subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", f"{spec}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def commit_worktree(root: Path, spec: str) -> Path:
    """A detached worktree of ``spec``'s commit under .state/bench-checkouts (made once, kept)."""
    commit = resolve_commit(root, spec)
    folder = root / ".state" / "bench-checkouts" / commit[:12]
    if not folder.exists():
        subprocess.run(
            ["git", "-C", str(root), "worktree", "add", "--detach", str(folder), commit],
            check=True,
            capture_output=True,
        )
    return folder


def commit_of(folder: Path) -> str:
    """The short hash of the commit checked out in ``folder``."""
    return subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_results(
    results: dict[str, Any], name: str, markdown: Callable[[dict[str, Any]], str]
) -> Path:
    """A benchmark's figures as results/<name>.json, and their table as results/<name>.md."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    path.with_suffix(".md").write_text(markdown(results))
    return path
