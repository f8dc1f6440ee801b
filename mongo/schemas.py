"""Collections of the analytics store, the shape of their documents, and their validators.

Each collection's ``$jsonSchema`` below *is* its documentation: every field carries a
description. The same schema is given to the server (``create_collection(validator=...)``)
and checked client-side before publishing, because the embedded nx-27017 stores validators
but does not enforce them (docs/mongo.md, "Known gaps").

Design choices that the pipelines rely on:
- Field names are the dbt core's and marts' (``subscription_type``, ``session_count``,
  ``total_watch_minutes``, ``mean_completion_percentage``, ...): one name for one idea.
- Measures are stored additively (``session_count``, ``total_watch_minutes``,
  ``sum_completion_percentage``) so any roll-up computes an exact session-weighted mean;
  ``mean_completion_percentage`` is there for readers of a single document.
- Breakdowns are *maps keyed by the dimension value* (``by_device: {"Smart TV": {...}}``),
  never arrays of subdocuments: nx-27017 silently answers wrong on paths through arrays of
  subdocuments, while ``$objectToArray`` over a map works on both servers.
- Dates are BSON dates at midnight UTC (the source has no time of day); months are
  ``YYYY-MM`` strings used as map keys.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import jsonschema
import jsonschema._utils
from jsonschema import Draft4Validator

USER_ANALYTICS = "user_analytics"
CONTENT_ANALYTICS = "content_analytics"
PIPELINE_RESULTS = "pipeline_results"

# $jsonSchema building blocks ------------------------------------------------------------

_STR = {"bsonType": "string"}
_INT = {"bsonType": ["int", "long"]}
_NUM = {"bsonType": ["double", "int", "long"]}
_DATE = {"bsonType": "date"}


def _f(base: Mapping[str, Any], description: str, *, nullable: bool = False, **extra: Any) -> dict:
    """One field's schema: its BSON type(s), a description, optional constraints."""
    types = base["bsonType"]
    types = list(types) if isinstance(types, list) else [types]
    if nullable:
        types.append("null")
    return {"bsonType": types if len(types) > 1 else types[0], "description": description, **extra}


def _metrics(what: str) -> dict:
    """Additive viewing measures of one slice (a device, a month, a country, ...)."""
    return {
        "bsonType": "object",
        "description": f"viewing measures of {what}",
        "required": [
            "session_count",
            "total_watch_minutes",
            "sum_completion_percentage",
            "mean_completion_percentage",
        ],
        "additionalProperties": False,
        "properties": {
            "session_count": _f(_INT, "number of viewing sessions", minimum=1),
            "total_watch_minutes": _f(_INT, "sum of watch_minutes", minimum=0),
            "sum_completion_percentage": _f(
                _NUM, "sum of completion_percentage (exact weighted means)", minimum=0
            ),
            "mean_completion_percentage": _f(
                _NUM, "sum_completion_percentage / session_count", minimum=0, maximum=100
            ),
        },
    }


def _map_of_metrics(keyed_by: str, key_pattern: str | None = None) -> dict:
    slice_schema = _metrics(f"one {keyed_by}")
    schema: dict[str, Any] = {"bsonType": "object", "description": f"measures keyed by {keyed_by}"}
    if key_pattern:
        schema["patternProperties"] = {key_pattern: slice_schema}
        schema["additionalProperties"] = False
    else:
        schema["additionalProperties"] = slice_schema
    return schema


def _document(required: list[str], properties: dict[str, Any], description: str) -> dict:
    return {
        "$jsonSchema": {
            "bsonType": "object",
            "description": description,
            "required": required,
            "additionalProperties": False,
            "properties": properties,
        }
    }


_ENGAGEMENT = {
    "session_count": _f(_INT, "viewing sessions in the log (0 for no sessions)", minimum=0),
    "total_watch_minutes": _f(_INT, "sum of watch_minutes over the sessions", minimum=0),
    "sum_completion_percentage": _f(
        _NUM, "sum of completion_percentage over the sessions", minimum=0
    ),
    "mean_completion_percentage": _f(
        _NUM,
        "mean completion_percentage; null without sessions",
        nullable=True,
        minimum=0,
        maximum=100,
    ),
    "first_watch_date": _f(_DATE, "earliest watch_date; null without sessions", nullable=True),
    "last_watch_date": _f(_DATE, "latest watch_date; null without sessions", nullable=True),
}

