"""The dbt project end to end on generated data: generate (dirty) -> ingest -> dbt build.

One warehouse is built per module (a fresh database on the real server) and shared by the tests
below, which only read it, except the last one, which loads a second sessions batch.

The question marts are compared with an independent computation in pandas from the raw FILES:
the reference drops exactly the lines the generator's manifest lists as defects (its own ground
truth, not dbt's rules), canonicalises the enum spellings, and recomputes every figure.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2
import pytest
from _db_state import scratch_database

from streamlytics.config import settings
from streamlytics.generate import generate_dataset
from streamlytics.ingest import ingest_directory
from streamlytics.transform import TransformResult, run_build

SCALE, SEED, DIRTY = 0.02, 11, 0.02
THREADS = 4

PLANS = ["Basic", "Standard", "Premium"]
DEVICES = ["Smart TV", "Mobile", "Desktop", "Tablet", "Gaming Console"]
QUALITIES = ["HD", "4K", "SD"]
PRICE_CENTS = {"Basic": 899, "Standard": 1399, "Premium": 1799}  # dbt_project/seeds/plan_prices.csv


@dataclasses.dataclass
class Warehouse:
    url: str
    data_dir: Path
    work_dir: Path
    build: TransformResult
    cfg: Any

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg2.connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        with psycopg2.connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])

    def dbt_build(self) -> TransformResult:
        return run_build(
            threads=THREADS,
            target_path=self.work_dir / "target",
            log_path=self.work_dir / "logs",
            cfg=self.cfg,
        )


@pytest.fixture(scope="module")
def warehouse(
    service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    """A fresh database with generated dirty data ingested and `dbt build` run once."""
    with scratch_database(service_urls["postgres"], prefix="test_dbt") as url:
        work = tmp_path_factory.mktemp("dbt")
        data_dir = work / "data"
        generate_dataset(data_dir, scale=SCALE, seed=SEED, dirty_fraction=DIRTY)
        ingest_directory(data_dir, url)
        cfg = dataclasses.replace(settings(), database_url=url)
        wh = Warehouse(url, data_dir, work, build=None, cfg=cfg)  # type: ignore[arg-type]
        wh.build = wh.dbt_build()
        yield wh


# --- the raw files, as the reference reads them -------------------------------------------------


def _canonical(value: str, spellings: list[str]) -> str:
    return {s.lower(): s for s in spellings}.get(value.strip().lower(), value.strip())


def _manifest(data_dir: Path) -> list[dict[str, Any]]:
    return json.loads((data_dir / "manifest.json").read_text())["defects"]


def _csv_rows(path: Path, skip_lines: set[int]) -> list[dict[str, str]]:
    """Data lines of a CSV by physical line number (header = line 1), minus the listed ones."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if line and number not in skip_lines:
            rows.append(dict(zip(header, next(csv.reader([line])), strict=True)))
    return rows


@dataclasses.dataclass
class Reference:
    users: pd.DataFrame
    content: pd.DataFrame
    genres: pd.DataFrame
    sessions: pd.DataFrame  # joined with user and content attributes


def reference_from_files(data_dir: Path) -> Reference:
    """Clean records straight from the files: every manifest defect that refuses a row dropped."""
    refused = [d for d in _manifest(data_dir) if d["expected_stage"] in ("ingest", "staging")]
    skip = {
        name: {d["line"] for d in refused if d["file"] == name}
        for name in ("users.csv", "viewing_sessions.csv")
    }
    skip_items = {(d["section"], d["item_index"]) for d in refused if d["file"] == "content.json"}

    users = pd.DataFrame(_csv_rows(data_dir / "users.csv", skip["users.csv"]))
    users["subscription_type"] = users["subscription_type"].map(lambda v: _canonical(v, PLANS))
    users["registration_date"] = pd.to_datetime(users["registration_date"])

    catalogue = json.loads((data_dir / "content.json").read_text(encoding="utf-8"))
    items, genre_rows = [], []
    for section, kind, length_key in (
        ("movies", "movie", "duration_minutes"),
        ("series", "series", "avg_episode_duration"),
    ):
        for index, item in enumerate(catalogue[section]):
            if (section, index) in skip_items:
                continue
            items.append(
                {
                    "content_id": item["content_id"],
                    "content_type": kind,
                    "title": item["title"],
                    "length": int(item[length_key]),
                }
            )
            for genre in dict.fromkeys(item["genre"]):
                genre_rows.append({"content_id": item["content_id"], "genre": genre})
    content = pd.DataFrame(items)
    genres = pd.DataFrame(genre_rows)

    sessions = pd.DataFrame(
        _csv_rows(data_dir / "viewing_sessions.csv", skip["viewing_sessions.csv"])
    )
    sessions["watch_date"] = pd.to_datetime(sessions["watch_date"])
    sessions["watch_minutes"] = sessions["watch_duration_minutes"].astype(int)
    sessions["completion"] = sessions["completion_percentage"].astype(float)
    sessions["device_type"] = sessions["device_type"].map(lambda v: _canonical(v, DEVICES))
    sessions["quality_level"] = sessions["quality_level"].map(lambda v: _canonical(v, QUALITIES))
    sessions = sessions.merge(
        users[["user_id", "country", "subscription_type"]], on="user_id", validate="m:1"
    )
    sessions = sessions.merge(
        content[["content_id", "content_type", "title"]], on="content_id", validate="m:1"
    )
    sessions["month"] = sessions["watch_date"].dt.to_period("M").dt.to_timestamp()
    return Reference(users, content, genres, sessions)


