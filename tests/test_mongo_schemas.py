"""Pure logic of the Mongo store: content hashes, client-side schema checks, chunking; and the age
bands of the test oracle (tests/sql_questions.py) that the documents' dbt-made bands are checked
against."""

from __future__ import annotations

import datetime as dt

import pytest
from sql_questions import age_band

from mongo import compat, documents, schemas
from mongo.publish import DuplicateDocumentId, sync_collection


@pytest.mark.parametrize(
    "age,band",
    [
        (13, "13-17"),
        (17, "13-17"),
        (18, "18-24"),
        (24, "18-24"),
        (25, "25-34"),
        (64, "55-64"),
        (65, "65+"),
        (120, "65+"),
    ],
)
def test_age_band_edges(age: int, band: str) -> None:
    assert age_band(age) == band


def test_age_below_the_youngest_band_is_an_error_naming_the_age() -> None:
    with pytest.raises(ValueError, match="age 12"):
        age_band(12)


def test_content_hash_depends_on_content_not_key_order_or_its_own_field() -> None:
    a = {"_id": "U1", "x": 1, "m": {"b": 2, "a": 1}, "d": dt.datetime(2024, 1, 1)}
    b = {
        "d": dt.datetime(2024, 1, 1),
        "m": {"a": 1, "b": 2},
        "x": 1,
        "_id": "U1",
        "content_hash": "old",
    }
    assert documents.content_hash(a) == documents.content_hash(b)
    assert documents.content_hash(a) != documents.content_hash({**a, "x": 2})
    assert documents.content_hash(a) != documents.content_hash({**a, "d": dt.datetime(2024, 1, 2)})
    assert documents.content_hash(a) != documents.content_hash({**a, "m": {"a": 1, "b": 3}})


def test_metrics_mean_is_null_without_sessions() -> None:
    assert documents.metrics(0, 0, None)["mean_completion_percentage"] is None
    assert documents.metrics(4, 100, 250)["mean_completion_percentage"] == 62.5


def _user(**changes: object) -> dict:
    doc = {
        "_id": "U0001",
        "user_id": "U0001",
        "age": 30,
        "age_band": "25-34",
        "country": "Chile",
        "subscription_type": "Basic",
        "segment": "25-34|Basic|Chile",
        "registration_date": dt.datetime(2023, 1, 2),
        "lifetime_watch_hours": 12.5,
        "session_count": 2,
        "total_watch_minutes": 100,
        "sum_completion_percentage": 150.0,
        "mean_completion_percentage": 75.0,
        "first_watch_date": dt.datetime(2024, 1, 1),
        "last_watch_date": dt.datetime(2024, 2, 1),
        "distinct_content_count": 2,
        "active_month_count": 2,
        "by_device": {"Smart TV": documents.metrics(2, 100, 150.0)},
        "by_quality": {"4K": documents.metrics(2, 100, 150.0)},
        "monthly_activity": {
            "2024-01": documents.metrics(1, 40, 70.0),
            "2024-02": documents.metrics(1, 60, 80.0),
        },
    }
    doc.update(changes)
    return documents.with_hash(doc)


def test_a_well_formed_user_document_passes_the_schema() -> None:
    assert schemas.validation_errors(schemas.USER_ANALYTICS, _user()) == []
    no_sessions = _user(
        session_count=0,
        total_watch_minutes=0,
        sum_completion_percentage=0.0,
        mean_completion_percentage=None,
        first_watch_date=None,
        last_watch_date=None,
        by_device={},
        by_quality={},
        monthly_activity={},
        distinct_content_count=0,
        active_month_count=0,
    )
    assert schemas.validation_errors(schemas.USER_ANALYTICS, no_sessions) == []


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"age": "30"}, "age"),
        ({"age": 7}, "age"),
        ({"age": True}, "age"),
        ({"registration_date": "2023-01-02"}, "registration_date"),
        ({"monthly_activity": {"Jan 2024": documents.metrics(1, 1, 1.0)}}, "monthly_activity"),
        ({"by_device": {"Mobile": {"session_count": 1}}}, "by_device.Mobile"),
        ({"unexpected": 1}, "<document>"),
        ({"mean_completion_percentage": 101.0}, "mean_completion_percentage"),
    ],
)
def test_schema_rejects_a_bad_field_and_names_it(changes: dict, field: str) -> None:
    errors = schemas.validation_errors(schemas.USER_ANALYTICS, _user(**changes))
    assert errors and any(e.startswith(field) for e in errors), errors


def _content(**changes: object) -> dict:
    doc = {
        "_id": "S001",
        "content_id": "S001",
        "content_type": "series",
        "title": "T",
        "genres": ["Drama", "Crime"],
        "rating": 4.1,
        "production_budget": 2**40,
        "views": 10,
        "content_length_minutes": 44,
        "release_year": None,
        "season_count": 3,
        "episode_total": 38,
        "session_count": 2,
        "total_watch_minutes": 100,
        "sum_completion_percentage": 150.0,
        "mean_completion_percentage": 75.0,
        "first_watch_date": dt.datetime(2024, 1, 1),
        "last_watch_date": dt.datetime(2024, 2, 1),
        "viewer_count": 2,
        "by_country": {"Chile": documents.metrics(2, 100, 150.0)},
        "by_device": {},
    }
    doc.update(changes)
    return documents.with_hash(doc)


_BAD_VALUES = (
    None,
    "x",
    "",
    -1,
    0,
    2**31,
    2**63 - 1,
    1.5,
    -0.5,
    101.0,
    True,
    False,
    {},
    [],
    ["x", "x"],
    [1],
    {"k": 1},
    dt.datetime(2024, 1, 1),
    ("a",),
)