USER_ANALYTICS_SCHEMA = _document(
    required=[
        "_id",
        "user_id",
        "age",
        "age_band",
        "country",
        "subscription_type",
        "segment",
        "registration_date",
        "lifetime_watch_hours",
        *_ENGAGEMENT,
        "distinct_content_count",
        "active_month_count",
        "by_device",
        "by_quality",
        "monthly_activity",
        "content_hash",
    ],
    description="one document per valid user (dbt model sync_mongo_users): demographics, plan and viewing engagement",
    properties={
        "_id": _f(_STR, "the user_id (documents are keyed on it)"),
        "user_id": _f(_STR, "platform user id, e.g. U0001"),
        "age": _f(_INT, "age in years", minimum=13, maximum=120),
        "age_band": _f(_STR, "age band, e.g. 25-34 (dbt macro age_band, as in rpt_user_analytics)"),
        "country": _f(_STR, "country of the account"),
        "subscription_type": _f(_STR, "plan: Basic, Standard or Premium"),
        "segment": _f(
            _STR,
            "age_band|subscription_type|country, e.g. 25-34|Basic|Chile: the group key of "
            "pipelines.engagement_by_demographics, stored so the server groups on one field",
        ),
        "registration_date": _f(_DATE, "date the account was registered"),
        "lifetime_watch_hours": _f(
            _NUM, "lifetime watch hours from the account system (not the log)", minimum=0
        ),
        **_ENGAGEMENT,
        "distinct_content_count": _f(_INT, "distinct titles watched", minimum=0),
        "active_month_count": _f(_INT, "calendar months with at least one session", minimum=0),
        "by_device": _map_of_metrics("device_type (e.g. 'Smart TV')"),
        "by_quality": _map_of_metrics("quality_level (SD, HD, 4K)"),
        "monthly_activity": _map_of_metrics("activity month, YYYY-MM", "^[0-9]{4}-[0-9]{2}$"),
        "content_hash": _f(_STR, "sha256 of the document's other fields: unchanged hash, no write"),
    },
)

CONTENT_ANALYTICS_SCHEMA = _document(
    required=[
        "_id",
        "content_id",
        "content_type",
        "title",
        "genres",
        "rating",
        "production_budget",
        "views",
        "content_length_minutes",
        "release_year",
        "season_count",
        "episode_total",
        *_ENGAGEMENT,
        "viewer_count",
        "by_country",
        "by_device",
        "content_hash",
    ],
    description="one document per valid title (dbt model sync_mongo_titles), movie or series: metadata and performance",
    properties={
        "_id": _f(_STR, "the content_id (documents are keyed on it)"),
        "content_id": _f(_STR, "content id: M### for movies, S### for series"),
        "content_type": _f(_STR, "movie or series", enum=["movie", "series"]),
        "title": _f(_STR, "title (not unique across the catalogue)"),
        "genres": {
            "bsonType": "array",
            "description": "genres, in catalogue order (1-3, distinct)",
            "minItems": 1,
            "uniqueItems": True,
            "items": _STR,
        },
        "rating": _f(_NUM, "catalogue rating 1.0-5.0", minimum=1, maximum=5),
        "production_budget": _f(_INT, "production budget, USD", minimum=0),
        "views": _f(
            _INT, "catalogue view counter from the export (views_count / total_views)", minimum=0
        ),
        "content_length_minutes": _f(
            _INT, "movie running time, or a series' average episode length"
        ),
        "release_year": _f(_INT, "movies: release year; series: null", nullable=True),
        "season_count": _f(_INT, "series: number of seasons; movies: null", nullable=True),
        "episode_total": _f(_INT, "series: episodes over all seasons; movies: null", nullable=True),
        **_ENGAGEMENT,
        "viewer_count": _f(_INT, "distinct users with a session of this title", minimum=0),
        "by_country": _map_of_metrics("viewer's country"),
        "by_device": _map_of_metrics("device_type"),
        "content_hash": _f(_STR, "sha256 of the document's other fields"),
    },
)

