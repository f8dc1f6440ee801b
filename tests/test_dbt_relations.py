"""Consumers find dbt models where dbt's manifest says they are built."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from streamlytics import dbt_relations
from streamlytics.config import settings


def _write_manifest(folder: Path, nodes: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"nodes": nodes}), encoding="utf-8")


def test_relation_uses_schema_and_alias_from_the_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    _write_manifest(
        tmp_path,
        {
            "model.p.sync_users": {
                "resource_type": "model",
                "name": "sync_users",
                "schema": "marts_x",
                "alias": "users_for_mongo",
            },
            "test.p.not_null": {"resource_type": "test", "name": "not_null", "schema": "t"},
        },
    )
    found = dbt_relations.relation("sync_users", settings())
    assert str(found) == "marts_x.users_for_mongo"
    with pytest.raises(dbt_relations.RelationError, match="not_null"):
        dbt_relations.relation("not_null", settings())


def test_manifest_is_reread_after_dbt_rewrites_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    node = {"resource_type": "model", "name": "m", "schema": "a", "alias": "m"}
    _write_manifest(tmp_path, {"model.p.m": node})
    assert dbt_relations.relation("m").schema == "a"
    _write_manifest(tmp_path, {"model.p.m": {**node, "schema": "b"}})
    stat = (tmp_path / "manifest.json").stat()
    os.utime(tmp_path / "manifest.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert dbt_relations.relation("m").schema == "b"


def test_missing_manifest_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(dbt_relations.RelationError, match="streamlytics transform"):
        dbt_relations.relation("anything")


def test_a_contract_gives_its_column_order_and_not_null_columns(tmp_path, monkeypatch):
    """The declared order (PostgreSQL's; Spark puts partition columns last) and what PostgreSQL
    enforces as NOT NULL (Spark's Parquet cannot): primary-key columns, model-level or
    column-level, and not_null constraints; nothing without an enforced contract."""
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))

    def model(name: str, enforced: bool, materialized: str = "table") -> dict:
        return {
            "resource_type": "model",
            "name": name,
            "schema": "marts",
            "contract": {"enforced": enforced},
            "config": {"materialized": materialized},
            "constraints": [{"type": "primary_key", "columns": ["day", "plan"]}],
            "columns": {
                "day": {"constraints": []},
                "plan": {"constraints": []},
                "user_id": {"constraints": [{"type": "not_null"}]},
                "code": {"constraints": [{"type": "primary_key"}]},
                "minutes": {"constraints": [{"type": "check", "expression": "minutes >= 0"}]},
            },
        }

    _write_manifest(
        tmp_path,
        {
            "model.p.rpt": model("rpt", True),
            "model.p.loose": model("loose", False),
            "model.p.v": model("v", True, "view"),
        },
    )
    contract = dbt_relations.model_contract("rpt")
    assert contract.columns == ("day", "plan", "user_id", "code", "minutes")
    assert contract.not_null == {"day", "plan", "user_id", "code"}
    assert dbt_relations.model_contract("loose") == dbt_relations.Contract((), frozenset())
    assert dbt_relations.model_contract("v") == dbt_relations.Contract((), frozenset())
