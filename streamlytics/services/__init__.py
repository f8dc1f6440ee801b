"""Which PostgreSQL, MongoDB, Prefect server and (with the Spark engine) Spark the project talks
to, and the lifecycle of its own local ones.

Resolution rule, the same for every service: when the user's variable (``DATABASE_URL`` /
``MONGODB_URI`` / ``PREFECT_API_URL``) is set, that server is used and nothing is started or
stopped; otherwise the project's embedded server under the state folder is used. The Prefect
server keeps its database on the PostgreSQL in use (see services/prefect.py). Spark is a service
only when the warehouse engine is Spark (STREAMLYTICS_WAREHOUSE=spark): ``SPARK_REMOTE`` names
the user's Spark Connect server, ``SPARK_THRIFT_HOST`` the user's Thrift server (dbt only, see
services/spark.py); with neither, the project's own local Connect server is used.

A variable that names the project's own server (what ``eval "$(streamlytics services env)"``
leaves behind) is not the user's server: ``up`` starts it, ``down`` stops it, and ``status``
reports it as the project's. ``down`` stops whatever ``up`` started in this state folder,
whatever the environment says; a server of the user's is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from streamlytics.config import Settings, settings
from streamlytics.services.mongo import EmbeddedMongo
from streamlytics.services.postgres import EmbeddedPostgres, ServiceError
from streamlytics.services.prefect import EmbeddedPrefect, api_version
from streamlytics.services.spark import EmbeddedSpark, check_thrift, connect_version

__all__ = [
    "ServiceError",
    "ServiceStatus",
    "check_mongo",
    "check_postgres",
    "database_url",
    "down",
    "env_exports",
    "mongodb_uri",
    "prefect_api_url",
    "server_pids",
    "spark_remote",
    "status",
    "up",
]


def _pg(cfg: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(cfg.state_dir / "postgres")


def _mongo(cfg: Settings) -> EmbeddedMongo:
    return EmbeddedMongo(cfg.state_dir / "mongo")


def _prefect(cfg: Settings) -> EmbeddedPrefect:
    return EmbeddedPrefect(cfg.state_dir / "prefect")


def _spark(cfg: Settings) -> EmbeddedSpark:
    return EmbeddedSpark(cfg.state_dir / "spark")


def server_pids(cfg: Settings | None = None) -> dict[str, int]:
    """The pid of each embedded server of this project that is running, by service name
    (postgres: the postmaster; mongo, prefect, spark: the server process)."""
    cfg = cfg or settings()
    servers = {"postgres": _pg, "mongo": _mongo, "prefect": _prefect, "spark": _spark}
    pids = {name: server(cfg).pid() for name, server in servers.items()}
    return {name: pid for name, pid in pids.items() if pid}


@dataclass
class ServiceStatus:
    name: str
    mode: str
    """"embedded" (the project's own server) or "external" (the user's, never touched)."""
    url: str | None
    reachable: bool
    version: str | None
    detail: str = ""
    in_use: bool = True
    """False for a project server that is running while the variable points elsewhere."""


def _same_server(url: str | None, own_url: str | None) -> bool:
    """Whether ``url`` reaches the same loopback port as the project's own server's URL."""
    from urllib.parse import urlsplit

    if not url or not own_url:
        return False
    try:
        a, b = urlsplit(url), urlsplit(own_url)
        return (
            a.port is not None
            and a.port == b.port
            and (a.hostname or "") in {"127.0.0.1", "localhost", "::1"}
        )
    except ValueError:
        return False


def _services(cfg: Settings):
    """(name, the user's variable, the embedded server, reachability check) per service."""
    return (
        ("postgres", cfg.database_url, _pg(cfg), check_postgres),
        ("mongo", cfg.mongodb_uri, _mongo(cfg), check_mongo),
    )


def _external(variable: str | None, embedded) -> str | None:
    """The user's own server's URL, or None when the variable is unset or names ours."""
    return None if not variable or _same_server(variable, embedded.url()) else variable


def database_url(cfg: Settings | None = None) -> str:
    """The PostgreSQL URL to use; raises ServiceError if the local server was never started."""
    cfg = cfg or settings()
    if cfg.database_url:
        return cfg.database_url
    url = _pg(cfg).url()
    if url is None:
        raise ServiceError(
            "No DATABASE_URL is set and the local PostgreSQL has not been started: "
            "run `streamlytics services up` (or set DATABASE_URL to your own server)."
        )
    return url


def mongodb_uri(cfg: Settings | None = None) -> str:
    cfg = cfg or settings()
    if cfg.mongodb_uri:
        return cfg.mongodb_uri
    url = _mongo(cfg).url()
    if url is None:
        raise ServiceError(
            "No MONGODB_URI is set and the local MongoDB server has not been started: "
            "run `streamlytics services up` (or set MONGODB_URI to your own server)."
        )
    return url


def prefect_api_url(cfg: Settings | None = None) -> str:
    """The Prefect API URL flows report to; raises ServiceError if the local server was never
    started."""
    cfg = cfg or settings()
    if cfg.prefect_api_url:
        return cfg.prefect_api_url
    url = _prefect(cfg).url()
    if url is None:
        raise ServiceError(
            "No PREFECT_API_URL is set and the local Prefect server has not been started: "
            "run `streamlytics services up` (or set PREFECT_API_URL to your own server)."
        )
    return url


def spark_remote(cfg: Settings | None = None) -> str:
    """The Spark Connect URL the landing and the readers use (SPARK_REMOTE's, else the project's
    own server's); raises ServiceError if neither is there."""
    cfg = cfg or settings()
    if cfg.spark_remote:
        return cfg.spark_remote
    url = _spark(cfg).url() if _spark(cfg).is_running() else None
    if url is None:
        where = (
            f"SPARK_THRIFT_HOST={cfg.spark_thrift_host} serves dbt only; the landing and the "
            "readers reach Spark through Spark Connect: set SPARK_REMOTE too"
            if cfg.spark_thrift_host
            else "No SPARK_REMOTE is set and the local Spark Connect server is not running: "
            "run `streamlytics --warehouse spark services up` (or set SPARK_REMOTE)"
        )
        raise ServiceError(where + ".")
    return url


def _redact(url: str) -> str:
    """Hide a password in a URL before printing it."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def check_postgres(url: str, timeout: int = 5) -> str:
    """Connect and return the server version; a clear ServiceError when unreachable."""
    import psycopg2

    try:
        conn = psycopg2.connect(url, connect_timeout=timeout)
    except psycopg2.Error as exc:
        raise ServiceError(
            f"PostgreSQL at {_redact(url)} is unreachable: {str(exc).strip()}. "
            "Check DATABASE_URL, or unset it to use the project's own server."
        ) from exc
    try:
        with conn.cursor() as cur:
            cur.execute("show server_version")
            return str(cur.fetchone()[0])
    finally:
        conn.close()


def check_mongo(uri: str, timeout_ms: int = 5000) -> str:
    import pymongo

    try:
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms) as client:
            client.admin.command("ping")
            info = client.admin.command("buildInfo")
            return str(info.get("version", "unknown"))
    except pymongo.errors.PyMongoError as exc:
        raise ServiceError(
            f"MongoDB at {_redact(uri)} is unreachable: {exc}. "
            "Check MONGODB_URI, or unset it to use the project's own server."
        ) from exc


def up(cfg: Settings | None = None) -> dict[str, str]:
    """Make both services reachable; start the embedded ones that are needed. Idempotent, and
    safe to call from several processes at once (they take turns)."""
    cfg = cfg or settings()
    with _starting(cfg):
        return _up(cfg)


@contextlib.contextmanager
def _starting(cfg: Settings) -> Iterator[None]:
    """One process at a time starts the state folder's servers: two (two pytest workers, two
    `streamlytics run`) would each see a server not running and both start it."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with (cfg.state_dir / "services.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _up(cfg: Settings) -> dict[str, str]:
    urls: dict[str, str] = {}
    for name, variable, embedded, check in _services(cfg):
        external = _external(variable, embedded)
        if external:
            check(external)
            urls[name] = external
        else:
            urls[name] = embedded.start()
    prefect = _external(cfg.prefect_api_url, _prefect(cfg))
    if prefect:
        api_version(prefect)
        urls["prefect"] = prefect
    else:
        urls["prefect"] = _prefect(cfg).start(urls["postgres"])
    if cfg.warehouse == "spark":
        urls.update(_spark_up(cfg))
    return urls


