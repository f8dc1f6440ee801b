"""The raw gate on a real PostgreSQL: clean landings pass, injected defects fail the right checks.

Each test gets its own database (pg_url) and runs GX from a copy of the committed context in
tmp_path, so runs never share validation results or Data Docs.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import psycopg2
import pytest
from typer.testing import CliRunner
from validation_sample import load_sample

from streamlytics.config import PROJECT_ROOT
from streamlytics.validation import run_validation
from streamlytics.validation.run import MissingTablesError

COMMITTED_CONTEXT = PROJECT_ROOT / "expectations" / "gx"


@pytest.fixture
def context_dir(tmp_path: Path) -> Path:
    """A private copy of the committed GX context (without anything uncommitted)."""
    project = tmp_path / "expectations"
    shutil.copytree(COMMITTED_CONTEXT, project / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    return project


def _execute(url: str, *statements: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def test_clean_landing_passes_every_raw_suite_with_offline_docs(
    pg_url: str, context_dir: Path, tmp_path: Path
) -> None:
    load_sample(pg_url)
    report = run_validation(
        "raw", project_dir=context_dir, database_url=pg_url, reports_dir=tmp_path / "reports"
    )

    assert report.passed, report.message()
    assert report.warnings == []
    assert report.suites == [
        "raw_load_ledger",
        "raw_users",
        "raw_viewing_sessions",
        "raw_movies",
        "raw_series",
        "raw_content_genres",
        "raw_series_seasons",
    ]
    assert all(o.error is None for o in report.outcomes)

    saved = json.loads((tmp_path / "reports" / "validation" / "raw.json").read_text())
    assert saved["passed"] is True and saved["counts"]["evaluated"] == len(report.outcomes)

    index = report.data_docs_index
    assert index == context_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    _assert_offline_site(index.parent)


def _assert_offline_site(site: Path) -> None:
    """No page loads CSS/JS/images over http(s), and every local asset a page names exists."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 1  # the index, suites and the validation results
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for tag, attrs in re.findall(r"<(script|link|img)\b([^>]*)>", html, flags=re.IGNORECASE):
            match = re.search(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", attrs)
            if not match:
                continue
            target = match[1]
            assert not re.match(r"(?i)https?:|//", target), f"{page}: {tag} loads {target}"
            assert (page.parent / target.split("?")[0]).resolve().is_file(), (
                f"{page}: missing {target}"
            )


def test_injected_defects_fail_their_own_expectations_and_exit_non_zero(
    pg_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_sample(pg_env)
    _execute(
        pg_env,
        # An id that breaks the arrival contract: GX owns that rule.
        "update raw.viewing_sessions_rows set session_id = 'S-7' where session_id = 'S000007'",
        # dbt staging owns these (it quarantines the unknown device as out_of_range and
        # normalises the stray spelling); GX reports the drift in spelling, never fatal.
        "update raw.viewing_sessions_rows set device_type = 'VR Headset' where session_id = 'S000005'",
        "update raw.viewing_sessions_rows set quality_level = ' hd' where session_id = 'S000009'",
        # A row deleted after the load: the ledger no longer matches the landing.
        "delete from raw.users_rows where user_id = 'U0003'",
    )
    monkeypatch.setenv("STREAMLYTICS_REPORTS_DIR", str(tmp_path / "reports"))
    from streamlytics.cli import app

    result = CliRunner().invoke(app, ["validate", "--stage", "raw"], env={"COLUMNS": "200"})

    assert result.exit_code == 1, result.output
    saved = json.loads((tmp_path / "reports" / "validation" / "raw.json").read_text())
    assert set(saved["failed_expectations"]) == {
        "raw_viewing_sessions.session_id_pattern",
        "raw_load_ledger.landed_rows_match_ledger",
    }
    assert set(saved["warnings"]) == {
        "raw_viewing_sessions.device_type_canonical_spelling",
        "raw_viewing_sessions.quality_level_canonical_spelling",
    }
    by_name = {f"{o['suite']}.{o['check']}": o for o in saved["outcomes"]}
    assert by_name["raw_viewing_sessions.session_id_pattern"]["sample"] == ["S-7"]
    assert by_name["raw_viewing_sessions.device_type_canonical_spelling"]["sample"] == [
        "VR Headset"
    ]
    for name in saved["failed_expectations"]:
        assert name in " ".join(result.output.split()), name


def test_missing_tables_are_named_before_any_expectation_runs(
    pg_url: str, context_dir: Path, tmp_path: Path
) -> None:
    load_sample(pg_url)  # raw only: dbt never ran here
    with pytest.raises(MissingTablesError, match=r"marts\.rpt_geographic.*streamlytics transform"):
        run_validation("marts", project_dir=context_dir, database_url=pg_url, reports_dir=tmp_path)


def test_unknown_stage_is_refused(context_dir: Path, pg_url: str) -> None:
    with pytest.raises(ValueError, match="raw, marts, all"):
        run_validation("staging", project_dir=context_dir, database_url=pg_url)


def _land_sessions_load(url: str, load_id: int, rows: list[tuple]) -> None:
    """A second viewing_sessions file, loaded after the sample: its ledger row and its rows."""
    _execute(
        url,
        "insert into audit.load_batches (load_id, batch_id, source_file, source_path, file_kind, file_bytes,"
        f" lines_read, rows_loaded, rows_quarantined, started_at, finished_at, status) values ({load_id},"
        f" 'day{load_id}', 'viewing_sessions_day.csv', '/data/viewing_sessions_day.csv', 'viewing_sessions',"
        f" 100, {len(rows)}, {len(rows)}, 0, now(), now(), 'loaded')",
    )
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into raw.viewing_sessions_rows values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(*r, i + 2, load_id) for i, r in enumerate(rows)],
        )
    conn.close()