PIPELINE_RESULTS_SCHEMA = _document(
    required=[
        "_id",
        "source_collection",
        "description",
        "stage_count",
        "row_count",
        "rows",
        "content_hash",
    ],
    description="latest result of each aggregation pipeline, for the report",
    properties={
        "_id": _f(_STR, "pipeline name, e.g. engagement_by_demographics"),
        "source_collection": _f(_STR, "collection the pipeline aggregates"),
        "description": _f(_STR, "the question the pipeline answers"),
        "stage_count": _f(_INT, "number of stages in the pipeline", minimum=3),
        "row_count": _f(_INT, "len(rows)", minimum=0),
        "rows": {
            "bsonType": "array",
            "description": "result rows, in pipeline order",
            "items": {"bsonType": "object"},
        },
        "content_hash": _f(_STR, "sha256 of the other fields"),
    },
)

VALIDATORS: dict[str, dict] = {
    USER_ANALYTICS: USER_ANALYTICS_SCHEMA,
    CONTENT_ANALYTICS: CONTENT_ANALYTICS_SCHEMA,
    PIPELINE_RESULTS: PIPELINE_RESULTS_SCHEMA,
}

# Client-side validation --------------------------------------------------------------------

_BSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "long": (int,),
    "double": (float,),
    "bool": (bool,),
    "date": (dt.datetime,),
    "object": (dict,),
    "array": (list, tuple),
    "null": (type(None),),
}


def _is_bson_type(value: Any, name: str) -> bool:
    if name in ("int", "long", "double") and isinstance(value, bool):
        return False  # bool is an int subclass in Python, not in BSON
    if name == "int" and isinstance(value, int) and not -(2**31) <= value < 2**31:
        return False
    return isinstance(value, _BSON_TYPES[name])


def _bson_type(validator: Any, types: Any, instance: Any, schema: Any):
    names = types if isinstance(types, list) else [types]
    if not any(_is_bson_type(instance, n) for n in names):
        yield jsonschema.ValidationError(f"{instance!r} is not of BSON type {' or '.join(names)}")


# MongoDB's $jsonSchema is draft 4 plus the bsonType keyword.
_MongoValidator = jsonschema.validators.extend(
    Draft4Validator,
    validators={"bsonType": _bson_type},
    type_checker=Draft4Validator.TYPE_CHECKER.redefine(
        "object", lambda _checker, value: isinstance(value, dict)
    ),
)


@cache
def _validator(collection: str) -> Any:
    return _MongoValidator(VALIDATORS[collection]["$jsonSchema"])


class DocumentInvalid(ValueError):
    """A document breaks its collection's schema; the message names the document and field."""


def validation_errors(collection: str, document: Mapping[str, Any]) -> list[str]:
    """Every way ``document`` breaks ``collection``'s ``$jsonSchema`` (empty list: valid)."""
    errors = sorted(
        _validator(collection).iter_errors(document), key=lambda e: list(e.absolute_path)
    )
    return [f"{'.'.join(map(str, e.absolute_path)) or '<document>'}: {e.message}" for e in errors]


# A compiled check for the same schemas: jsonschema walks a document through its generic
# machinery at ~0.5 ms per user document, which was most of a first publish's client time.
# ``is_valid`` answers only yes/no; a "no" is explained by ``validation_errors`` (jsonschema),
# and tests/test_mongo_schemas.py holds both to the same verdict on valid and broken documents.

Check = Callable[[Any], bool]

_HANDLED = {
    "bsonType",
    "description",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "minimum",
    "maximum",
    "enum",
    "items",
    "minItems",
    "uniqueItems",
}

# One Python expression per BSON type, equal to _is_bson_type (bool is no number; int is 32-bit).
_TYPE_TESTS = {
    "string": "isinstance({v}, str)",
    "int": "(isinstance({v}, int) and not isinstance({v}, bool) and -2147483648 <= {v} < 2147483648)",
    "long": "(isinstance({v}, int) and not isinstance({v}, bool))",
    "double": "isinstance({v}, float)",
    "bool": "isinstance({v}, bool)",
    "date": "isinstance({v}, _datetime)",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, (list, tuple))",
    "null": "{v} is None",
}