def _variants(doc: dict) -> list[dict]:
    """The document, then each field deleted or replaced by each of _BAD_VALUES, an extra field,
    and the same one level down in the first entry of every breakdown map."""
    out = [doc, {**doc, "unexpected": 1}]
    for key, value in doc.items():
        out.append({k: v for k, v in doc.items() if k != key})
        out.extend({**doc, key: bad} for bad in _BAD_VALUES)
        if isinstance(value, dict) and value:
            inner_key, inner = next(iter(value.items()))
            out.append({**doc, key: {**value, "Jan 2024": inner}})
            out.append({**doc, key: {**value, inner_key: {**inner, "extra": 1}}})
            for field in inner:
                out.append(
                    {
                        **doc,
                        key: {**value, inner_key: {k: v for k, v in inner.items() if k != field}},
                    }
                )
                out.extend(
                    {**doc, key: {**value, inner_key: {**inner, field: bad}}} for bad in _BAD_VALUES
                )
    return out


@pytest.mark.parametrize(
    "collection,doc", [(schemas.USER_ANALYTICS, _user()), (schemas.CONTENT_ANALYTICS, _content())]
)
def test_compiled_check_agrees_with_jsonschema_on_valid_and_broken_documents(
    collection: str, doc: dict
) -> None:
    """validate_document trusts the compiled check (schemas.is_valid) for speed; it must give
    jsonschema's verdict on every document, valid or not."""
    variants = _variants(doc)
    verdicts = [
        (schemas.is_valid(collection, d), schemas.validation_errors(collection, d) == [])
        for d in variants
    ]
    assert all(fast == slow for fast, slow in verdicts), [
        (d, v) for d, v in zip(variants, verdicts, strict=True) if v[0] != v[1]
    ][:3]
    assert (
        verdicts[0] == (True, True) and sum(not slow for _, slow in verdicts) > len(variants) // 2
    )


def test_pipeline_results_documents_pass_the_compiled_check() -> None:
    doc = documents.with_hash(
        {
            "_id": "p",
            "source_collection": "user_analytics",
            "description": "q",
            "stage_count": 4,
            "row_count": 1,
            "rows": [{"a": 1}],
        }
    )
    for d in _variants(doc):
        assert schemas.is_valid(schemas.PIPELINE_RESULTS, d) == (
            schemas.validation_errors(schemas.PIPELINE_RESULTS, d) == []
        ), d


def test_missing_required_field_is_reported() -> None:
    doc = _user()
    del doc["subscription_type"]
    with pytest.raises(
        schemas.DocumentInvalid, match=r"user_analytics document _id='U0001'.*'subscription_type'"
    ):
        schemas.validate_document(schemas.USER_ANALYTICS, doc)


def test_int_schema_distinguishes_32_and_64_bit() -> None:
    # production_budget may exceed 2**31 (long); age must be a 32-bit int or long too.
    assert schemas._is_bson_type(2**40, "long") and not schemas._is_bson_type(2**40, "int")
    assert not schemas._is_bson_type(1.0, "int") and not schemas._is_bson_type(True, "long")


def test_sync_refuses_duplicate_ids_before_touching_the_server() -> None:
    class NoServer:
        name = "user_analytics"

        def __getattr__(self, item: str) -> object:
            raise AssertionError(f"the collection was used: {item}")

    docs = [_user(), _user()]
    with pytest.raises(DuplicateDocumentId, match="U0001"):
        sync_collection(NoServer(), docs)  # type: ignore[arg-type]


def test_sync_refuses_an_invalid_document_before_any_write() -> None:
    class ReadOnlyStore:
        name = "user_analytics"

        def find(self, *args: object, **kwargs: object) -> list:
            return []  # nothing stored yet

        def aggregate(self, *args: object, **kwargs: object) -> list:
            return []  # nothing stored yet

        def bulk_write(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("a write was sent although a document is invalid")

    with pytest.raises(schemas.DocumentInvalid, match="U0002"):
        sync_collection(ReadOnlyStore(), [_user(), _user(_id="U0002", user_id="U0002", age="x")])  # type: ignore[arg-type]


def test_chunked_splits_and_rejects_bad_sizes() -> None:
    assert list(compat.chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(compat.chunked([], 3)) == []
    with pytest.raises(ValueError):
        list(compat.chunked([1], 0))


@pytest.mark.parametrize(
    "plan,uses",
    [
        (
            {
                "queryPlanner": {
                    "winningPlan": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN"}}
                }
            },
            True,
        ),
        ({"queryPlanner": {"winningPlan": {"stage": "COLLSCAN"}}}, False),
        (
            {
                "queryPlanner": {
                    "winningPlan": [{"detail": "SEARCH u USING INDEX idx_u_user_id (<expr>=?)"}]
                }
            },
            True,
        ),
        ({"queryPlanner": {"winningPlan": [{"detail": "SCAN u"}]}}, False),
    ],
)
def test_winning_plan_uses_index_reads_both_servers_explain(plan: dict, uses: bool) -> None:
    assert compat.winning_plan_uses_index(plan) is uses


def test_child_rows_are_handed_to_their_parent_and_an_orphan_is_an_error() -> None:
    children = documents._Children("m", iter([("U1", "a"), ("U1", "b"), ("U3", "c")]))
    assert children.pop("U1") == [("a",), ("b",)]
    assert children.pop("U2") == []  # a parent without children
    assert children.pop("U3") == [("c",)]
    children.check_consumed()

    orphan = documents._Children("sync_x", iter([("U9", "a")]))
    assert orphan.pop("U1") == []
    with pytest.raises(documents.OrphanRows, match="sync_x: rows of id 'U9'"):
        orphan.check_consumed()