def _spark_up(cfg: Settings) -> dict[str, str]:
    """The Spark endpoints in use, the project's own Connect server started when none is given."""
    urls = {}
    if cfg.spark_thrift_host:
        urls["spark-thrift"] = check_thrift(cfg.spark_thrift_host, cfg.spark_thrift_port)
    remote = _external(cfg.spark_remote, _spark(cfg))
    if remote:
        connect_version(remote)
        urls["spark"] = remote
    elif not cfg.spark_thrift_host:
        urls["spark"] = _spark(cfg).start()
    return urls


def down(cfg: Settings | None = None) -> list[str]:
    """Stop the servers ``up`` started in this state folder, whatever the variables say.

    A server of the user's (a variable naming another server) is never touched; see
    :func:`status` for which is which.
    """
    cfg = cfg or settings()
    # Prefect first: its database lives on the PostgreSQL stopped next.
    stopped = ["prefect"] if _prefect(cfg).stop() else []
    stopped += ["spark"] if _spark(cfg).stop() else []
    return stopped + [name for name, _, embedded, _ in _services(cfg) if embedded.stop()]


def status(cfg: Settings | None = None) -> list[ServiceStatus]:
    """Each service in use, the project's or the user's; plus any project server left running
    while a variable points at the user's."""
    cfg = cfg or settings()
    out = []
    for name, variable, embedded, check in _services(cfg):
        external = _external(variable, embedded)
        own_url = embedded.url()
        if external:
            try:
                out.append(
                    ServiceStatus(name, "external", _redact(external), True, check(external))
                )
            except ServiceError as exc:
                out.append(
                    ServiceStatus(name, "external", _redact(external), False, None, str(exc))
                )
            if embedded.is_running():
                detail = "the project's server, running but not in use (the variable names yours)"
                out.append(
                    ServiceStatus(
                        name,
                        "embedded",
                        own_url and _redact(own_url),
                        True,
                        None,
                        detail,
                        in_use=False,
                    )
                )
            continue
        if not embedded.is_running():
            out.append(
                ServiceStatus(
                    name, "embedded", own_url and _redact(own_url), False, None, "not running"
                )
            )
            continue
        detail = "named by the environment's variable" if variable else ""
        try:
            version = check(own_url)  # type: ignore[operator]
            out.append(ServiceStatus(name, "embedded", _redact(own_url), True, version, detail))
        except ServiceError as exc:
            out.append(ServiceStatus(name, "embedded", _redact(own_url), False, None, str(exc)))
    out.append(_prefect_status(cfg))
    out.extend(_spark_status(cfg))
    return out


