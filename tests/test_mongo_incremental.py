"""The incremental publish (issue 20): a new day of sessions rewrites only the documents of the
users and titles it touched, and MongoDB ends holding exactly what a full publish gives.

Real servers and the real chain at a small scale: generated files -> ingest -> dbt build of the
sync models -> publish; then one more day of sessions (a new file) -> ingest -> dbt build ->
publish again, incrementally into the first database and in full into a fresh one.
"""

from __future__ import annotations

from pathlib import Path

import pymongo
import pytest
from _db_state import scratch_database
from mongo_testdata import resolver

from mongo import publish
from mongo.schemas import CONTENT_ANALYTICS, USER_ANALYTICS
from streamlytics.generate import generate_dataset
from streamlytics.ingest import ingest_directory
from streamlytics.transform import run_build

NEW_DAY = "2024-09-01"


def _build(url: str, work: Path) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", url)
        env.setenv("DBT_INDIRECT_SELECTION", "cautious")
        result = run_build(
            select=("+path:models/marts/sync",),
            exclude=("resource_type:unit_test",),
            target_path=work / "target",
            log_path=work / "logs",
        )
    assert result.ok, [f.describe() for f in result.failures] or result.output_tail


def _add_day(data: Path, every: int = 40) -> list[list[str]]:
    """A new sessions file: every ``every``-th session again, under new ids, on NEW_DAY."""
    header, *lines = (data / "viewing_sessions.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in lines[::every]]
    for i, row in enumerate(rows):
        row[0], row[3] = f"SNEW{i:06d}", NEW_DAY
    text = "\n".join([header, *(",".join(r) for r in rows)]) + "\n"
    (data / f"viewing_sessions_{NEW_DAY}.csv").write_text(text, encoding="utf-8")
    return rows


def _documents(db: pymongo.database.Database, name: str) -> dict[str, dict]:
    return {d["_id"]: d for d in db[name].find()}


def test_a_new_day_published_incrementally_equals_a_full_publish_and_touches_only_its_documents(
    service_urls: dict[str, str], tmp_path: Path
) -> None:
    data, uri = tmp_path / "data", service_urls["mongo"]
    generate_dataset(data, scale=0.02, seed=3)
    with (
        scratch_database(service_urls["postgres"], prefix="mongo_incr") as url,
        pymongo.MongoClient(uri) as client,
    ):
        incr, full = (client[f"{url.rsplit('/', 1)[1]}_{kind}"] for kind in ("incr", "full"))
        try:
            ingest_directory(data, url)
            _build(url, tmp_path)
            resolve = resolver(tmp_path / "target")
            first = publish.publish(url, uri, incr.name, resolve=resolve, incremental=True)
            day = _add_day(data)
            ingest_directory(data, url)
            _build(url, tmp_path)

            counts = publish.publish(url, uri, incr.name, resolve=resolve, incremental=True)
            publish.publish(url, uri, full.name, resolve=resolve)
            touched = {USER_ANALYTICS: {r[1] for r in day}, CONTENT_ANALYTICS: {r[2] for r in day}}
            for name, ids in touched.items():
                assert _documents(incr, name) == _documents(full, name), name
                # Exactly the new day's users and titles were built and rewritten, no other.
                assert counts[name].built == counts[name].updated == len(ids), name
                assert len(ids) < first[name].built == first[name].inserted, name
                assert counts[name].inserted == counts[name].removed == 0, name
                assert counts[name].total == first[name].inserted, name

            again = publish.publish(url, uri, incr.name, resolve=resolve, incremental=True)
            assert all(c.built == c.inserted == c.updated == 0 for c in again.values()), again
        finally:
            client.drop_database(incr.name)
            client.drop_database(full.name)
