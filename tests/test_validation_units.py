"""Pure logic of the validation gate: severities, enumeration patterns, the offline Data Docs rewrite."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest

from streamlytics.validation.gx_context import all_suites
from streamlytics.validation.loads import split_loads
from streamlytics.validation.offline_docs import (
    CDN_ASSETS,
    VENDOR_DIR,
    OfflineDocsError,
    make_offline,
    remote_assets,
    rewrite_page,
)
from streamlytics.validation.report import ExpectationOutcome, ValidationReport
from streamlytics.validation.spark_source import landing_or_model, qualify_query
from streamlytics.validation.specs import WARNING, canonical_spelling


def _outcome(check: str, success: bool, severity: str) -> ExpectationOutcome:
    return ExpectationOutcome("raw_users", check, "expect_x", None, severity, success, "-")


def test_warnings_are_reported_but_never_fail_the_gate() -> None:
    report = ValidationReport(
        "raw", [_outcome("a", True, "error"), _outcome("b", False, "warning")], "now"
    )
    assert report.passed
    assert report.failed_expectations == []
    assert report.warnings == ["raw_users.b"]
    assert report.counts["failed_warnings"] == 1


def test_an_error_severity_failure_fails_the_gate_and_is_named() -> None:
    report = ValidationReport(
        "raw", [_outcome("a", False, "error"), _outcome("b", False, "warning")], "now"
    )
    assert not report.passed
    assert report.failed_expectations == ["raw_users.a"]
    assert "raw_users.a" in report.message() and "FAILED" in report.message()


def test_spelling_drift_is_a_warning_never_a_gate() -> None:
    # dbt staging owns the rule (it normalises the spelling, quarantines unknown plans, devices
    # and qualities): on arrival GX only reports the drift, so it can never stop publishing.
    check = canonical_spelling("device_type", ["Smart TV", "Mobile", "Sci-Fi"])
    assert check.severity.value == WARNING
    assert check.value_set == ["Smart TV", "Mobile", "Sci-Fi"]
    assert check.meta["check"] == "device_type_canonical_spelling"


GX_PAGE = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script>var inline = 1;</script>
</head><body>
<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&dataContextId=abc">
<a href="https://greatexpectations.io">GX</a>
</body></html>"""


def test_rewrite_points_cdn_assets_at_vendored_files() -> None:
    page = rewrite_page(GX_PAGE, "../../")
    assert remote_assets(page) == []
    assert (
        '<link rel="stylesheet" href="../../static/vendor/bootstrap-4.3.1/bootstrap.min.css">'
        in page
    )
    assert '<script src="../../static/vendor/jquery-3.7.1/jquery.min.js"></script>' in page
    assert "fontawesome-free-6.6.0/css/solid.min.css" in page
    # crossorigin would make browsers refuse the file:// script.
    assert "crossorigin" not in page and "integrity" not in page
    assert "vega" not in page.split("<!--")[0]
    assert 'src="../../static/images/logo-long.png"' in page
    assert "<script>var inline = 1;</script>" in page
    assert '<a href="https://greatexpectations.io">' in page  # links are not assets


def test_every_mapped_asset_is_vendored() -> None:
    for paths in CDN_ASSETS.values():
        for path in paths:
            assert (VENDOR_DIR / path).is_file(), path
    assert (VENDOR_DIR / "fontawesome-free-6.6.0" / "webfonts" / "fa-solid-900.woff2").is_file()


def test_vendored_files_match_the_integrity_gx_pins_for_the_cdn_copies() -> None:
    import great_expectations

    template = (
        Path(great_expectations.__file__).parent
        / "render"
        / "view"
        / "templates"
        / "js_script_imports.j2"
    )
    pinned = dict(
        re.findall(r'src="(https://[^"]+)" integrity="(sha384-[^"]+)"', template.read_text())
    )
    assert pinned, "GX no longer pins integrity hashes: check the vendored files by hand"
    for url, integrity in pinned.items():
        (local,) = CDN_ASSETS[url]
        digest = base64.b64encode(
            hashlib.sha384((VENDOR_DIR / local).read_bytes()).digest()
        ).decode()
        assert integrity == f"sha384-{digest}", url


