"""Run one function in a fresh Python interpreter and get its value, or its exception, back.

Why: the pipeline runs independent stages in threads of one process, and CPU-bound Python
stages in threads take turns for that process's GIL. A stage run through :func:`call` uses a
core of its own. A fresh interpreter (``python -m streamlytics.isolated``) rather than
multiprocessing's "spawn": spawn re-runs the caller's main script in the child, which breaks
any script without an ``if __name__ == "__main__"`` guard; a fork would copy a process with
live threads mid-flight.

The function and its arguments must be picklable (a module-level function); the child
inherits the environment, the working directory and the caller's ``sys.path``. An exception raised in the child is
raised again here with its own type and message (its traceback is printed on stderr).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ChildProcessFailed(RuntimeError):
    """The child interpreter died without reporting an outcome (killed, out of memory, ...)."""


def call(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` evaluated in a new interpreter; blocks until it finishes."""
    with tempfile.TemporaryDirectory(prefix="streamlytics-isolated-") as tmp:
        request, outcome = Path(tmp) / "request.pickle", Path(tmp) / "outcome.pickle"
        # The caller's sys.path goes first, so the child can import what the caller could.
        request.write_bytes(pickle.dumps(sys.path) + pickle.dumps((func, args, kwargs)))
        proc = subprocess.run([sys.executable, "-m", "streamlytics.isolated", str(request), str(outcome)])
        if not outcome.exists():
            raise ChildProcessFailed(
                f"{getattr(func, '__qualname__', func)} ran in a child process that exited with "
                f"code {proc.returncode} without a result"
            )
        ok, value = pickle.loads(outcome.read_bytes())
    if ok:
        return value
    raise value


def _main(request: Path, outcome: Path) -> None:
    with request.open("rb") as stream:
        sys.path[:] = pickle.load(stream)
        func, args, kwargs = pickle.load(stream)
    try:
        result: tuple[bool, Any] = (True, func(*args, **kwargs))
    except Exception as exc:
        traceback.print_exc()
        try:
            pickle.loads(pickle.dumps(exc))  # both ways: a custom __init__ may refuse to rebuild it
            result = (False, exc)
        except Exception:  # an exception that cannot cross the process boundary keeps its text
            result = (False, RuntimeError(f"{type(exc).__name__}: {exc}"))
    outcome.write_bytes(pickle.dumps(result))


if __name__ == "__main__":
    _main(Path(sys.argv[1]), Path(sys.argv[2]))