def _spark_status(cfg: Settings) -> list[ServiceStatus]:
    """Spark's rows: the endpoints in use with the Spark engine, and the project's own Connect
    server whenever it runs (with the PostgreSQL engine it is running but not in use)."""
    server = _spark(cfg)
    remote = _external(cfg.spark_remote, server)
    out = []
    in_use = cfg.warehouse == "spark"
    if in_use and cfg.spark_thrift_host:
        url = f"{cfg.spark_thrift_host}:{cfg.spark_thrift_port}"
        try:
            check_thrift(cfg.spark_thrift_host, cfg.spark_thrift_port)
            out.append(ServiceStatus("spark-thrift", "external", url, True, None, "dbt only"))
        except ServiceError as exc:
            out.append(ServiceStatus("spark-thrift", "external", url, False, None, str(exc)))
    if in_use and remote:
        try:
            out.append(ServiceStatus("spark", "external", remote, True, connect_version(remote)))
        except ServiceError as exc:
            out.append(ServiceStatus("spark", "external", remote, False, None, str(exc)))
    own_in_use = in_use and not remote and not cfg.spark_thrift_host
    if server.is_running():
        detail = "Spark Connect" if own_in_use else "running but not in use (engine or variable)"
        try:
            version = connect_version(server.url(), timeout=20)  # type: ignore[arg-type]
            out.append(
                ServiceStatus("spark", "embedded", server.url(), True, version, detail, own_in_use)
            )
        except ServiceError as exc:
            out.append(
                ServiceStatus("spark", "embedded", server.url(), False, None, str(exc), own_in_use)
            )
    elif own_in_use:
        out.append(ServiceStatus("spark", "embedded", server.url(), False, None, "not running"))
    return out


def _prefect_status(cfg: Settings) -> ServiceStatus:
    """The Prefect server's row: its UI address (the API is that address + /api)."""
    server = _prefect(cfg)
    external = _external(cfg.prefect_api_url, server)
    mode = "external" if external else "embedded"
    api = external or server.url()
    ui = api.removesuffix("/").removesuffix("/api") if api else None
    if not external and not server.is_running():
        return ServiceStatus("prefect", mode, ui, False, None, "not running")
    try:
        version = api_version(api)  # type: ignore[arg-type]
    except ServiceError as exc:
        return ServiceStatus("prefect", mode, ui, False, None, str(exc))
    return ServiceStatus("prefect", mode, ui, True, version, "UI; API at url + /api")


def pg_variables(url: str) -> dict[str, str]:
    """libpq's PG* variables for a URL: dbt's profile (profiles.yml) and psql read these."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return {
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": unquote(parts.path.lstrip("/")) or "postgres",
    }


def service_environment(cfg: Settings | None = None) -> dict[str, str]:
    """Every variable a tool needs to reach the services in use (URLs, PG*, dbt, Prefect)."""
    cfg = cfg or settings()
    db = database_url(cfg)
    return {
        "DATABASE_URL": db,
        **pg_variables(db),
        "MONGODB_URI": mongodb_uri(cfg),
        "DBT_PROFILES_DIR": str(cfg.dbt_profiles_dir),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": prefect_api_url(cfg),
        **_spark_environment(cfg),
    }


def _spark_environment(cfg: Settings) -> dict[str, str]:
    """With the Spark engine: the engine itself (dbt's profile picks its target by it) and the
    Spark Connect URL in use (dbt-spark's session method and pyspark read SPARK_REMOTE)."""
    if cfg.warehouse != "spark":
        return {}
    env = {"STREAMLYTICS_WAREHOUSE": "spark"}
    if cfg.spark_thrift_host:
        env.update(
            SPARK_THRIFT_HOST=cfg.spark_thrift_host, SPARK_THRIFT_PORT=str(cfg.spark_thrift_port)
        )
    if cfg.spark_remote or not cfg.spark_thrift_host:
        env["SPARK_REMOTE"] = spark_remote(cfg)
    return env


def env_exports(cfg: Settings | None = None) -> str:
    """Shell lines that point psql, dbt, pymongo and Prefect at the services in use."""
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in service_environment(cfg).items())


def export_to_environ(cfg: Settings | None = None) -> None:
    """Put the resolved service variables into this process's environment (dbt, GX, children)."""
    os.environ.update(service_environment(cfg))
