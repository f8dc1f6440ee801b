"""The HTML report end to end: generated files -> ingest -> dbt build -> publish -> analysis -> report.

One small dirty data set (generator scale 0.05: ~250 users, ~11k sessions, ~1 % defects) is
built once per module in its own Postgres and Mongo databases. The report is then opened in
real headless Chromium (one browser for the module): no console error and no request, every
interactive chart drawn and every PNG decoded (a screenshot, cropped at each chart, is not
blank), the summary first with KPI tiles equal to the marts, statistical detail folded and one
click away, no sideways scroll at 390 px; the page references nothing outside itself, and every
number a sentence quotes equals the persisted analysis row it names (read again here with SQL).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pymongo
import pytest
from _browser import launch, number, open_page
from _db_state import scratch_database
from PIL import Image

# Charts every report of generated data has (retention adds roc and calibration when evaluated).
EXPECTED_CHARTS = {
    "histograms",
    "boxplots",
    "correlation-heatmap",
    "cluster-pca",
    "silhouette",
    "dendrogram",
    "monthly",
    "weekday",
    "dau",
    "top10-movie",
    "top10-series",
    "device-completion",
    "revenue",
    "geographic",
}
# Where a reader hovers or toggles: these are Plotly figures, the rest PNGs.
INTERACTIVE_CHARTS = EXPECTED_CHARTS - {
    "histograms",
    "boxplots",
    "cluster-pca",
    "silhouette",
    "dendrogram",
}
PAGE_WIDTH = 1280
PHONE_WIDTH = 390


@dataclass
class Built:
    url: str
    mongo_uri: str
    mongo_db: str
    work: Path
    report: Path
    run_id: str


@pytest.fixture(scope="module")
def built(
    service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    from mongo.stage import run_publish_stage
    from python_models.analyze import run_analysis
    from python_models.report import build_report
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest.pipeline import ingest_directory
    from streamlytics.transform import run_build

    work = tmp_path_factory.mktemp("report")
    mongo_uri = service_urls["mongo"]
    with scratch_database(service_urls["postgres"]) as url:
        name = urlsplit(url).path.lstrip("/")
        try:
            generate_dataset(work / "data", scale=0.05, seed=11, dirty_fraction=0.01)
            ingest_directory(work / "data", url)
            with pytest.MonkeyPatch.context() as env:
                env.setenv("DATABASE_URL", url)
                # Own target and log folders: other builds may run from the same project at once.
                result = run_build(target_path=work / "target", log_path=work / "logs")
            failed_models = [f.describe() for f in result.failures if f.resource_type == "model"]
            assert not failed_models, failed_models
            run_publish_stage(url, mongo_uri, name)
            with pytest.MonkeyPatch.context() as env:
                # The statistics and the report find the models through this build's manifest.
                env.setenv("DBT_TARGET_PATH", str(work / "target"))
                head = run_analysis(
                    url,
                    mongo_uri,
                    name,
                    n_boot=200,
                    run_results=work / "target" / "run_results.json",
                )
                report = build_report(url, work / "out", mongo_uri, name)
                yield Built(url, mongo_uri, name, work, report, head["run_id"])
        finally:
            with pymongo.MongoClient(mongo_uri) as client:
                client.drop_database(name)


# --- reading the page ----------------------------------------------------------------------------


class Page(HTMLParser):
    """Images, tags, attributes, CSS and the elements that carry data-result (quotes, verdicts)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self.quotes: list[dict[str, str]] = []
        self.scripts: list[dict[str, str]] = []
        self._open: list[dict[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.attributes += [(tag, k, v) for k, v in a.items()]
        if tag == "img":
            self.images.append(a)
        if tag == "script":
            self.scripts.append(a)
        if tag == "style":
            self._in_style = True
        if "data-result" in a:
            self._open.append({**a, "text": ""})

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        if tag == "span" and self._open:
            self.quotes.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        if self._open:
            self._open[-1]["text"] += data


@pytest.fixture(scope="module")
def page(built: Built) -> Page:
    parser = Page()
    parser.feed(built.report.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch() as b:
        yield b


def open_report(browser: Any, path: Path, width: int) -> tuple[Any, list[str]]:
    return open_page(browser, path, width, 900, "body[data-charts-drawn]")


# Each chart's box on the page, whether a Plotly chart drew its SVG, whether a PNG decoded.
CHART_BOXES = """() => Array.from(document.querySelectorAll('figure[id^="chart-"]')).map(f => {
  const r = f.querySelector('.plot, img').getBoundingClientRect(), img = f.querySelector('img');
  return {id: f.id.slice(6), x: r.left + scrollX, y: r.top + scrollY, width: r.width,
          height: r.height, interactive: !!f.querySelector('.plot'),
          drawn: img ? img.complete && img.naturalWidth > 0 : !!f.querySelector('.plot .main-svg')};
})"""


def _retention_evaluated(built: Built) -> bool:
    with psycopg2.connect(built.url) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(*) from analysis.results where run_id = %s and name like 'retention_auc_%%'",
            (built.run_id,),
        )
        return cur.fetchone()[0] > 0


def _share_darker(image: Image.Image, level: int) -> float:
    """Share of the pixels of a greyscale image darker than `level` (0-255)."""
    histogram = image.histogram()
    return sum(histogram[:level]) / sum(histogram)


# --- the tests -----------------------------------------------------------------------------------


def test_report_opens_offline_with_every_chart_drawn(built: Built, browser: Any) -> None:
    page, problems = open_report(browser, built.report, PAGE_WIDTH)
    expected = EXPECTED_CHARTS | ({"roc", "calibration"} if _retention_evaluated(built) else set())
    charts = {c["id"]: c for c in page.evaluate(CHART_BOXES)}
    assert expected <= set(charts), (
        f"charts missing from the page: {sorted(expected - set(charts))}"
    )
    interactive = INTERACTIVE_CHARTS | (expected & {"roc", "calibration"})
    assert {k for k, c in charts.items() if c["interactive"]} == interactive
    for chart in charts.values():
        assert chart["drawn"] and chart["width"] > 100 and chart["height"] > 100, chart
    # Hover works: a bar of the monthly chart shows its value.
    # (Plotly listens on its drag layer, above the bars: hover there, at the bar.)
    page.hover("#chart-monthly .plot .bars path", force=True)
    page.wait_for_selector("#chart-monthly .hoverlayer .hovertext")
    assert page.locator("#chart-monthly .hoverlayer .hovertext").count() > 0

    shot = built.work / "report-1280.png"
    page.screenshot(path=str(shot), full_page=True)
    screenshot = Image.open(shot).convert("L")
    assert screenshot.size[0] == PAGE_WIDTH and screenshot.size[1] >= 2000
    assert _share_darker(screenshot, 245) > 0.05, "the screenshot is (almost) blank"
    for chart in charts.values():
        box = (
            round(chart["x"]) + 2,
            round(chart["y"]) + 2,
            round(chart["x"] + chart["width"]) - 2,
            round(chart["y"] + chart["height"]) - 2,
        )
        crop = screenshot.crop(box)
        low, high = crop.getextrema()
        assert high - low > 100 and _share_darker(crop, 200) > 0.005, (
            f"chart {chart['id']} is blank at {box}"
        )
    assert problems == []


def test_the_chart_check_tells_a_broken_chart_from_a_drawn_one(
    browser: Any, tmp_path: Path
) -> None:
    # The drawn check above must be able to fail: a PNG that does not decode has no natural
    # size, and a Plotly placeholder that no script drew has no SVG.
    good = io.BytesIO()
    Image.new("RGB", (40, 30), "navy").save(good, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(good.getvalue()).decode()
    broken = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n not a png").decode()
    page_html = tmp_path / "page.html"
    page_html.write_text(
        f'<!DOCTYPE html><html><body data-charts-drawn="true">'
        f'<figure id="chart-good"><img src="{uri}" alt="g"></figure>'
        f'<figure id="chart-broken"><img src="{broken}" alt="b"></figure>'
        f'<figure id="chart-undrawn"><div class="plot"></div></figure></body></html>'
    )
    page, _ = open_report(browser, page_html, 400)
    charts = {c["id"]: c for c in page.evaluate(CHART_BOXES)}
    assert charts["good"]["drawn"]
    assert not charts["broken"]["drawn"] and not charts["undrawn"]["drawn"]


def _kpis_from_the_marts(url: str) -> tuple[str, dict[str, float]]:
    """The last complete month's figures, computed here from the marts with SQL."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select max(activity_date) from marts.rpt_executive_summary")
        (log_end,) = cur.fetchone()
        cur.execute(
            "select activity_month, active_user_count, session_count, total_watch_minutes, "
            "sum_completion_percentage from marts.rpt_dashboard_activity where country = 'All' "
            "and subscription_type = 'All' and device_type = 'All' order by activity_month desc"
        )
        months = cur.fetchall()
        last_day = (months[0][0] + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        if log_end < last_day:
            months = months[1:]
        month, users, sessions, minutes, completion = months[0]
        cur.execute(
            "select sum(revenue_cents) from marts.rpt_financial_revenue where revenue_month = %s",
            (month,),
        )
        (cents,) = cur.fetchone()
    return month.strftime("%B %Y"), {
        "active_users": users,
        "sessions": sessions,
        "watch_hours": round(minutes / 60),
        "hours_per_user": round(minutes / 60 / users, 2),
        "completion": round(float(completion) / sessions, 1),
        "revenue": round(cents / 100),
    }


def test_the_summary_comes_first_with_kpis_equal_to_the_marts_and_the_ranked_findings(
    built: Built, browser: Any
) -> None:
    from python_models.report.analysis_run import load
    from python_models.report.findings import headline_findings

    page, problems = open_report(browser, built.report, PAGE_WIDTH)
    month, expected = _kpis_from_the_marts(built.url)
    assert page.get_attribute("#kpis", "data-month") == month
    for key, value in expected.items():
        assert number(page.inner_text(f"#kpi-{key} .value")) == float(value), key
        assert "vs " in page.inner_text(f"#kpi-{key} .delta"), key
    # Summary first: the KPI tiles are on the first screen, before any section.
    first_section = page.evaluate(
        "document.querySelectorAll('main section.block')[1].getBoundingClientRect().top"
    )
    kpi_bottom = page.evaluate("document.querySelector('#kpis').getBoundingClientRect().bottom")
    assert (
        kpi_bottom < 900
        and page.evaluate("document.querySelector('#headline').getBoundingClientRect().bottom")
        < first_section
    )
    with psycopg2.connect(built.url) as conn:
        results = load(conn, built.run_id).results
    ranked = [f.verdict.name for f in headline_findings(results, limit=5) if f.verdict]
    shown = page.eval_on_selector_all(
        "#headline > li > .badge", "els => els.map(e => e.dataset.result)"
    )
    assert 3 <= len(shown) <= 5 and shown == ranked
    assert problems == []


def test_statistical_detail_and_assumption_checks_are_folded_one_click_away(
    built: Built, browser: Any
) -> None:
    page, problems = open_report(browser, built.report, PAGE_WIDTH)
    detail = page.locator("details#detail-tests")
    assert detail.get_attribute("open") is None
    table = detail.locator("table").first
    assert not table.is_visible()
    detail.locator("summary").click()
    assert table.is_visible() and detail.get_attribute("open") is not None
    assert table.locator("tbody tr").count() > 5
    assert page.locator("details.detail").count() >= 8
    # The assumption checks that chose each test are in the same fold, one row per checked test.
    with psycopg2.connect(built.url) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(*) from analysis.results where run_id = %s and section = 'hypothesis' "
            "and (details ? 'normality' or details ? 'variance')",
            (built.run_id,),
        )
        (checked,) = cur.fetchone()
    checks = detail.locator("table", has=page.locator("caption", has_text="Assumption checks"))
    assert checked > 0 and checks.is_visible() and checks.locator("tbody tr").count() == checked
    assert problems == []


def test_the_phone_width_has_no_horizontal_scroll(built: Built, browser: Any) -> None:
    page, problems = open_report(browser, built.report, PHONE_WIDTH)
    page.locator("details#detail-tests summary").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    # The wide test table scrolls inside its own box instead.
    wrap = page.locator("details#detail-tests .tablewrap").first
    assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")
    for chart in page.evaluate(CHART_BOXES):
        assert chart["drawn"] and chart["x"] + chart["width"] <= PHONE_WIDTH, chart
    page.screenshot(path=str(built.work / "report-390.png"), full_page=True)
    assert problems == []


def test_every_image_is_an_embedded_png_and_nothing_is_fetched(page: Page) -> None:
    assert len(page.images) >= len(EXPECTED_CHARTS - INTERACTIVE_CHARTS)
    for img in page.images:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix), img["src"][:60]
        png = base64.b64decode(img["src"][len(prefix) :], validate=True)
        with Image.open(io.BytesIO(png)) as decoded:
            decoded.load()
            assert decoded.format == "PNG"
            assert decoded.size == (int(img["width"]), int(img["height"])) and min(decoded.size) > 0
        assert img.get("alt"), "every chart has alt text"
    # Scripts are inline (plotly.js from the wheel, the figures' JSON); nothing is loaded.
    assert page.scripts and not [s for s in page.scripts if "src" in s]
    assert not page.tags & {"link", "iframe", "object", "embed"}
    linking = [
        (t, k, v)
        for t, k, v in page.attributes
        if k in ("href", "src", "srcset", "action", "poster", "background")
        and not v.startswith(("#", "data:"))
    ]
    assert linking == [], linking
    css = "".join(page.styles)
    assert "@import" not in css and not re.search(r"url\(\s*['\"]?(?!data:)", css)
    assert not any(re.match(r"https?://", v) for _, _, v in page.attributes)
    policy = next(
        v for t, k, v in page.attributes if t == "meta" and k == "content" and "default-src" in v
    )
    assert "default-src 'none'" in policy and "connect-src" not in policy


def _persisted(cur: Any, run_id: str, name: str, field: str) -> Any:
    if field.startswith("details."):
        cur.execute(
            "select details #> %s from analysis.results where run_id = %s and name = %s",
            (field.split(".")[1:], run_id, name),
        )
    else:
        column = field if re.fullmatch(r"[a-z_]+", field) else None
        assert column, field
        cur.execute(
            f"select {column} from analysis.results where run_id = %s and name = %s", (run_id, name)
        )
    row = cur.fetchone()
    assert row is not None, f"no persisted row {name!r}"
    return row[0]


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _assert_quote_matches(quote: dict[str, str], value: Any) -> None:
    kind = next(c for c in quote.get("class", "").split() if c not in ("q", "badge", "ok", "no"))
    text = quote["text"].strip()
    where = f"{quote['data-result']}.{quote['data-field']} shown as {text!r}, persisted {value!r}"
    if kind == "p":
        assert value is not None, where
        if text == "< 0.001":
            assert value < 0.001, where
        else:
            assert text.startswith("= ") and abs(float(text[2:]) - value) <= 0.0005 + 1e-12, where
    elif kind == "int":
        assert int(text.replace(",", "")) == int(value) and float(value) == int(value), where
    elif kind == "percent":
        shown = float(text.rstrip("%").replace(",", ""))
        assert abs(shown - 100 * float(value)) <= 0.5 * 10 ** -_decimals(text.rstrip("%")) + 1e-9, (
            where
        )
    elif kind == "number":
        shown = float(text.replace(",", ""))
        assert abs(shown - float(value)) <= 0.5 * 10 ** -_decimals(text) + 1e-9, where
    else:
        assert False, f"unknown quote kind {kind!r}: {where}"


def test_numbers_in_the_findings_equal_the_persisted_analysis_rows(
    built: Built, page: Page
) -> None:
    numbers = [q for q in page.quotes if "q" in q.get("class", "").split()]
    verdicts = [q for q in page.quotes if "badge" in q.get("class", "").split()]
    assert len(numbers) > 100 and len(verdicts) > 20
    with psycopg2.connect(built.url) as conn, conn.cursor() as cur:
        cur.execute("select run_id::text from analysis.runs order by finished_at desc limit 1")
        assert cur.fetchone()[0] == built.run_id
        for q in numbers:
            value = _persisted(cur, built.run_id, q["data-result"], q["data-field"])
            kind = q["class"].split()[1]
            if kind in ("text", "verdict"):
                assert q["text"] == str(value), (q, value)
            else:
                _assert_quote_matches(q, value)
        for v in verdicts:
            value = _persisted(cur, built.run_id, v["data-result"], v["data-field"])
            expected = (
                {True: "supported", False: "not supported"}[value]
                if isinstance(value, bool)
                else value
            )
            assert v["text"] == expected, (v, value)
        # Every test and every seed claim is spoken about, not only the convenient ones.
        cur.execute(
            "select name from analysis.results where run_id = %s and section in ('hypothesis', 'seed_finding')",
            (built.run_id,),
        )
        required = {r[0] for r in cur.fetchall()}
    quoted = {q["data-result"] for q in page.quotes}
    assert required and required <= quoted, sorted(required - quoted)
    assert f"<dd>{built.run_id}</dd>" in built.report.read_text(encoding="utf-8")


def test_report_shows_dashboards_mongo_pipelines_and_data_quality(built: Built) -> None:
    from mongo import pipelines

    text = built.report.read_text(encoding="utf-8")
    for anchor in (
        "seed",
        "tests",
        "descriptive",
        "correlations",
        "clusters",
        "trends",
        "dashboards",
        "dash-executive",
        "dash-users",
        "dash-content",
        "dash-financial",
        "dash-geographic",
        "mongo",
        "quality",
    ):
        assert f'id="{anchor}"' in text, anchor
    with pymongo.MongoClient(built.mongo_uri) as client:
        saved = pipelines.saved_results(client[built.mongo_db])
    assert len(saved) == 4
    for name, rows in saved.items():
        assert f'id="mongo-{name}"' in text and f"<caption>{len(rows):,} rows</caption>" in text, (
            name
        )
    quality = text[text.index('id="quality"') :]
    with psycopg2.connect(built.url) as conn, conn.cursor() as cur:
        cur.execute(
            "select source_file, lines_read, rows_quarantined from audit.load_batches where status = 'loaded'"
        )
        batches = cur.fetchall()
        cur.execute("select reason_code, count(*) from audit.all_quarantine group by reason_code")
        reasons = cur.fetchall()
    for source_file, lines_read, quarantined in batches:
        assert f"<td>{source_file}</td>" in quality and f">{lines_read:,}</td>" in quality, (
            source_file
        )
    for reason, _ in reasons:
        assert f"<td>{reason}</td>" in quality, reason
    assert "dbt build outcome by resource and status" in quality


def test_cli_report_prints_the_path_of_the_latest_run(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from streamlytics.cli import app

    monkeypatch.setenv("DATABASE_URL", built.url)
    monkeypatch.setenv("MONGODB_URI", built.mongo_uri)
    monkeypatch.setenv("MONGODB_DB", built.mongo_db)
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path == (tmp_path / "cli" / "report.html").resolve() and path.stat().st_size > 100_000
    assert f"<dd>{built.run_id}</dd>" in path.read_text(encoding="utf-8")


def test_cli_report_without_an_analysis_run_fails_and_says_what_to_run(
    pg_env: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from streamlytics.cli import app

    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "streamlytics analyze" in " ".join(result.output.split())
    assert not (tmp_path / "report.html").exists()


# Appends a second analysis run to the module's database: keep it last (the tests above read the first).
def test_pipeline_analyze_stage_writes_the_report_of_its_own_run(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlytics import stages
    from streamlytics.config import settings
    from streamlytics.pipeline import RunContext

    monkeypatch.setenv("MONGODB_DB", built.mongo_db)
    ctx = RunContext(
        cfg=settings(),
        data_dir=built.work / "data",
        database_url=built.url,
        mongodb_uri=built.mongo_uri,
        reports_dir=tmp_path,
    )
    detail = stages.analyze(ctx)
    report = Path(detail["outputs"]["HTML report"])
    assert report == (tmp_path / "report.html").resolve()
    assert detail["run_id"] != built.run_id and f"<dd>{detail['run_id']}</dd>" in report.read_text(
        encoding="utf-8"
    )