class _Compiler:
    """Turns a $jsonSchema into the source of one Python function (like fastjsonschema does
    for plain JSON Schema): every keyword becomes an inline test, no per-node calls."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any) -> str:
        key = self.name("_c")
        self.constants[key] = value
        return key

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def node(self, schema: Mapping[str, Any], v: str, indent: int) -> None:
        unknown = set(schema) - _HANDLED
        if unknown:  # never skip a keyword silently: teach the compiler first
            raise NotImplementedError(f"schema keyword(s) not compiled: {sorted(unknown)}")
        if "bsonType" in schema:
            names = (
                schema["bsonType"] if isinstance(schema["bsonType"], list) else [schema["bsonType"]]
            )
            test = " or ".join(_TYPE_TESTS[n].format(v=v) for n in names)
            self.emit(indent, f"if not ({test}): return False")
        if "enum" in schema:
            self.emit(
                indent,
                f"if not any(_equal({v}, a) for a in {self.const(list(schema['enum']))}): return False",
            )
        number = f"(isinstance({v}, (int, float)) and not isinstance({v}, bool))"
        if "minimum" in schema:
            self.emit(
                indent, f"if {number} and not {v} >= {self.const(schema['minimum'])}: return False"
            )
        if "maximum" in schema:
            self.emit(
                indent, f"if {number} and not {v} <= {self.const(schema['maximum'])}: return False"
            )
        if {"required", "properties", "patternProperties", "additionalProperties"} & set(schema):
            self.emit(indent, f"if isinstance({v}, dict):")
            self.object(schema, v, indent + 1)
        if {"items", "minItems", "uniqueItems"} & set(schema):
            self.emit(indent, f"if isinstance({v}, list):")
            if schema.get("minItems", 0):
                self.emit(indent + 1, f"if len({v}) < {int(schema['minItems'])}: return False")
            if schema.get("uniqueItems", False):
                self.emit(indent + 1, f"if not _uniq({v}): return False")
            if "items" in schema:
                item = self.name("_i")
                self.emit(indent + 1, f"for {item} in {v}:")
                self.node(schema["items"], item, indent + 2)
        self.emit(indent, "pass")

    def object(self, schema: Mapping[str, Any], v: str, indent: int) -> None:
        for key in schema.get("required", ()):
            self.emit(indent, f"if {key!r} not in {v}: return False")
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            value = self.name("_p")
            self.emit(indent, f"if {key!r} in {v}:")
            self.emit(indent + 1, f"{value} = {v}[{key!r}]")
            self.node(sub, value, indent + 1)
        patterns = schema.get("patternProperties", {})
        extra = schema.get("additionalProperties", True)
        if not patterns and extra is True:
            return
        key, value, matched = self.name("_k"), self.name("_x"), self.name("_m")
        self.emit(indent, f"for {key}, {value} in {v}.items():")
        self.emit(indent + 1, f"{matched} = {key} in {self.const(frozenset(properties))}")
        for pattern, sub in patterns.items():
            self.emit(indent + 1, f"if {self.const(re.compile(pattern))}.search({key}):")
            self.emit(indent + 2, f"{matched} = True")
            self.node(sub, value, indent + 2)
        if extra is False:
            self.emit(indent + 1, f"if not {matched}: return False")
        elif extra is not True:
            self.emit(indent + 1, f"if not {matched}:")
            self.node(extra, value, indent + 2)


def _compile(schema: Mapping[str, Any]) -> Check:
    compiler = _Compiler()
    compiler.node(schema, "doc", 1)
    source = "def check(doc):\n" + "\n".join(compiler.lines) + "\n    return True\n"
    namespace: dict[str, Any] = {
        "_datetime": dt.datetime,
        "_equal": jsonschema._utils.equal,
        "_uniq": jsonschema._utils.uniq,
        **compiler.constants,
    }
    exec(compile(source, "<compiled $jsonSchema>", "exec"), namespace)  # noqa: S102 - our own schema
    return namespace["check"]


@cache
def _checker(collection: str) -> Check:
    return _compile(VALIDATORS[collection]["$jsonSchema"])


def is_valid(collection: str, document: Mapping[str, Any]) -> bool:
    """Whether ``document`` satisfies ``collection``'s ``$jsonSchema`` (the compiled check)."""
    return _checker(collection)(document)


def validate_document(collection: str, document: Mapping[str, Any]) -> None:
    """Raise DocumentInvalid naming collection, _id, field and value if the document is invalid."""
    if is_valid(collection, document):
        return
    errors = validation_errors(collection, document) or [
        "<document>: rejected by the compiled schema check (jsonschema finds no error: a bug)"
    ]
    if errors:
        raise DocumentInvalid(
            f"{collection} document _id={document.get('_id')!r} breaks the collection schema: "
            + "; ".join(errors[:5])
            + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")
        )
