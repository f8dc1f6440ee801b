"""The web dashboards in a real browser: offline, filterable, readable on a phone, true to the marts.

Headless Chromium (Debian's package, driven by Playwright without a browser download) opens the
page built from a real warehouse: no console error, no network request, a filter changes the
numbers, no horizontal scroll at 390 px, and the KPI tiles equal the marts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from _browser import launch, open_page
from _browser import number as _number
from _db_state import scratch_database

from streamlytics.dashboards import build_dashboards


@pytest.fixture(scope="module")
def built(service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest.pipeline import ingest_directory
    from streamlytics.transform import run_build

    work = tmp_path_factory.mktemp("dashboards")
    with scratch_database(service_urls["postgres"]) as url, pytest.MonkeyPatch.context() as env:
        generate_dataset(work / "data", scale=0.02, seed=5)
        ingest_directory(work / "data", url)
        env.setenv("DATABASE_URL", url)
        env.setenv("DBT_TARGET_PATH", str(work / "target"))  # where the consumers find the manifest
        result = run_build(target_path=work / "target", log_path=work / "logs")
        assert result.ok, [f.describe() for f in result.failures]
        with contextlib.closing(psycopg2.connect(url)) as conn:
            page = build_dashboards(conn, work / "out")
        yield url, page, work


@pytest.fixture(scope="module")
def browser():
    with launch() as b:
        yield b


def _open(browser, page_path: Path, width: int, height: int):
    return open_page(browser, page_path, width, height, "#k-sessions .value:not(:empty)")


def _one(url: str, sql: str):
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()


def test_every_dashboard_opens_offline_and_the_kpis_equal_the_marts(built, browser):
    url, page_path, work = built
    page, problems = _open(browser, page_path, 1280, 900)
    sessions, minutes = _one(
        url,
        "select sum(session_count), sum(total_watch_minutes) from marts.rpt_dashboard_activity "
        "where country = 'All' and subscription_type = 'All' and device_type = 'All'",
    )
    (revenue_cents,) = _one(url, "select sum(revenue_cents) from marts.rpt_financial_revenue")
    assert _number(page.inner_text("#k-sessions .value")) == sessions
    assert _number(page.inner_text("#k-hours .value")) == round(minutes / 60)
    assert _number(page.inner_text("#k-revenue .value")) == round(revenue_cents / 100)
    for tab in ("executive", "user", "content", "financial", "geographic"):
        page.click(f"nav button[data-tab={tab}]")
        assert page.is_visible(f"section#{tab}")
        charts = page.locator(f"section#{tab} .chart")
        for i in range(charts.count()):
            assert charts.nth(i).locator(".main-svg").count() > 0, f"{tab}: chart {i} not drawn"
        page.screenshot(path=str(work / f"dashboard-{tab}-1280.png"), full_page=True)
    assert page.locator("#t-top-movie-sessions tbody tr").count() == 10
    assert problems == []


def test_a_filter_changes_the_numbers_to_the_marts_row_it_selects(built, browser):
    url, page_path, work = built
    page, problems = _open(browser, page_path, 1280, 900)
    before = page.inner_text("#k-sessions .value")
    (device,) = _one(
        url,
        "select min(device_type) from marts.rpt_dashboard_activity where device_type <> 'All'",
    )
    page.select_option("#f-device", device)
    page.wait_for_function(
        "before => document.querySelector('#k-sessions .value').textContent !== before", arg=before
    )
    (expected,) = _one(
        url,
        "select sum(session_count) from marts.rpt_dashboard_activity "
        f"where country = 'All' and subscription_type = 'All' and device_type = '{device}'",
    )
    assert _number(page.inner_text("#k-sessions .value")) == expected
    page.screenshot(path=str(work / "dashboard-filtered.png"))
    assert problems == []


def _all(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _bars(page, chart: str) -> dict[str, float]:
    """The first trace of a drawn Plotly chart, as {x: y}."""
    x, y = page.evaluate(
        f"() => {{ const t = document.getElementById('{chart}').data[0]; return [t.x, t.y]; }}"
    )
    return dict(zip(x, y))


def test_engagement_by_tenure_and_sessions_by_country_follow_the_plan_filter(built, browser):
    url, page_path, work = built
    page, problems = _open(browser, page_path, 1280, 900)
    page.click("nav button[data-tab=user]")

    def tenure(plan: str | None) -> dict[str, float]:
        rows = _all(
            url,
            "select tenure_band, sum(total_watch_minutes) / 60.0 / sum(active_user_count) "
            "from marts.rpt_user_engagement where subscription_type = coalesce(%s, subscription_type) "
            "group by tenure_band",
            (plan,),
        )
        return {band.removesuffix(" months"): float(hours) for band, hours in rows}

    shown = _bars(page, "c-user-tenure")
    assert len(shown) >= 3 and shown == pytest.approx(tenure(None))
    (plan,) = _one(url, "select min(subscription_type) from marts.rpt_user_engagement")
    page.select_option("#f-plan", plan)
    page.wait_for_function("p => JSON.parse(document.body.dataset.rendered).plan === p", arg=plan)
    filtered = _bars(page, "c-user-tenure")
    assert filtered == pytest.approx(tenure(plan)) and filtered != pytest.approx(shown)
    page.screenshot(path=str(work / "dashboard-user-tenure.png"), full_page=True)

    page.click("nav button[data-tab=geographic]")
    expected = dict(
        _all(
            url,
            "select country, sum(session_count) from marts.rpt_dashboard_activity "
            "where subscription_type = %s and device_type = 'All' and country <> 'All' "
            "group by country",
            (plan,),
        )
    )
    assert _bars(page, "c-geo-sessions") == {c: float(n) for c, n in expected.items()}
    assert problems == []


def test_the_phone_width_has_no_horizontal_scroll(built, browser):
    _, page_path, work = built
    page, problems = _open(browser, page_path, 390, 844)
    for tab in ("executive", "user", "content", "financial", "geographic"):
        page.click(f"nav button[data-tab={tab}]")
        page.wait_for_timeout(100)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, tab
        page.screenshot(path=str(work / f"dashboard-{tab}-390.png"), full_page=True)
    assert problems == []