@pytest.fixture(scope="module")
def reference(warehouse: Warehouse) -> Reference:
    return reference_from_files(warehouse.data_dir)


def _close(a: Any, b: Any, tol: float = 1e-5) -> bool:
    return (a is None and b is None) or math.isclose(float(a), float(b), abs_tol=tol)


# --- the build ---------------------------------------------------------------------------------


def test_dbt_build_passes_on_generated_dirty_data(warehouse: Warehouse) -> None:
    summary = warehouse.build.summary()
    assert warehouse.build.ok, [f.describe() for f in warehouse.build.failures]
    assert summary["models"] >= 30 and summary["models_failed"] == summary["models_skipped"] == 0
    assert summary["tests_passed"] >= 100 and summary["tests_failed"] == 0
    assert summary["unit_tests_passed"] >= 6 and summary["unit_tests_failed"] == 0
    schemas = {
        r[0]
        for r in warehouse.query(
            "select table_schema from information_schema.tables where table_name in "
            "('stg_streaming__users', 'users', 'rpt_geographic', 'staging_quarantine') and table_schema <> 'raw'"
        )
    }
    assert schemas == {"staging", "core", "marts", "audit"}


def test_every_staging_defect_is_quarantined_once_with_its_line_field_and_reason(
    warehouse: Warehouse,
) -> None:
    expected = {
        (d["file"], d["line"]): d
        for d in _manifest(warehouse.data_dir)
        if d["expected_stage"] == "staging"
    }
    assert len(expected) >= 7  # one of every staging kind at least
    got = {
        (r[0], r[1]): r
        for r in warehouse.query(
            "select source_file, source_line, reason_code, field, value, message, item_index "
            "from audit.staging_quarantine"
        )
    }
    # The generator never lets a defect make another row wrong, so nothing else is refused.
    assert set(got) == set(expected)
    for key, defect in expected.items():
        _, line, reason, field, value, message, item_index = got[key]
        assert (reason, field) == (defect["kind"], defect["field"]), (defect, got[key])
        assert item_index == defect["item_index"]
        assert f"line {line}" in message and field in message and defect["kind"] in message
        if defect["value"] is not None and defect["kind"] not in ("episodes_mismatch",):
            assert value.strip() == defect["value"].strip() or float(value) == float(
                defect["value"]
            )
    # all_quarantine = ingest refusals + these, in one shape
    stages = dict(
        warehouse.query("select stage, count(*) from audit.all_quarantine group by stage")
    )
    ingest_defects = [d for d in _manifest(warehouse.data_dir) if d["expected_stage"] == "ingest"]
    assert stages == {"staging": len(expected), "ingest": len(ingest_defects)}


def test_normalised_values_flow_on_in_canonical_case(warehouse: Warehouse) -> None:
    normalised = [d for d in _manifest(warehouse.data_dir) if d["expected_stage"] == "normalised"]
    assert normalised
    for defect in normalised:
        table = {"users.csv": "core.users", "viewing_sessions.csv": "core.viewing_sessions"}[
            defect["file"]
        ]
        rows = warehouse.query(
            f"select {defect['field']} from {table} where source_line = %s", (defect["line"],)
        )
        spellings = {
            "subscription_type": PLANS,
            "device_type": DEVICES,
            "quality_level": QUALITIES,
        }[defect["field"]]
        assert rows == [(_canonical(defect["value"], spellings),)], defect


