"""Where a dbt model lives in the warehouse, read from dbt's own manifest.

Python consumers (MongoDB publish, statistics, report, Tableau, dashboards) name the dbt models
they read, never a schema: dbt decides where a model is built (``generate_schema_name``, aliases,
targets), and its ``manifest.json`` records the result. Reading it here keeps every consumer in
step with the dbt project and lets the same code run against another warehouse engine.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from streamlytics.config import Settings, settings

__all__ = [
    "Contract",
    "Relation",
    "RelationError",
    "exposed_relations",
    "log_dir",
    "manifest_path",
    "model_contract",
    "relation",
    "relations",
    "target_dir",
]


class RelationError(LookupError):
    """A model is missing from the manifest, or there is no manifest yet."""


@dataclass(frozen=True)
class Relation:
    """One built dbt model: its schema and identifier (the connection decides the database)."""

    model: str
    schema: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"


def target_dir(cfg: Settings | None = None) -> Path:
    """Where dbt writes its artifacts (manifest, run results): ``$DBT_TARGET_PATH`` as dbt reads
    it (relative to the project), else the project's target/ folder. Builds write there and
    every consumer reads there, so one variable moves both."""
    return _dbt_folder("DBT_TARGET_PATH", "target", cfg)


def log_dir(cfg: Settings | None = None) -> Path:
    """Where dbt writes dbt.log: ``$DBT_LOG_PATH``, else the project's logs/ folder."""
    return _dbt_folder("DBT_LOG_PATH", "logs", cfg)


def _dbt_folder(variable: str, default: str, cfg: Settings | None) -> Path:
    cfg = cfg or settings()
    folder = Path(os.environ.get(variable) or default)
    return folder if folder.is_absolute() else cfg.dbt_project_dir / folder


def manifest_path(cfg: Settings | None = None) -> Path:
    """dbt's manifest, in :func:`target_dir`."""
    return target_dir(cfg) / "manifest.json"


_cache: dict[Path, tuple[float, dict[str, Relation]]] = {}


def relations(cfg: Settings | None = None) -> dict[str, Relation]:
    """Every model (and seed and snapshot) of the manifest by name; re-read when the file changes."""
    path = manifest_path(cfg)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError as exc:
        raise RelationError(
            f"{path} does not exist: run `streamlytics transform` (or `dbt parse` in "
            "dbt_project/) so the consumers know where dbt built its models."
        ) from exc
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with path.open(encoding="utf-8") as handle:
        nodes = json.load(handle).get("nodes", {})
    found = {
        node["name"]: Relation(node["name"], node["schema"], node.get("alias") or node["name"])
        for node in nodes.values()
        if node.get("resource_type") in {"model", "seed", "snapshot"}
    }
    _cache[path] = (mtime, found)
    return found


def relation(model: str, cfg: Settings | None = None) -> Relation:
    """The relation dbt builds for ``model``; a clear error naming the manifest when unknown."""
    found = relations(cfg)
    try:
        return found[model]
    except KeyError:
        raise RelationError(
            f"dbt model {model!r} is not in {manifest_path(cfg)}: is it defined in dbt_project/ "
            "and has the manifest been rebuilt since (`dbt parse`)?"
        ) from None


def exposed_relations(exposure_type: str, cfg: Settings | None = None) -> list[Relation]:
    """The models that the manifest's exposures of ``exposure_type`` (e.g. ``dashboard``) depend
    on, each once, by model name; RelationError when no such exposure declares a model."""
    path = manifest_path(cfg)
    found = relations(cfg)  # raises, naming the fix, when there is no manifest
    with path.open(encoding="utf-8") as handle:
        manifest = json.load(handle)
    nodes = manifest.get("nodes", {})
    names = {
        nodes[unique_id]["name"]
        for exposure in manifest.get("exposures", {}).values()
        if exposure.get("type") == exposure_type
        for unique_id in exposure.get("depends_on", {}).get("nodes", [])
        if unique_id in nodes and nodes[unique_id]["name"] in found
    }
    if not names:
        raise RelationError(
            f"no exposure of type {exposure_type!r} in {path} depends on a model: declare the "
            "consumer in dbt_project/models (an exposures YAML) and re-parse (`dbt parse`)."
        )
    return [found[name] for name in sorted(names)]


@dataclass(frozen=True)
class Contract:
    """What a model's enforced contract declares, as PostgreSQL builds it."""

    columns: tuple[str, ...]
    """The declared columns, in the order the YAML lists them (a PostgreSQL table's order)."""
    not_null: frozenset[str]
    """Columns with a ``not_null`` or ``primary_key`` constraint, or in a model-level primary key:
    PostgreSQL enforces exactly these; an engine that cannot (Spark's Parquet tables) still
    promises them."""


def model_contract(model: str, cfg: Settings | None = None) -> Contract:
    """The enforced contract of ``model`` (empty when it has none, or is a view)."""
    path = manifest_path(cfg)
    relation(model, cfg)  # a clear error when the model or the manifest is missing
    with path.open(encoding="utf-8") as handle:
        nodes = json.load(handle).get("nodes", {})
    node = next(
        (n for n in nodes.values() if n.get("name") == model and n.get("resource_type") == "model"),
        {},
    )
    contracted = node.get("contract", {}).get("enforced")
    if not contracted or node.get("config", {}).get("materialized") == "view":
        return Contract((), frozenset())
    required = {
        column
        for constraint in node.get("constraints", [])
        if constraint["type"] == "primary_key"
        for column in constraint.get("columns", [])
    }
    required |= {
        name
        for name, column in node.get("columns", {}).items()
        if any(c["type"] in ("not_null", "primary_key") for c in column.get("constraints", []))
    }
    return Contract(tuple(node.get("columns", {})), frozenset(required))
