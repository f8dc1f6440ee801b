"""Generator output with injected defects: ingest finds exactly the manifest's ingest-stage defects."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2
import pytest

from streamlytics.ingest import ingest_directory

generate = pytest.importorskip("streamlytics.generate")


def test_every_ingest_defect_of_the_manifest_is_quarantined_and_nothing_else(
    tmp_path: Path, pg_url: str
) -> None:
    generate.generate_dataset(tmp_path, scale=0.02, seed=11, dirty_fraction=0.05)
    manifest = json.loads((tmp_path / "manifest.json").read_text())["defects"]
    report = ingest_directory(tmp_path, pg_url)

    for f in report.files:
        assert f.status == "loaded"
        assert f.lines_read == f.rows_loaded + f.rows_quarantined, f.file
    conn = psycopg2.connect(pg_url)
    with conn.cursor() as cur:
        cur.execute(
            "select source_file, source_line, reason_code, field, item_index from audit.quarantine"
        )
        quarantined = {
            (file, line): (reason, field, index)
            for file, line, reason, field, index in cur.fetchall()
        }
        cur.execute(
            "select file_kind, lines_read, rows_loaded, rows_quarantined from audit.load_batches"
        )
        ledger = {kind: (read, loaded, bad) for kind, read, loaded, bad in cur.fetchall()}
    conn.close()

    expected = {
        (d["file"], d["line"]): (d["kind"], d["field"], d["item_index"])
        for d in manifest
        if d["expected_stage"] == "ingest"
    }
    kinds = {kind for kind, _, _ in expected.values()}
    assert {
        "field_count",
        "bad_number",
        "bad_date",
        "empty_required",
        "json_missing_key",
        "json_wrong_type",
    } <= kinds
    # Same lines, same reason codes, same fields: nothing missed, nothing rejected that should land
    # (staging-stage defects such as out_of_range or episodes_mismatch must reach dbt).
    assert quarantined == expected
    for kind, (read, loaded, bad) in ledger.items():
        assert read == loaded + bad, kind
    lines = {f.file: f.lines_read for f in report.files}
    assert lines["users.csv"] == len((tmp_path / "users.csv").read_text().splitlines()) - 1
    assert (
        lines["viewing_sessions.csv"]
        == len((tmp_path / "viewing_sessions.csv").read_text().splitlines()) - 1
    )
