"""The project's own Apache Spark: a Spark Connect server started from the pyspark wheel.

With the Spark engine (STREAMLYTICS_WAREHOUSE=spark) and no endpoint of the user's, ``services
up`` starts ``spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer`` on a
loopback port (kept across restarts, like the other embedded services). The server is one
long-lived JVM: dbt (``method: session`` with SPARK_REMOTE), the raw landing and every reader
are clients of it, so the ≈ 12 s of JVM and metastore start-up is paid once, not per dbt
invocation, and the Derby metastore (one process at a time) is only ever opened by it.

Its warehouse (Parquet files), Derby metastore, scratch space and logs live under
``<state>/spark``. Spark's UI is off: five engineers' servers would fight over port 4040.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from streamlytics.services._process import (
    ServerFolder,
    free_port,
    listens_on,
    log_tail,
    stop_process,
    wait_for_port,
    write_json,
)
from streamlytics.services.postgres import ServiceError

CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
DEFAULT_PORT = 15002
START_ATTEMPTS = 3
START_TIMEOUT_SECONDS = 180  # JVM, Hive catalog and Derby schema creation; a busy 2-core machine


def spark_home() -> Path:
    """The Spark distribution inside the pyspark wheel (bin/spark-submit, jars/)."""
    try:
        import pyspark
    except ImportError as exc:
        raise ServiceError(
            "the Spark engine needs the project's `spark` extra: "
            "pip install -c requirements.lock -e '.[spark]' (or `make install-spark`)"
        ) from exc
    # pyspark 4.3 warns on import that pandas 3 is newer than it was tested with; the project
    # moves data through Arrow, and the cross-engine equality tests are what vouch for it.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    return Path(pyspark.__file__).resolve().parent


def connect_version(remote: str, timeout: float = 60) -> str:
    """Open a Spark Connect session on ``remote`` and return the server's Spark version."""
    spark_home()  # the clear message when pyspark is missing
    from pyspark.sql import SparkSession

    deadline = time.monotonic() + timeout
    while True:
        try:
            session = SparkSession.builder.remote(remote).create()
            try:
                return str(session.version)
            finally:
                session.stop()
        except Exception as exc:  # grpc and pyspark raise many kinds; all mean "not reachable"
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"Spark Connect at {remote} is unreachable: {str(exc).splitlines()[0]}. "
                    "Check SPARK_REMOTE, or unset it to use the project's own local server."
                ) from exc
            time.sleep(1)


@dataclass
class EmbeddedSpark(ServerFolder):
    """``<state>/spark``: warehouse/, metastore_db/, tmp/, server.log and state.json live here."""

    driver_memory: str = "2g"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.root / "metastore_db"

    def url(self) -> str | None:
        """The Spark Connect URL (what SPARK_REMOTE is set to)."""
        port = self.port
        return f"sc://127.0.0.1:{port}" if port else None

    def pid_needle(self) -> str:
        # The warehouse folder on its command line tells our server from a reused pid.
        return str(self.warehouse_dir)

    def command(self, port: int) -> list[str]:
        home = spark_home()
        confs = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(port),
            "spark.sql.catalogImplementation": "hive",
            "spark.sql.warehouse.dir": str(self.warehouse_dir),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={self.metastore_dir};create=true"
            ),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.root}",
            "spark.local.dir": str(self.root / "tmp"),
            "spark.ui.enabled": "false",
            # Timestamps read and written as UTC, as the PostgreSQL warehouse's session does.
            "spark.sql.session.timeZone": "UTC",
            # 200 shuffle partitions is sized for a cluster: a local server on a laptop writes
            # 200 tiny files per table and pays a task per partition.
            "spark.sql.shuffle.partitions": "8",
            # Derby's metastore cannot filter partitions on an integer column (the raw landing's
            # _load_id, which dbt's incremental models filter on): Spark then lists every
            # partition (one per load) and prunes them itself, instead of failing the query.
            "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
        }
        cmd = [
            str(home / "bin" / "spark-submit"),
            "--class",
            CONNECT_SERVER_CLASS,
            "--name",
            "streamlytics Spark Connect server",
            "--master",
            "local[*]",
            "--driver-memory",
            self.driver_memory,
        ]
        for key, value in confs.items():
            cmd += ["--conf", f"{key}={value}"]
        # spark-submit wants an application resource; the Connect server is in jars/ already.
        cmd.append("spark-internal")
        return cmd

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_CONF_DIR=str(self.root / "conf"),  # no stray spark-defaults.conf from elsewhere
            SPARK_LOG_DIR=str(self.root),
        )
        return env

    def start(self) -> str:
        """Start the server (idempotent); return its Spark Connect URL."""
        if self.is_running():
            return self.url()  # type: ignore[return-value]
        for folder in (self.warehouse_dir, self.root / "tmp", self.root / "conf"):
            folder.mkdir(parents=True, exist_ok=True)
        port = free_port(self.port or DEFAULT_PORT)
        for _attempt in range(START_ATTEMPTS):
            proc = self._launch(port)
            if self._wait_until_listening(proc, port):
                return self.url()  # type: ignore[return-value]
            # It exited without listening: another server took the port between the check and
            # the bind (two checkouts starting at once). Try again on a port the OS picks.
            port = free_port()
        raise ServiceError(
            f"the Spark Connect server exited {START_ATTEMPTS} times before listening "
            f"(exit code {proc.poll()}); {self.log_file} ends with:\n{log_tail(self.log_file)}"
        )

    def _launch(self, port: int) -> subprocess.Popen:
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self.command(port),
                env=self.environment(),
                cwd=self.root,  # derby.log and anything else Spark drops in its working folder
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives the CLI call that started it
            )
        write_json(self.state_file, {"port": port, "pid": proc.pid})
        return proc

    def _wait_until_listening(self, proc: subprocess.Popen, port: int) -> bool:
        """True once ``proc`` itself listens on ``port`` (another process answering there is not
        ours); False when it exited first; an error when it neither listens nor exits in time."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not listens_on(proc.pid, port):
            if proc.poll() is not None:
                return False
            if time.monotonic() > deadline:
                stop_process(proc.pid)
                raise ServiceError(
                    f"the Spark Connect server did not listen on 127.0.0.1:{port} within "
                    f"{START_TIMEOUT_SECONDS} s; {self.log_file} ends with:\n"
                    f"{log_tail(self.log_file)}"
                )
            time.sleep(0.5)
        return True

    def stop(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        # SIGTERM lets the JVM's shutdown hooks close the Derby metastore cleanly.
        stop_process(pid, timeout=30)
        return True


def check_thrift(host: str, port: int, timeout: float = 10) -> str:
    """A Spark Thrift server of the user's answers on ``host:port`` (TCP); return that address.

    dbt-spark's thrift method opens the session itself; this only tells a wrong address or a
    stopped server apart from a dbt failure, before anything runs.
    """
    if not wait_for_port(port, timeout=timeout, host=host):
        raise ServiceError(
            f"the Spark Thrift server at {host}:{port} does not answer. "
            "Check SPARK_THRIFT_HOST / SPARK_THRIFT_PORT, or unset them to use Spark Connect."
        )
    return f"{host}:{port}"
