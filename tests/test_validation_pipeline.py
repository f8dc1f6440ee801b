"""The gates on the real pipeline's output: generated files -> ingest -> dbt build -> GX.

One clean data set (generator scale 0.02, seed 7: 100 users, ~4.5k sessions) is built once per
module in its own database; each test breaks one mart figure, validates, and puts it back.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from _db_state import scratch_database

from streamlytics.config import PROJECT_ROOT
from streamlytics.transform import run_build
from streamlytics.validation import run_validation


@pytest.fixture(scope="module")
def context_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("gx") / "expectations"
    shutil.copytree(
        PROJECT_ROOT / "expectations" / "gx",
        project / "gx",
        ignore=shutil.ignore_patterns("uncommitted"),
    )
    return project


@pytest.fixture(scope="module")
def built(service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a database holding raw, core and marts built from clean generated files."""
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest.pipeline import ingest_directory

    work = tmp_path_factory.mktemp("validation_pipeline")
    with scratch_database(service_urls["postgres"]) as url:
        generate_dataset(work / "data", scale=0.02, seed=7)
        ingest_directory(work / "data", url)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DATABASE_URL", url)
            result = run_build(target_path=work / "target", log_path=work / "logs")
        missing = [
            t
            for t in (
                "rpt_user_analytics",
                "rpt_geographic",
                "rpt_device_completion",
                "rpt_seasonal_by_month",
                "rpt_revenue_by_genre",
                "rpt_financial_revenue",
                "rpt_content_costs",
            )
            if not _exists(url, f"marts.{t}")
        ]
        assert not missing, (missing, [f.describe() for f in result.failures])
        yield url


def _exists(url: str, relation: str) -> bool:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (relation,))
        found = bool(cur.fetchone()[0])
    conn.close()
    return found


@contextmanager
def broken(url: str, break_sql: str, repair_sql: str) -> Iterator[None]:
    """Apply `break_sql` to the built marts for the duration of the block, then `repair_sql`."""
    _execute(url, break_sql)
    try:
        yield
    finally:
        _execute(url, repair_sql)


def _execute(url: str, statement: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(statement)
    conn.close()


def test_generated_data_passes_the_raw_and_mart_suites(
    built: str, context_dir: Path, tmp_path: Path
) -> None:
    report = run_validation(
        "all", project_dir=context_dir, database_url=built, reports_dir=tmp_path
    )
    assert report.passed, report.message()
    assert report.warnings == [], report.warnings
    assert {s.split("_")[0] for s in report.suites} == {"raw", "marts"}
    assert all(o.error is None for o in report.outcomes), [o for o in report.outcomes if o.error]


def test_a_plan_completion_band_broken_fails_the_marts_gate(
    built: str, context_dir: Path, tmp_path: Path
) -> None:
    with broken(
        built,
        "update marts.rpt_user_analytics set mean_completion_percentage = mean_completion_percentage / 2 "
        "where subscription_type = 'Premium'",
        "update marts.rpt_user_analytics set mean_completion_percentage = mean_completion_percentage * 2 "
        "where subscription_type = 'Premium'",
    ):
        report = run_validation(
            "marts", project_dir=context_dir, database_url=built, reports_dir=tmp_path
        )
    assert not report.passed
    assert report.failed_expectations == [
        "marts_rpt_user_analytics.mean_completion_per_plan_in_band"
    ]


def test_revenue_that_no_longer_adds_up_fails_every_reconciliation(
    built: str, context_dir: Path, tmp_path: Path
) -> None:
    bump = (
        "update marts.rpt_revenue_by_genre set revenue_cents = revenue_cents {} 100 "
        "where (revenue_month, genre) = (select revenue_month, genre from marts.rpt_revenue_by_genre "
        "order by revenue_month, genre limit 1)"
    )
    with broken(built, bump.format("+"), bump.format("-")):
        report = run_validation(
            "marts", project_dir=context_dir, database_url=built, reports_dir=tmp_path
        )
        # Genres against what the users were billed is dbt's reconciliation test (its one owner).
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DATABASE_URL", built)
            billed = run_build(
                select=["assert_revenue_by_genre_adds_up_to_billed_revenue"],
                target_path=tmp_path / "target",
                log_path=tmp_path / "logs",
            )
    # The marts that restate the genre mart's revenue no longer agree with it.
    assert set(report.failed_expectations) == {
        "marts_rpt_geographic.revenue_matches_genre_mart",
        "marts_rpt_financial_revenue.revenue_matches_genre_mart",
    }
    assert [f.name for f in billed.failures] == [
        "assert_revenue_by_genre_adds_up_to_billed_revenue"
    ], billed.output_tail


def test_a_vanished_device_fails_and_a_shifted_mix_only_warns(
    built: str, context_dir: Path, tmp_path: Path
) -> None:
    with broken(
        built,
        "update marts.rpt_device_completion set device_type = 'Tablet (old)' where device_type = 'Tablet'",
        "update marts.rpt_device_completion set device_type = 'Tablet' where device_type = 'Tablet (old)'",
    ):
        report = run_validation(
            "marts", project_dir=context_dir, database_url=built, reports_dir=tmp_path
        )
    assert report.failed_expectations == ["marts_rpt_device_completion.every_device_present"]
    assert report.warnings == ["marts_rpt_device_completion.device_share_in_band"]


def test_dirty_delivery_reconciles_and_its_out_of_range_rows_are_quarantined_by_staging(
    pg_url: str, context_dir: Path, tmp_path: Path
) -> None:
    import json

    from streamlytics.generate import generate_dataset
    from streamlytics.ingest.pipeline import ingest_directory
    from streamlytics.services import pg_variables

    generate_dataset(tmp_path / "dirty", scale=0.02, seed=7, dirty_fraction=0.03)
    ingest_directory(tmp_path / "dirty", pg_url)
    report = run_validation(
        "raw", project_dir=context_dir, database_url=pg_url, reports_dir=tmp_path
    )

    # Lines read = loaded + quarantined, and the landing equals the ledger, defects or not.
    assert not [o for o in report.outcomes if o.suite == "raw_load_ledger" and not o.success]
    # Value ranges and unknown plans, devices and qualities have one owner, dbt staging: the raw
    # gate reports only the spelling drift, and the rows go to the quarantine with their reason.
    assert report.passed, report.message()
    assert all(w.endswith("_canonical_spelling") for w in report.warnings)

    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", pg_url)
        for key, value in pg_variables(pg_url).items():
            env.setenv(key, value)
        run_build(target_path=tmp_path / "target", log_path=tmp_path / "logs")
    manifest = json.loads((tmp_path / "dirty" / "manifest.json").read_text())["defects"]
    expected = sum(1 for d in manifest if d["kind"] == "out_of_range")
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(*) from audit.staging_quarantine where reason_code = 'out_of_range'"
        )
        quarantined = cur.fetchone()[0]
    conn.close()
    assert expected > 0 and quarantined == expected