def test_core_holds_exactly_the_clean_records_of_the_files(
    warehouse: Warehouse, reference: Reference
) -> None:
    assert {r[0] for r in warehouse.query("select user_id from core.users")} == set(
        reference.users["user_id"]
    )
    assert {r[0] for r in warehouse.query("select content_id from core.content")} == set(
        reference.content["content_id"]
    )
    assert {r[0] for r in warehouse.query("select session_id from core.viewing_sessions")} == set(
        reference.sessions["session_id"]
    )
    pairs = {tuple(r) for r in warehouse.query("select content_id, genre from core.content_genres")}
    assert pairs == set(map(tuple, reference.genres[["content_id", "genre"]].to_numpy()))


# --- the five questions, against pandas ------------------------------------------------------------


def test_top_content_per_country_equals_pandas(warehouse: Warehouse, reference: Reference) -> None:
    s = reference.sessions
    by = (
        s.groupby(["country", "content_id"])
        .agg(session_count=("session_id", "size"), total_watch_minutes=("watch_minutes", "sum"))
        .reset_index()
    )
    expected = []
    for metric, order in (
        ("sessions", ["session_count", "total_watch_minutes"]),
        ("watch_minutes", ["total_watch_minutes", "session_count"]),
    ):
        ranked = by.sort_values(
            ["country", *order, "content_id"], ascending=[True, False, False, True]
        )
        for country, group in ranked.groupby("country"):
            for rank, row in enumerate(group.head(5).itertuples(), start=1):
                expected.append(
                    (
                        country,
                        metric,
                        rank,
                        row.content_id,
                        row.session_count,
                        row.total_watch_minutes,
                    )
                )
    got = warehouse.query(
        "select country, ranking_metric, content_rank, content_id, session_count, total_watch_minutes "
        "from marts.rpt_top_content_by_country order by 1, 2, 3"
    )
    assert got == sorted(expected)


def test_retention_by_plan_equals_pandas(warehouse: Warehouse, reference: Reference) -> None:
    s = reference.sessions
    active = s[["user_id", "subscription_type", "month"]].drop_duplicates()
    cohort = active.groupby("user_id")["month"].min().rename("cohort_month")
    active = active.join(cohort, on="user_id")
    months = sorted(active["month"].unique())
    sizes = active.drop_duplicates("user_id").groupby(["subscription_type", "cohort_month"]).size()
    retained = active.groupby(["subscription_type", "cohort_month", "month"]).size()
    expected = {}
    for (plan, cohort_month), size in sizes.items():
        for month in (m for m in months if m >= cohort_month):
            offset = (month.year - cohort_month.year) * 12 + month.month - cohort_month.month
            kept = int(retained.get((plan, cohort_month, month), 0))
            expected[(plan, cohort_month.date(), offset)] = (int(size), kept, kept / size)
    got = {
        (r[0], r[1], r[2]): (r[3], r[4], r[5])
        for r in warehouse.query(
            "select subscription_type, cohort_month, months_since_first_watch, cohort_size, retained_users, "
            "retention_rate from marts.rpt_retention_by_plan"
        )
    }
    assert got.keys() == expected.keys()
    for key, (size, kept, rate) in expected.items():
        assert got[key][:2] == (size, kept) and _close(got[key][2], rate, 1e-6), key


def _allocate_cents(price: int, weights: dict[str, Fraction]) -> dict[str, int]:
    """Largest remainder, exact: floors of the exact shares, leftover cents to the largest
    fractions (ties: genre name)."""
    total = sum(weights.values())
    exact = {g: price * w / total for g, w in weights.items()}
    cents = {g: math.floor(v) for g, v in exact.items()}
    leftover = price - sum(cents.values())
    for genre in sorted(exact, key=lambda g: (-(exact[g] - cents[g]), g))[:leftover]:
        cents[genre] += 1
    return cents


