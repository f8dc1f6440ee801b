"""Run pipeline stages in processes of their own, forked from one pre-warmed interpreter.

Why: the pipeline runs independent stages side by side. As threads of one process, the
CPU-bound Python stages (Great Expectations, publish, statistics and charts) take turns for
that process's GIL, and they starve the Prefect engine threads that start the next subflow. A
stage run through a :class:`StageHost` uses a core of its own.

Why a host that forks rather than a fresh interpreter per stage: the host imports the heavy
libraries (Great Expectations, numpy/scipy/scikit-learn/matplotlib, pymongo) once, while the
pipeline is still starting Prefect and loading the raw files; every stage process is then a
fork of it and starts in milliseconds. The host is single-threaded when it forks (never a fork
of a process with live threads), and it never runs the caller's main script (unlike
multiprocessing's spawn and forkserver).

Protocol, one Unix-socket connection per stage: the caller sends its environment, working
directory and ``sys.path``, then the pickled (stage, context); the forked child adopts them,
runs :func:`streamlytics.pipeline.execute_stage` and sends back the StageResult, what the stage
printed, and its peak RSS. The host imports its preload list when the caller writes ``p`` to its stdin, and exits when its
stdin closes, i.e. when the caller is gone.
"""

from __future__ import annotations

import importlib
import os
import pickle
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from streamlytics.pipeline import RunContext, Stage, StageResult

# What the isolated stages import, in the order the pipeline first needs them.
DEFAULT_PRELOAD = (
    "streamlytics.validation",
    "mongo.stage",
    "python_models.analyze",
    "python_models.report",
    "streamlytics.consumers.tableau",
)


PRELOAD = b"p"


def peak_rss_mb_of_this_process() -> float:
    """Peak RSS of this process and of the children it reaped, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


_running: StageHost | None = None


def running() -> StageHost | None:
    """The host this process started and has not stopped yet, if any (the CLI starts it early)."""
    return _running


class StageHost:
    """The caller's side: start the host, run stages in it, stop it. Use as a context manager."""

    def __init__(self, preload: tuple[str, ...] = DEFAULT_PRELOAD) -> None:
        self.modules = preload
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self) -> StageHost:
        self._dir = tempfile.TemporaryDirectory(
            prefix="streamlytics-stages-"
        )  # mode 0700: only we connect
        self.address = str(Path(self._dir.name) / "host.sock")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "streamlytics.stage_host", self.address, *self.modules],
            stdin=subprocess.PIPE,
        )
        global _running
        _running = self
        return self

    def preload(self) -> None:
        """Start importing the stages' libraries now (the caller waits until Prefect is up, so the
        imports do not slow down its start on a 2-core machine)."""
        if self._process is not None and self._process.stdin:
            self._process.stdin.write(PRELOAD)
            self._process.stdin.flush()

    def run(self, stage: Stage, ctx: RunContext, on_output: Any = None) -> StageResult:
        """Run ``stage`` in a forked child; its printed lines go to ``on_output`` (one call per line)."""
        started = time.perf_counter()
        try:
            conn = self._connect()
        except OSError as exc:
            return StageResult(
                stage.name, "failed", 0.0, {}, f"stage process could not start: {exc}"
            )
        with conn:
            conn.send((dict(os.environ), os.getcwd(), list(sys.path)))
            conn.send_bytes(pickle.dumps((stage, ctx)))
            try:
                result, output, peak_mb = conn.recv()
            except EOFError:
                result = StageResult(
                    stage.name,
                    "failed",
                    message=("stage process ended without a result (killed, e.g. out of memory?)"),
                )
                output, peak_mb = "", 0.0
        if on_output is not None:
            for line in output.splitlines():
                on_output(line)
        result.peak_rss_mb = peak_mb or None
        result.seconds = round(time.perf_counter() - started, 3)
        ctx.results[stage.name] = result.detail
        return result

    def _connect(self, timeout: float = 60.0) -> Connection:
        # The host binds its socket before importing anything, so this waits well under a second.
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.address)
                return Connection(sock.detach())
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if self._process is not None and self._process.poll() is not None:
                    raise OSError(
                        f"the stage host exited with code {self._process.returncode}"
                    ) from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            if self._process.stdin:
                self._process.stdin.close()  # the host's signal to exit
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        global _running
        if _running is self:
            _running = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> StageHost:
        self.start().preload()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the host's side ---------------------------------------------------------------------------


def _child(conn: Connection) -> None:
    """In the forked child: adopt the caller's environment, run the stage, send the outcome."""
    from streamlytics.pipeline import StageResult, execute_stage

    environ, cwd, path = conn.recv()
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    sys.path[:] = path
    with tempfile.TemporaryFile() as captured:
        # The stage's prints and library warnings, handed back to the caller's log.
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            stage, ctx = pickle.loads(conn.recv_bytes())
            result = execute_stage(stage, ctx)
        except BaseException as exc:  # noqa: BLE001 - anything that escapes is the stage's failure
            traceback.print_exc()
            result = StageResult(
                getattr(locals().get("stage"), "name", "?"),
                "failed",
                message=f"{type(exc).__name__}: {exc}",
            )
        sys.stdout.flush()
        sys.stderr.flush()
        captured.seek(0)
        output = captured.read().decode("utf-8", "replace")
    peak = peak_rss_mb_of_this_process()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    output += f"stage process {os.getpid()}: {usage.ru_utime + usage.ru_stime:.1f} s CPU, peak RSS {peak:.0f} MiB\n"
    try:
        conn.send((result, output, peak))
    except Exception as exc:  # a detail that does not pickle must not lose the stage's status
        conn.send(
            (
                StageResult(
                    result.name,
                    "failed",
                    result.seconds,
                    {},
                    f"{result.message or result.status}; result not transferable: {exc}",
                ),
                output,
                peak,
            )
        )


def _reap(children: set[int], block: bool = False) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)


def _serve_one(listener: socket.socket) -> int:
    sock, _ = listener.accept()
    pid = os.fork()
    if pid == 0:  # the stage process
        code = 0
        try:
            listener.close()
            with Connection(sock.detach()) as conn:
                _child(conn)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    sock.close()
    return pid


def serve(address: str, preload: list[str]) -> None:
    """The host's main loop: preload, and fork one child per connection until stdin closes."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(16)
    pending: list[str] = []
    children: set[int] = set()
    while True:
        # Import the next module only while no stage is waiting: a waiting stage goes first and
        # imports what it lacks itself.
        ready, _, _ = select.select([listener, sys.stdin], [], [], 0 if pending else 1.0)
        if sys.stdin in ready:
            command = os.read(sys.stdin.fileno(), 4096)
            if not command:
                # The caller is gone (or done): a stage still running has nobody to report to.
                for pid in children:
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                _reap(
                    children, block=True
                )  # so that their CPU time and peak RSS count for the caller
                return
            if PRELOAD in command:
                pending = list(preload)
        if listener in ready:
            children.add(_serve_one(listener))
        elif pending:
            try:
                importlib.import_module(pending.pop(0))
            except Exception:  # noqa: BLE001 - the stage that needs it will report the error
                pass
        _reap(children)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
