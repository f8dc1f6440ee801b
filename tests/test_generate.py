"""The generator writes the course layout, keeps its structure, is deterministic, and its
manifest lists exactly the defects in the files (checked by an independent validator below)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from typer.testing import CliRunner

from streamlytics.cli import app
from streamlytics.generate import generate_dataset
from streamlytics.generate.catalogue import build_catalogue
from streamlytics.generate.scaling import IdFormat, id_digits, sizes_for
from streamlytics.generate.writer import Edit, digits, join_rows, splice, tenths

FILES = ("users.csv", "content.json", "viewing_sessions.csv")
USERS_HEADER = "user_id,age,country,subscription_type,registration_date,total_watch_time_hours"
SESSIONS_HEADER = "session_id,user_id,content_id,watch_date,watch_duration_minutes,completion_percentage,device_type,quality_level"
MOVIE_KEYS = [
    "content_id",
    "title",
    "genre",
    "duration_minutes",
    "release_year",
    "rating",
    "views_count",
    "production_budget",
]
SERIES_KEYS = [
    "content_id",
    "title",
    "genre",
    "seasons",
    "episodes_per_season",
    "avg_episode_duration",
    "rating",
    "total_views",
    "production_budget",
]
COUNTRIES = {"Mexico": 0.30, "Colombia": 0.24, "Argentina": 0.21, "Chile": 0.15, "Peru": 0.10}
PLANS = {"Basic": 0.40, "Standard": 0.36, "Premium": 0.24}
DEVICES = {
    "Smart TV": 0.36,
    "Mobile": 0.31,
    "Desktop": 0.14,
    "Tablet": 0.14,
    "Gaming Console": 0.05,
}
QUALITIES = {"HD": 0.49, "4K": 0.28, "SD": 0.23}
GENRES = {
    "Action",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Horror",
    "Reality",
    "Romance",
    "Sci-Fi",
    "Thriller",
}
STAGE = {  # the contract's reason codes and where each must be caught
    "field_count": "ingest",
    "bad_number": "ingest",
    "bad_date": "ingest",
    "empty_required": "ingest",
    "json_missing_key": "ingest",
    "json_wrong_type": "ingest",
    "duplicate_id": "staging",
    "unknown_user_id": "staging",
    "unknown_content_id": "staging",
    "out_of_range": "staging",
    "watch_before_registration": "staging",
    "duration_above_length": "staging",
    "episodes_mismatch": "staging",
    "enum_case_whitespace": "normalised",
}
WATCH_FIRST, WATCH_LAST = "2024-01-01", "2024-08-31"


def _sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate_dataset(out, scale=0.05, seed=7)
    return out


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    """The scale-1 dataset loaded as frames (one generation, ≈ 1 s)."""
    out = tmp_path_factory.mktemp("course")
    summary = generate_dataset(out, scale=1.0, seed=42)
    users = pd.read_csv(out / "users.csv")
    sessions = pd.read_csv(out / "viewing_sessions.csv")
    content = json.loads((out / "content.json").read_text())
    return {
        "dir": out,
        "summary": summary,
        "users": users,
        "sessions": sessions,
        "movies": pd.DataFrame(content["movies"]),
        "series": pd.DataFrame(content["series"]),
    }


# --- layout ---------------------------------------------------------------------------------------------


def test_csv_files_have_the_course_header_columns_and_formats(small: Path) -> None:
    users = (small / "users.csv").read_bytes()
    sessions = (small / "viewing_sessions.csv").read_bytes()
    assert b"\r" not in users + sessions and users.endswith(b"\n") and sessions.endswith(b"\n")
    user_lines = users.decode("ascii").splitlines()
    session_lines = sessions.decode("ascii").splitlines()
    assert user_lines[0] == USERS_HEADER and session_lines[0] == SESSIONS_HEADER
    user_row = re.compile(
        rf"U\d{{4}},\d{{2}},({'|'.join(COUNTRIES)}),({'|'.join(PLANS)}),\d{{4}}-\d\d-\d\d,[1-9]\d*\.\d"
    )
    session_row = re.compile(
        rf"S\d{{6}},U\d{{4}},(M|S)\d{{3}},2024-0[1-8]-\d\d,[1-9]\d*,[1-9]\d*\.\d,"
        rf"({'|'.join(DEVICES)}),({'|'.join(QUALITIES)})"
    )
    assert all(user_row.fullmatch(line) for line in user_lines[1:])
    assert all(session_row.fullmatch(line) for line in session_lines[1:])
    for line in user_lines[1:]:
        dt.date.fromisoformat(line.split(",")[4])
    for line in session_lines[1:]:
        dt.date.fromisoformat(line.split(",")[3])


def test_content_json_is_pretty_printed_like_json_dumps_with_course_keys(small: Path) -> None:
    text = (small / "content.json").read_text(encoding="ascii")
    content = json.loads(text)
    assert list(content) == ["movies", "series"]
    assert text == json.dumps(content, indent=2)  # 2-space indent, key order and number formats
    for movie in content["movies"]:
        assert list(movie) == MOVIE_KEYS
        assert re.fullmatch(r"M\d{3}", movie["content_id"])
        assert 1 <= len(movie["genre"]) <= 3 and len(set(movie["genre"])) == len(movie["genre"])
        assert set(movie["genre"]) <= GENRES
        assert 81 <= movie["duration_minutes"] <= 180 and 2020 <= movie["release_year"] <= 2024
        assert isinstance(movie["rating"], float) and 1.0 <= movie["rating"] <= 5.0
        assert round(movie["rating"], 1) == movie["rating"]
    for series in content["series"]:
        assert list(series) == SERIES_KEYS
        assert re.fullmatch(r"S\d{3}", series["content_id"])
        assert 1 <= len(series["genre"]) <= 2 and set(series["genre"]) <= GENRES
        assert (
            1 <= series["seasons"] <= 8 and len(series["episodes_per_season"]) == series["seasons"]
        )
        assert all(6 <= e <= 24 for e in series["episodes_per_season"])
        assert 20 <= series["avg_episode_duration"] <= 60
    titles = [m["title"] for m in content["movies"]]
    assert len(set(titles)) < len(titles)  # titles repeat, as in the real catalogue


def test_scale_one_has_the_course_sizes(course: dict) -> None:
    assert len(course["users"]) == 5_000
    assert (len(course["movies"]), len(course["series"])) == (200, 100)
    assert abs(len(course["sessions"]) - 222_785) <= 0.02 * 222_785
    assert course["summary"]["sessions"] == len(course["sessions"])
    per_user = course["sessions"].groupby("user_id").size()
    assert len(per_user) == 5_000 and per_user.min() >= 8 and per_user.max() <= 104
    assert 43 <= per_user.mean() <= 47
    assert course["sessions"].groupby("content_id").size().min() >= 300  # every title has hundreds
    assert course["sessions"]["session_id"].is_unique and course["users"]["user_id"].is_unique


def test_tiny_scale_is_valid_and_joinable(tmp_path: Path) -> None:
    summary = generate_dataset(tmp_path, scale=0.01, seed=3)
    users = pd.read_csv(tmp_path / "users.csv")
    sessions = pd.read_csv(tmp_path / "viewing_sessions.csv")
    content = json.loads((tmp_path / "content.json").read_text())
    ids = {c["content_id"] for c in content["movies"] + content["series"]}
    assert (summary["users"], summary["movies"], summary["series"]) == (50, 20, 10)
    assert sessions["user_id"].isin(users["user_id"]).all()
    assert sessions["content_id"].isin(ids).all()
    assert set(users["user_id"]) == set(sessions["user_id"])  # everyone watched something
    assert not (tmp_path / "manifest.json").exists()


def test_sessions_file_is_ordered_by_user(course: dict) -> None:
    assert course["sessions"]["user_id"].is_monotonic_increasing


# --- marginals and structure (scale 1) -----------------------------------------------------------------


def _close(observed: pd.Series, expected: dict[str, float], points: float) -> None:
    shares = observed.value_counts(normalize=True)
    assert set(shares.index) == set(expected)
    for key, share in expected.items():
        assert abs(shares[key] - share) <= points / 100, (key, shares[key], share)


def test_marginals_match_the_real_files(course: dict) -> None:
    users, sessions = course["users"], course["sessions"]
    _close(users["country"], COUNTRIES, 2.5)
    _close(users["subscription_type"], PLANS, 2.5)
    _close(sessions["device_type"], DEVICES, 1.5)
    _close(sessions["quality_level"], QUALITIES, 1.5)
    assert users["age"].between(18, 65).all() and 40 <= users["age"].mean() <= 43
    assert (
        users["registration_date"].min() >= "2022-01-01"
        and users["registration_date"].max() <= "2024-03-01"
    )
    hours = users["total_watch_time_hours"]
    assert hours.between(9.8, 1093.1).all() and 315 <= hours.mean() <= 355
    assert (
        sessions["watch_date"].min() == WATCH_FIRST and sessions["watch_date"].max() == WATCH_LAST
    )
    months = pd.to_datetime(sessions["watch_date"]).dt.month.value_counts(normalize=True)
    assert months.between(0.10, 0.15).all()  # spread over the eight months
    assert sessions["completion_percentage"].between(10.0, 100.0).all()
    assert sessions["watch_duration_minutes"].min() >= 2


def test_completion_follows_watched_minutes_over_length(course: dict) -> None:
    movies, series, sessions = course["movies"], course["series"], course["sessions"]
    length = pd.concat(
        [
            movies.set_index("content_id")["duration_minutes"],
            series.set_index("content_id")["avg_episode_duration"],
        ]
    )
    minutes = sessions["watch_duration_minutes"]
    lengths = sessions["content_id"].map(length)
    assert (minutes <= lengths).all()
    gap = (sessions["completion_percentage"] - 100 * minutes / lengths).abs()
    assert gap.max() <= 3.1 and gap.mean() < 1.5
    assert np.corrcoef(sessions["completion_percentage"], 100 * minutes / lengths)[0, 1] > 0.99


def test_plan_drives_completion_and_4k_share(course: dict) -> None:
    joined = course["sessions"].merge(course["users"], on="user_id")
    completion = joined.groupby("subscription_type")["completion_percentage"].mean()
    for plan, mean in {"Basic": 68, "Standard": 79, "Premium": 88}.items():
        assert abs(completion[plan] - mean) <= 1.5, (plan, completion[plan])
    four_k = (
        joined.assign(k=joined["quality_level"] == "4K").groupby("subscription_type")["k"].mean()
    )
    assert abs(four_k["Premium"] - 0.37) <= 0.02 and abs(four_k["Basic"] - 0.24) <= 0.02


def test_no_session_before_registration_and_all_in_window(course: dict) -> None:
    joined = course["sessions"].merge(course["users"], on="user_id")
    assert (joined["watch_date"] >= joined["registration_date"]).all()
    assert joined["watch_date"].between(WATCH_FIRST, WATCH_LAST).all()
    late = joined[joined["registration_date"] > WATCH_FIRST]
    assert len(late) > 0  # late registrants exist and their sessions start after registering


def test_lifetime_hours_depend_on_plan_but_not_on_tenure(course: dict) -> None:
    users = course["users"]
    by_plan = users.groupby("subscription_type")["total_watch_time_hours"].mean()
    assert 1.8 <= by_plan["Premium"] / by_plan["Basic"] <= 2.2
    tenure = (pd.Timestamp("2024-08-31") - pd.to_datetime(users["registration_date"])).dt.days
    rho, p = spearmanr(tenure, users["total_watch_time_hours"])
    assert abs(rho) < 0.05 and p > 0.01
    logged = course["sessions"]["watch_duration_minutes"].sum() / 60 / len(users)
    assert 50 <= logged <= 70  # the session log holds ≈ 60 h per user: a separate measure


def test_catalogue_correlations(course: dict) -> None:
    movies, series = course["movies"], course["series"]
    assert 0.2 <= spearmanr(movies["rating"], movies["views_count"])[0] <= 0.4
    assert 0.2 <= spearmanr(series["rating"], series["total_views"])[0] <= 0.4
    assert 0.1 <= spearmanr(movies["production_budget"], movies["views_count"])[0] <= 0.3
    # No seasons–views relation: on a large catalogue the correlation vanishes.
    big = build_catalogue(np.random.default_rng(1), 10, 20_000, IdFormat(4, 3, 5, 6))
    seasons = [s["seasons"] for s in big.series]
    views = [s["total_views"] for s in big.series]
    assert abs(spearmanr(seasons, views)[0]) < 0.03


# --- determinism and scaling -----------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(tmp_path: Path) -> None:
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        generate_dataset(tmp_path / name, scale=0.02, seed=seed, dirty_fraction=0.01)
    a, b, c = (_sha(tmp_path / n) for n in "abc")
    assert a == b
    assert all(a[f] != c[f] for f in (*FILES, "manifest.json"))


def test_catalogue_grows_with_the_square_root_and_ids_widen_minimally() -> None:
    assert sizes_for(1) == sizes_for(1.0)
    s45 = sizes_for(45)
    assert (s45.users, s45.movies, s45.series) == (225_000, 1_342, 671)
    assert (sizes_for(0.01).movies, sizes_for(0.01).series) == (20, 10)
    assert id_digits(5_000, 4) == 4 and id_digits(9_999, 4) == 4 and id_digits(10_000, 4) == 5
    assert id_digits(225_000, 4) == 6 and id_digits(10_025_440, 6) == 8
    ids = IdFormat(user_digits=6, movie_digits=4, series_digits=3, session_digits=8)
    assert (ids.user(7), ids.movie(12), ids.series(3), ids.session(42)) == (
        "U000007",
        "M0012",
        "S003",
        "S00000042",
    )
    with pytest.raises(ValueError):
        sizes_for(0)


def test_writer_encodes_numbers_and_splices_lines_at_the_right_physical_line() -> None:
    data, ends = join_rows(
        [digits(np.array([5, 120, 0]), 3, pad=False), tenths(np.array([875, 1000, 100]), 3)]
    )
    assert data.tobytes() == b"5,87.5\n120,100.0\n0,10.0\n"
    edits = [Edit(1, "x"), Edit(0, "y", after=True), Edit(2, "z", after=True)]
    text, lines = splice(data, ends, edits, first_line=2)
    assert text == b"5,87.5\ny\nx\n0,10.0\nz\n"
    assert lines == [4, 3, 6]


# --- dirty data and manifest ---------------------------------------------------------------------------

INT32, INT64 = 2**31 - 1, 2**63 - 1


def _int_ok(text: str, limit: int = INT32) -> bool:
    return re.fullmatch(r"-?\d+", text) is not None and abs(int(text)) <= limit


def _date(text: str) -> dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _enum(value: str, allowed: set[str], field: str, found: list) -> None:
    if value in allowed:
        return
    canonical = {a.lower(): a for a in allowed}
    found.append(
        ("enum_case_whitespace" if value.strip().lower() in canonical else "bad_enum", field)
    )


class Validator:
    """An independent reading of the contract: every record's defects as (kind, field) pairs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.kept_users: dict[str, dt.date] = {}
        self.kept_content: dict[str, int] = {}

    def content(self) -> dict[tuple[str, int], list]:
        text = (self.folder / "content.json").read_text()
        data = json.loads(text)
        out: dict[tuple[str, int], list] = {}
        for section, keys in (("movies", MOVIE_KEYS), ("series", SERIES_KEYS)):
            seen: set[str] = set()
            for index, item in enumerate(data[section]):
                found: list = [("json_missing_key", k) for k in keys if k not in item]
                for key, value in item.items():
                    if key in ("content_id", "title"):
                        ok = isinstance(value, str)
                    elif key == "genre":
                        ok = isinstance(value, list) and all(isinstance(g, str) for g in value)
                    elif key == "episodes_per_season":
                        ok = isinstance(value, list) and all(type(e) is int for e in value)
                    elif key == "rating":
                        ok = type(value) in (int, float)
                    else:
                        ok = type(value) is int
                    if not ok:
                        found.append(("json_wrong_type", key))
                    elif type(value) is int and abs(value) > INT64:
                        found.append(("bad_number", key))
                    elif isinstance(value, str) and value == "":
                        found.append(("empty_required", key))
                if not found:
                    staged = []
                    if item["content_id"] in seen:
                        staged.append(("duplicate_id", "content_id"))
                    if not 1 <= item["rating"] <= 5:
                        staged.append(("out_of_range", "rating"))
                    if section == "series" and len(item["episodes_per_season"]) != item["seasons"]:
                        staged.append(("episodes_mismatch", "episodes_per_season"))
                    flagged = {f for _, f in staged}
                    length = item.get("duration_minutes", item.get("avg_episode_duration"))
                    domain = {
                        "genre": 1
                        <= len(set(item["genre"]))
                        == len(item["genre"])
                        <= (3 if section == "movies" else 2)
                        and set(item["genre"]) <= GENRES,
                        "rating": round(item["rating"], 1) == item["rating"],
                        "content_id": re.fullmatch(r"[MS]\d{3,}", item["content_id"]) is not None,
                        "length": 20 <= length <= 180,
                    }
                    staged += [
                        ("domain", f) for f, ok in domain.items() if not ok and f not in flagged
                    ]
                    found = staged
                    seen.add(item["content_id"])
                    if not staged:
                        self.kept_content[item["content_id"]] = length
                out[(section, index)] = found
        return out

    def users(self) -> list[list]:
        lines = (self.folder / "users.csv").read_text().splitlines()[1:]
        out, seen = [], set()
        for line in lines:
            f = line.split(",")
            if len(f) != 6:
                out.append([("field_count", None)])
                continue
            found = [
                ("empty_required", USERS_HEADER.split(",")[i]) for i, v in enumerate(f) if v == ""
            ]
            if f[1] and not _int_ok(f[1]):
                found.append(("bad_number", "age"))
            if f[5] and not re.fullmatch(r"-?\d+(\.\d+)?", f[5]):
                found.append(("bad_number", "total_watch_time_hours"))
            if f[4] and _date(f[4]) is None:
                found.append(("bad_date", "registration_date"))
            if not found:
                if f[0] in seen:
                    found.append(("duplicate_id", "user_id"))
                if not 13 <= int(f[1]) <= 120:
                    found.append(("out_of_range", "age"))
                _enum(f[3], set(PLANS), "subscription_type", found)
                flagged = {x for _, x in found}
                domain = {
                    "user_id": re.fullmatch(r"U\d{4,}", f[0]) is not None,
                    "age": 18 <= int(f[1]) <= 65,
                    "country": f[2] in COUNTRIES,
                    "registration_date": "2022-01-01" <= f[4] <= "2024-03-01",
                    "total_watch_time_hours": 9.8 <= float(f[5]) <= 1093.1
                    and re.fullmatch(r"\d+\.\d", f[5]),
                }
                found += [("domain", x) for x, ok in domain.items() if not ok and x not in flagged]
                seen.add(f[0])
                if all(k == "enum_case_whitespace" for k, _ in found):
                    self.kept_users[f[0]] = _date(f[4])
            out.append(found)
        return out

    def sessions(self) -> list[list]:
        lines = (self.folder / "viewing_sessions.csv").read_text().splitlines()[1:]
        columns = SESSIONS_HEADER.split(",")
        out, seen = [], set()
        for line in lines:
            f = line.split(",")
            if len(f) != 8:
                out.append([("field_count", None)])
                continue
            found = [("empty_required", columns[i]) for i, v in enumerate(f) if v == ""]
            if f[4] and not _int_ok(f[4]):
                found.append(("bad_number", "watch_duration_minutes"))
            if f[5] and not re.fullmatch(r"-?\d+(\.\d+)?", f[5]):
                found.append(("bad_number", "completion_percentage"))
            if f[3] and _date(f[3]) is None:
                found.append(("bad_date", "watch_date"))
            if not found:
                minutes, completion, day = int(f[4]), float(f[5]), _date(f[3])
                if f[0] in seen:
                    found.append(("duplicate_id", "session_id"))
                if f[1] not in self.kept_users:
                    found.append(("unknown_user_id", "user_id"))
                elif day < self.kept_users[f[1]]:
                    found.append(("watch_before_registration", "watch_date"))
                if f[2] not in self.kept_content:
                    found.append(("unknown_content_id", "content_id"))
                if minutes <= 0:
                    found.append(("out_of_range", "watch_duration_minutes"))
                elif f[2] in self.kept_content and minutes > self.kept_content[f[2]]:
                    found.append(("duration_above_length", "watch_duration_minutes"))
                if not 0 <= completion <= 100:
                    found.append(("out_of_range", "completion_percentage"))
                _enum(f[6], set(DEVICES), "device_type", found)
                _enum(f[7], set(QUALITIES), "quality_level", found)
                flagged = {x for _, x in found}
                length = self.kept_content.get(f[2])
                domain = {
                    "session_id": re.fullmatch(r"S\d{6,}", f[0]) is not None,
                    "watch_date": WATCH_FIRST <= f[3] <= WATCH_LAST,
                    "watch_duration_minutes": minutes >= 2,
                    "completion_percentage": 10 <= completion <= 100
                    and re.fullmatch(r"\d+\.\d", f[5]),
                }
                if length and not flagged & {
                    "watch_duration_minutes",
                    "completion_percentage",
                    "content_id",
                }:
                    domain["completion_vs_minutes"] = (
                        abs(completion - 100 * minutes / length) <= 3.1
                    )
                found += [("domain", x) for x, ok in domain.items() if not ok and x not in flagged]
                seen.add(f[0])
            out.append(found)
        return out