def test_revenue_by_genre_equals_pandas_and_adds_up_to_billed_revenue(
    warehouse: Warehouse, reference: Reference
) -> None:
    s = reference.sessions
    genre_lists = reference.genres.groupby("content_id")["genre"].apply(list).to_dict()
    weights: dict[tuple, dict[str, Fraction]] = {}
    for row in s.itertuples():
        listed = genre_lists[row.content_id]
        per_user_month = weights.setdefault((row.user_id, row.month, row.subscription_type), {})
        for genre in listed:
            per_user_month[genre] = per_user_month.get(genre, Fraction(0)) + Fraction(
                row.watch_minutes, len(listed)
            )
    expected: dict[tuple, int] = {}
    billed: dict[Any, int] = {}
    for (user, month, plan), genre_weights in weights.items():
        billed[month] = billed.get(month, 0) + PRICE_CENTS[plan]
        for genre, cents in _allocate_cents(PRICE_CENTS[plan], genre_weights).items():
            expected[(month.date(), genre)] = expected.get((month.date(), genre), 0) + cents
    got = {
        (r[0], r[1]): r[2]
        for r in warehouse.query(
            "select revenue_month, genre, revenue_cents from marts.rpt_revenue_by_genre"
        )
    }
    assert got == expected
    by_month: dict[Any, int] = {}
    for (month, _), cents in got.items():
        by_month[month] = by_month.get(month, 0) + cents
    assert by_month == {
        m.date(): c for m, c in billed.items()
    }  # genres sum to total revenue exactly


def test_seasonal_patterns_equal_pandas(warehouse: Warehouse, reference: Reference) -> None:
    s = reference.sessions
    monthly = s.groupby("month").agg(
        n=("session_id", "size"),
        users=("user_id", "nunique"),
        minutes=("watch_minutes", "sum"),
        completion=("completion", "mean"),
    )
    got = {
        r[0]: r[1:]
        for r in warehouse.query(
            "select activity_month, session_count, active_user_count, total_watch_minutes, "
            "mean_completion_percentage from marts.rpt_seasonal_by_month"
        )
    }
    assert set(got) == {m.date() for m in monthly.index}
    for month, row in monthly.iterrows():
        n, users, minutes, completion = got[month.date()]
        assert (n, users, minutes) == (row.n, row.users, row.minutes) and _close(
            completion, row.completion
        )

    s = s.assign(weekday=s["watch_date"].dt.day_of_week + 1)  # pandas: Monday = 0
    weekly = s.groupby("weekday").agg(
        n=("session_id", "size"),
        days=("watch_date", "nunique"),
        minutes=("watch_minutes", "sum"),
        completion=("completion", "mean"),
    )
    got = {
        r[0]: r[1:]
        for r in warehouse.query(
            "select iso_weekday, weekday_name, session_count, active_day_count, total_watch_minutes, "
            "mean_completion_percentage from marts.rpt_seasonal_by_weekday"
        )
    }
    assert set(got) == set(weekly.index)
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    for weekday, row in weekly.iterrows():
        name, n, days, minutes, completion = got[weekday]
        assert (name, n, days, minutes) == (names[weekday - 1], row.n, row.days, row.minutes)
        assert _close(completion, row.completion)


def test_device_completion_and_its_confidence_interval_equal_pandas(
    warehouse: Warehouse, reference: Reference
) -> None:
    s = reference.sessions
    got = {
        r[0]: r[1:]
        for r in warehouse.query(
            "select device_type, session_count, share_of_sessions, mean_completion_percentage, "
            "completion_ci95_lower, completion_ci95_upper from marts.rpt_device_completion"
        )
    }
    assert set(got) == set(s["device_type"])
    for device, group in s.groupby("device_type"):
        n, share, mean, lower, upper = got[device]
        half = 1.96 * group["completion"].std(ddof=1) / math.sqrt(len(group))
        assert n == len(group) and _close(share, len(group) / len(s))
        assert _close(mean, group["completion"].mean())
        assert _close(lower, group["completion"].mean() - half) and _close(
            upper, group["completion"].mean() + half
        )


# --- documentation ---------------------------------------------------------------------------------


def test_every_model_and_column_is_documented(warehouse: Warehouse) -> None:
    manifest = json.loads((warehouse.work_dir / "target" / "manifest.json").read_text())
    missing = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        if not node["description"].strip():
            missing.append(node["name"])
        actual = [
            r[0]
            for r in warehouse.query(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                (node["schema"], node["alias"]),
            )
        ]
        assert actual, node["name"]
        documented = {name for name, col in node["columns"].items() if col["description"].strip()}
        missing += [f"{node['name']}.{column}" for column in actual if column not in documented]
    assert not missing


