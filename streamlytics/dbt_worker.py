"""One dbt process that parses the project now and runs a command later, on the parsed manifest.

    python -m streamlytics.dbt_worker [dbt parse options]

The pipeline starts it before the files are loaded (``transform.parse_ahead``): it imports dbt
and runs ``dbt parse`` with the options given, prints :data:`PARSED` on a line of its own, then
waits for one line on stdin - a JSON object ``{"args": [...], "env": {...}}`` - and runs that
dbt command (``dbt build ...``) with the manifest it parsed, through dbt's programmatic entry
point (``dbtRunner(manifest=...)``). Its exit code is the dbt CLI's: 0 success, 1 a node failed,
2 dbt could not run. End of input without a command ends it quietly (the run never got to dbt).

Against a second ``dbt`` process for the build, this saves what a fresh process pays before its
first node: importing dbt and its adapter (about 2 s here) and reading back the saved parse.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

PARSED = "streamlytics-dbt-worker: parsed"
"""The line that separates the parse's output from the command's."""


def exit_code(result: Any) -> int:
    """The dbt CLI's exit code for a dbtRunnerResult: 0 success, 1 failed nodes, 2 an error."""
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def main(argv: list[str] | None = None) -> int:
    from dbt.cli.main import dbtRunner

    parse_args = sys.argv[1:] if argv is None else argv
    parsed = dbtRunner().invoke(["parse", *parse_args])
    # A parse that failed leaves the command to parse for itself (and report why, as the CLI does).
    manifest = parsed.result if parsed.success else None
    print(PARSED, flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    os.environ.update(request.get("env") or {})
    result = dbtRunner(manifest=manifest).invoke(list(request["args"]))
    sys.stdout.flush()
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