def _check_manifest(folder: Path, fraction: float) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    assert list(manifest) == ["seed", "scale", "dirty_fraction", "defects"]
    assert manifest["dirty_fraction"] == fraction
    listed = {}
    for d in manifest["defects"]:
        assert list(d) == [
            "file",
            "line",
            "item_index",
            "section",
            "field",
            "kind",
            "value",
            "expected_stage",
        ]
        assert d["expected_stage"] == STAGE[d["kind"]]
        key = (d["file"], d["line"])
        assert key not in listed, f"two defects on one line: {key}"
        listed[key] = d

    v = Validator(folder)
    found = {}
    content_lines = (folder / "content.json").read_text().split("\n")
    content = json.loads("\n".join(content_lines))
    by_item = {
        (d["section"], d["item_index"]): d
        for d in manifest["defects"]
        if d["file"] == "content.json"
    }
    for (section, index), kinds in v.content().items():
        if kinds:
            d = by_item.get((section, index))
            assert d is not None, f"unlisted defect in content.json {section}[{index}]: {kinds}"
            found[("content.json", d["line"])] = kinds
    for d in by_item.values():  # the listed line is where that very item's object starts
        item = content[d["section"]][d["item_index"]]
        assert content_lines[d["line"] - 1] == "    {"
        assert content_lines[d["line"]] == f'      "content_id": {json.dumps(item["content_id"])},'
        if d["value"] is None:
            assert d["field"] not in item
        else:
            raw = item[d["field"]]
            assert d["value"] == (raw if isinstance(raw, str) else json.dumps(raw))
    for name, rows in (("users.csv", v.users()), ("viewing_sessions.csv", v.sessions())):
        lines = (folder / name).read_text().splitlines()
        header = lines[0].split(",")
        for number, kinds in enumerate(rows, start=2):
            if kinds:
                found[(name, number)] = kinds
            d = listed.get((name, number))
            if d is not None:
                fields = lines[number - 1].split(",")
                if d["kind"] == "field_count":
                    assert d["field"] is None and d["value"] == lines[number - 1]
                else:
                    assert d["value"] == fields[header.index(d["field"])]

    assert set(found) == set(listed), {
        "unlisted": sorted(set(found) - set(listed))[:5],
        "missed": sorted(set(listed) - set(found))[:5],
    }
    for key, kinds in found.items():
        assert [k for k, _ in kinds] == [listed[key]["kind"]], (key, kinds, listed[key])
        if listed[key]["field"] is not None:
            assert kinds[0][1] == listed[key]["field"]
    return manifest