def test_column_descriptions_fit_the_spark_metastore(warehouse: Warehouse) -> None:
    """persist_docs writes column descriptions as Hive metastore comments (256 characters at
    most); a longer one makes the metastore retry for ≈ 21 s per relation on dbt-spark."""
    manifest = json.loads((warehouse.work_dir / "target" / "manifest.json").read_text())
    too_long = [
        f"{node['name']}.{name} ({len(column['description'])})"
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        for name, column in node["columns"].items()
        if len(column["description"]) > 256
    ]
    assert not too_long


# --- re-runs and new batches (mutates the warehouse: keep last) --------------------------------------


def _table_checksums(warehouse: Warehouse) -> dict[str, str]:
    tables = warehouse.query(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('core', 'marts', 'audit') and table_type = 'BASE TABLE' "
        "and table_name not in ('quarantine', 'load_batches') order by 1"
    )
    sums = {}
    for (table,) in tables:
        rows = warehouse.query(f"select t::text from {table} as t")
        sums[table] = hashlib.sha256("\n".join(sorted(r[0] for r in rows)).encode()).hexdigest()
    return sums


def _session_versions(warehouse: Warehouse) -> dict[str, str]:
    """session_id -> the row version (xmin): unchanged only if the row was never rewritten."""
    return dict(warehouse.query("select session_id, xmin::text from core.viewing_sessions"))


def test_rebuilds_change_no_row_and_a_new_sessions_batch_changes_only_what_it_should(
    warehouse: Warehouse,
) -> None:
    before, versions = _table_checksums(warehouse), _session_versions(warehouse)
    assert "core.viewing_sessions" in before and "marts.rpt_geographic" in before

    again = warehouse.dbt_build()
    assert again.ok, [f.describe() for f in again.failures]
    assert _table_checksums(warehouse) == before
    assert _session_versions(warehouse) == versions  # the incremental model rewrote nothing
    # users and content were rebuilt (dropped with CASCADE): the sessions' foreign keys are back
    parents = warehouse.query(
        "select confrelid::regclass::text from pg_constraint "
        "where contype = 'f' and conrelid = 'core.viewing_sessions'::regclass"
    )
    assert sorted(p for (p,) in parents) == ["core.content", "core.users"]

    # A September file: 3 valid sessions, one repeating an existing session_id, one unknown user.
    existing = warehouse.query(
        "select session_id, user_id, content_id, watch_minutes from core.viewing_sessions order by session_id limit 2"
    )
    (old_id, user, item, minutes), _ = existing
    lines = [
        "session_id,user_id,content_id,watch_date,watch_duration_minutes,completion_percentage,device_type,quality_level"
    ]
    for day in (1, 2, 3):
        lines.append(f"X{day:06d},{user},{item},2024-09-0{day},{minutes},{0},Mobile,HD")
    lines.append(f"{old_id},{user},{item},2024-09-04,{minutes},{0},Mobile,HD")
    lines.append(f"X000009,U9999,{item},2024-09-05,{minutes},{0},Mobile,HD")
    length = warehouse.query(
        "select content_length_minutes from core.content where content_id = %s", (item,)
    )[0][0]
    completion = f"{100 * minutes / length:.1f}"
    (warehouse.data_dir / "viewing_sessions_2024_09.csv").write_text(
        "\n".join(line.replace(",0,Mobile", f",{completion},Mobile") for line in lines) + "\n"
    )
    ingest_directory(
        warehouse.data_dir, warehouse.url
    )  # the first three files are skipped (same bytes)

    after_batch = warehouse.dbt_build()
    assert after_batch.ok, [f.describe() for f in after_batch.failures]
    after = _table_checksums(warehouse)
    unchanged = {
        "core.users",
        "core.content",
        "core.movie_details",
        "core.series_details",
        "core.genres",
        "core.content_genres",
        "core.series_episodes",
    }
    assert {t for t in before if before[t] == after[t]} >= unchanged
    assert after["core.viewing_sessions"] != before["core.viewing_sessions"]
    new_versions = _session_versions(warehouse)
    assert {
        k: v for k, v in new_versions.items() if k in versions
    } == versions  # old rows untouched
    assert set(new_versions) - set(versions) == {"X000001", "X000002", "X000003"}
    refused = warehouse.query(
        "select source_line, reason_code from audit.staging_quarantine "
        "where source_file = 'viewing_sessions_2024_09.csv' order by source_line"
    )
    assert refused == [(5, "duplicate_id"), (6, "unknown_user_id")]
    months = dict(
        warehouse.query("select activity_month, session_count from marts.rpt_seasonal_by_month")
    )
    assert months[pd.Timestamp("2024-09-01").date()] == 3