def test_an_unknown_cdn_asset_stops_the_docs_build(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<script src="https://cdn.example.org/new-lib.js"></script>'
    )
    with pytest.raises(OfflineDocsError, match="new-lib.js"):
        make_offline(tmp_path)


def test_a_later_pass_rewrites_new_and_changed_pages_and_skips_checked_ones(tmp_path: Path) -> None:
    import os

    (tmp_path / "index.html").write_text(GX_PAGE)
    make_offline(tmp_path)
    assert remote_assets((tmp_path / "index.html").read_text()) == []
    # A page from before that pass is not read again (it was checked then) ...
    old = tmp_path / "validations" / "old.html"
    old.parent.mkdir()
    old.write_text('<script src="https://cdn.example.org/never-read.js"></script>')
    os.utime(old, ns=(0, 0))
    # ... while a page GX writes afterwards, and a page it rewrites, are.
    (tmp_path / "validations" / "new.html").write_text(GX_PAGE)
    (tmp_path / "index.html").write_text(GX_PAGE)
    make_offline(tmp_path)
    for name in ("index.html", "validations/new.html"):
        assert remote_assets((tmp_path / name).read_text()) == [], name
    (tmp_path / "validations" / "newer.html").write_text(
        '<script src="https://cdn.example.org/new-lib.js"></script>'
    )
    with pytest.raises(OfflineDocsError, match="new-lib.js"):
        make_offline(tmp_path)


def test_without_a_complete_pass_every_page_is_read(tmp_path: Path) -> None:
    import os

    (tmp_path / "index.html").write_text(GX_PAGE)
    os.utime(tmp_path / "index.html", ns=(0, 0))
    make_offline(tmp_path)
    assert remote_assets((tmp_path / "index.html").read_text()) == []


# --- the same suites on Spark: relation names and the record of validated loads ---


def test_on_spark_the_landing_carries_the_prefix_and_marts_are_where_dbt_built_them() -> None:
    built = {"rpt_geographic": "eq1_marts.rpt_geographic"}
    assert landing_or_model("raw", "users", "eq1_", built.__getitem__) == "eq1_raw.users"
    assert landing_or_model("audit", "load_batches", "", built.__getitem__) == "audit.load_batches"
    assert (
        landing_or_model("marts", "rpt_geographic", "eq1_", built.__getitem__)
        == "eq1_marts.rpt_geographic"
    )


def test_qualify_query_renames_relations_and_leaves_aliases_alone() -> None:
    query = (
        "select m._load_id, b.load_id from raw.movies as m "
        "join marts.rpt_revenue_by_genre as b on b.x = m.x join other.raw.t as o"
    )
    renamed = qualify_query(query, ["raw", "marts"], lambda s, t: f"p_{s}.{t}")
    assert renamed == (
        "select m._load_id, b.load_id from p_raw.movies as m "
        "join p_marts.rpt_revenue_by_genre as b on b.x = m.x join other.raw.t as o"
    )


def test_every_relation_the_committed_sql_checks_read_is_renamed_on_spark() -> None:
    """No SQL check of the committed suites reads a relation by PostgreSQL's name on Spark."""
    suites = all_suites()
    schemas = {spec.schema for spec in suites}
    named: set[str] = set()
    leftover = re.compile(rf"(?<![\w.])({'|'.join(schemas)})\.\w")
    for spec in suites:
        for expectation in spec.expectations:
            query = getattr(expectation, "unexpected_rows_query", None)
            if query:
                renamed = qualify_query(
                    query, schemas, lambda s, t: named.add(f"{s}.{t}") or f"p_{s}.{t}"
                )
                assert not leftover.search(renamed), (spec.name, renamed)
    assert {
        "raw.users_rows",
        "raw.movies",
        "raw.content_genres_rows",
        "audit.quarantine",
        "marts.rpt_revenue_by_genre",
    } <= named


def test_recorded_loads_carry_their_outcomes_whether_stored_as_json_or_jsonb() -> None:
    outcome = _outcome("session_id_pattern", True, "error")
    stored = [dataclasses.asdict(outcome)]
    pending, carried = split_loads([(1, stored), (2, None), (3, json.dumps(stored)), (4, None)])
    assert pending == [2, 4]
    assert carried == {1: [outcome], 3: [outcome]}