def test_manifest_lists_exactly_the_defects_in_the_files(tmp_path: Path) -> None:
    summary = generate_dataset(tmp_path, scale=0.05, seed=5, dirty_fraction=0.05)
    manifest = _check_manifest(tmp_path, 0.05)
    kinds = [d["kind"] for d in manifest["defects"]]
    assert len(kinds) == summary["defects"]
    # fraction × records, split evenly over the kinds that apply to each file
    per_file = {}
    for d in manifest["defects"]:
        per_file.setdefault(d["file"], {}).setdefault(d["kind"], 0)
        per_file[d["file"]][d["kind"]] += 1
    clean = sizes_for(0.05)
    expected = {  # fraction × clean records / kinds of that file, at least one each
        "users.csv": (7, max(1, round(0.05 * clean.users / 7))),
        "viewing_sessions.csv": (11, max(1, round(0.05 * summary["sessions"] / 11))),
        "content.json": (7, max(1, round(0.05 * (clean.movies + clean.series) / 7))),
    }
    for name, (kinds_in_file, each) in expected.items():
        assert len(per_file[name]) == kinds_in_file and set(per_file[name].values()) == {each}, name
    assert len(per_file["content.json"]) == 7


def test_every_defect_kind_appears_even_at_tiny_scale(tmp_path: Path) -> None:
    generate_dataset(tmp_path, scale=0.01, seed=42, dirty_fraction=0.001)
    manifest = _check_manifest(tmp_path, 0.001)
    kinds = {d["kind"] for d in manifest["defects"]}
    assert kinds == set(STAGE) - {"json_malformed_item"}
    wrong_types = [d for d in manifest["defects"] if d["kind"] == "json_wrong_type"]
    assert any(d["field"] == "genre" for d in wrong_types)  # genre as a plain string