def test_sessions_loads_are_read_once_each_and_a_failing_load_until_it_is_fixed(
    pg_url: str, context_dir: Path, tmp_path: Path
) -> None:
    rows = load_sample(pg_url)
    run = lambda **kw: run_validation(
        "raw", project_dir=context_dir, database_url=pg_url, reports_dir=tmp_path / "reports", **kw
    )
    sessions = lambda report: {
        o.check: o for o in report.outcomes if o.suite == "raw_viewing_sessions"
    }
    first = run()
    assert first.passed, first.message()
    assert sessions(first)["has_rows"].observed == str(len(rows["viewing_sessions"]))

    # A new day: only its rows are read; the first load's result is carried and both are reported.
    day = [(f"S9{i:05d}", *r[1:]) for i, r in enumerate(rows["viewing_sessions"][:4])]
    day[1] = ("S9-1", *day[1][1:])  # an id outside the arrival contract
    _land_sessions_load(pg_url, 20, day)
    second = run()
    assert second.failed_expectations == ["raw_viewing_sessions.session_id_pattern"]
    outcome = sessions(second)["session_id_pattern"]
    assert outcome.sample == ["S9-1"] and outcome.observed.startswith("load 20: 1 of 4")
    assert sessions(second)["has_rows"].observed == "met on 2 loads; load 20: 4"

    # A failing load is read again on every run, so the gate keeps failing until it is fixed.
    assert not run().passed
    _execute(
        pg_url,
        "update raw.viewing_sessions_rows set session_id = 'S900001' where session_id = 'S9-1'",
    )
    assert run().passed

    # A load that passed is not read again (an in-place change is only seen with all_loads).
    _execute(pg_url, "update raw.viewing_sessions_rows set user_id = 'U-3' where _load_id = 3")
    assert run().passed
    assert run(all_loads=True).failed_expectations == ["raw_viewing_sessions.user_id_pattern"]


def test_validation_with_the_default_context_writes_into_the_sessions_copy(
    pg_url: str, private_gx_project: Path, tmp_path: Path
) -> None:
    """`make test` leaves the user's Data Docs alone: results go to the session's copy."""
    load_sample(pg_url)
    report = run_validation("raw", database_url=pg_url, reports_dir=tmp_path / "reports")
    assert report.passed, report.message()
    assert report.data_docs_index is not None
    assert report.data_docs_index.is_relative_to(private_gx_project)
    assert not report.data_docs_index.is_relative_to(PROJECT_ROOT / "expectations")