# The incremental models outside core and marts whose rows compare between two databases (the
# other tables of the analysis and staging schemas carry load times and batch ids).
INCREMENTAL_ANALYSIS_TABLES = (
    "analysis_marts.ana_session_minutes_by_day",
    "analysis_marts.ana_user_session_groups",
    "analysis_marts.ana_user_quality_completion",
    "staging.int_user_sessions_by_device_quality",
)


def _comparable_checksums(url: str) -> dict[str, str]:
    """Every core.* and marts.* table's (and INCREMENTAL_ANALYSIS_TABLES') sorted rows hashed,
    without the load-time columns (loaded_at, detected_at), which differ between two databases
    that loaded the same files."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_schema || '.' || table_name, string_agg(column_name, ', ' order by ordinal_position) "
            "from information_schema.columns where (table_schema in ('core', 'marts') "
            "or table_schema || '.' || table_name in %s) "
            "and column_name not in ('loaded_at', 'detected_at') group by 1 order by 1",
            (INCREMENTAL_ANALYSIS_TABLES,),
        )
        tables = cur.fetchall()
        sums = {}
        for table, columns in tables:
            cur.execute(f"select row({columns})::text from {table}")
            sums[table] = hashlib.sha256(
                "\n".join(sorted(r[0] for r in cur.fetchall())).encode()
            ).hexdigest()
    return sums


def test_incremental_builds_equal_a_full_build_of_the_same_files(
    warehouse: Warehouse, service_urls: dict[str, str]
) -> None:
    """After the full build, the incremental one of the test above and one more on a changed
    users snapshot, every core and mart table holds exactly what one --full-refresh build over
    the same files computes in a fresh database."""
    assert (
        warehouse.data_dir / "viewing_sessions_2024_09.csv"
    ).exists()  # runs after the batch test
    # Then a new users snapshot in which a user who has sessions changed plan and country: the
    # per-user and per-month tables that copy those attributes must follow, as a full build does.
    users_csv = warehouse.data_dir / "users.csv"
    lines = users_csv.read_text().splitlines(keepends=True)
    candidates = warehouse.query(
        "select user_id, subscription_type, country from core.users "
        "where user_id in (select user_id from core.viewing_sessions) order by user_id limit 50"
    )
    # One whose line is plain (the dirty files also hold duplicated and malformed user lines).
    user, plan, country, i = next(
        (u, p, c, found[0])
        for u, p, c in candidates
        if len(found := [i for i, x in enumerate(lines) if x.startswith(f"{u},")]) == 1
        and lines[found[0]].split(",")[2:4] == [c, p]
    )
    new_plan = "Premium" if plan != "Premium" else "Basic"
    new_country = "Chile" if country != "Chile" else "Peru"
    fields = lines[i].split(",")
    fields[2], fields[3] = new_country, new_plan
    lines[i] = ",".join(fields)
    users_csv.write_text("".join(lines))
    ingest_directory(warehouse.data_dir, warehouse.url)
    changed = warehouse.dbt_build()
    assert changed.ok, [f.describe() for f in changed.failures]
    assert warehouse.query(
        "select subscription_type, country from core.users where user_id = %s", (user,)
    ) == [(new_plan, new_country)]
    with scratch_database(service_urls["postgres"], prefix="test_dbt_ref") as url:
        ingest_directory(warehouse.data_dir, url)
        cfg = dataclasses.replace(settings(), database_url=url)
        work = warehouse.work_dir / "reference"
        build = run_build(
            threads=THREADS,
            full_refresh=True,
            target_path=work / "target",
            log_path=work / "logs",
            cfg=cfg,
        )
        assert build.ok, [f.describe() for f in build.failures]
        incremental, full = _comparable_checksums(warehouse.url), _comparable_checksums(url)
    assert "core.viewing_sessions" in full and "marts.rpt_executive_summary" in full
    assert set(INCREMENTAL_ANALYSIS_TABLES) <= set(full)
    assert {t for t in full if incremental.get(t) != full[t]} == set()