def test_dirty_run_is_the_clean_run_plus_defect_lines(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "clean", scale=0.02, seed=9)
    generate_dataset(tmp_path / "dirty", scale=0.02, seed=9, dirty_fraction=0.03)
    manifest = json.loads((tmp_path / "dirty" / "manifest.json").read_text())
    marked = {(d["file"], d["line"]) for d in manifest["defects"]}

    clean_s = (tmp_path / "clean" / "viewing_sessions.csv").read_text().splitlines()
    dirty_s = (tmp_path / "dirty" / "viewing_sessions.csv").read_text().splitlines()
    assert len(clean_s) == len(dirty_s)  # session defects edit lines in place
    assert all(
        c == d
        for n, (c, d) in enumerate(zip(clean_s, dirty_s), 1)
        if ("viewing_sessions.csv", n) not in marked
    )

    dirty_u = (tmp_path / "dirty" / "users.csv").read_text().splitlines()
    clean_u = (tmp_path / "clean" / "users.csv").read_text().splitlines()
    edited = {
        dirty_u[d["line"] - 1].split(",")[0]
        for d in manifest["defects"]
        if d["file"] == "users.csv" and d["kind"] == "enum_case_whitespace"
    }
    kept = [line for n, line in enumerate(dirty_u, 1) if ("users.csv", n) not in marked]
    assert kept == [line for line in clean_u if line.split(",")[0] not in edited]

    clean_c = json.loads((tmp_path / "clean" / "content.json").read_text())
    dirty_c = json.loads((tmp_path / "dirty" / "content.json").read_text())
    extra = {
        (d["section"], d["item_index"]) for d in manifest["defects"] if d["file"] == "content.json"
    }
    for section in ("movies", "series"):
        kept_items = [it for i, it in enumerate(dirty_c[section]) if (section, i) not in extra]
        assert kept_items == clean_c[section]


def test_dirty_fraction_and_scale_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dirty fraction"):
        generate_dataset(tmp_path, scale=0.01, dirty_fraction=0.9)
    with pytest.raises(ValueError, match="scale"):
        generate_dataset(tmp_path, scale=-1)
    assert not list(tmp_path.iterdir())


# --- command line ----------------------------------------------------------------------------------------


def test_cli_generate_writes_the_files_and_rejects_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "generate",
            "--out",
            str(tmp_path),
            "--scale",
            "0.01",
            "--seed",
            "3",
            "--dirty-fraction",
            "0.01",
        ],
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {*FILES, "manifest.json"}
    result = runner.invoke(app, ["generate", "--out", str(tmp_path), "--scale", "0"])
    assert result.exit_code == 1
    assert "scale must be a positive number" in " ".join(result.output.split())
    # a clean rerun into the same folder drops the stale manifest
    assert (
        runner.invoke(app, ["generate", "--out", str(tmp_path), "--scale", "0.01"]).exit_code == 0
    )
    assert not (tmp_path / "manifest.json").exists()
