"""Inference rules on small inline descriptions: names, servers, auth, envelopes, paging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uis_compiler import validate
from uis_compiler.exceptions import OpenAPIImportError
from uis_compiler.openapi import import_openapi
from uis_compiler.openapi.naming import snake_case, variable_name

FIXTURES = Path(__file__).parent / "fixtures"


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _get(schema: dict[str, Any], **operation: Any) -> dict[str, Any]:
    return {"get": {"responses": _ok(schema), **operation}}


def _api(paths: dict[str, Any], components: dict[str, Any] | None = None, **top: Any) -> str:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Inline", "version": "1"},
        "servers": [{"url": "https://api.example.com/v1/"}],
        **top,
        "paths": paths,
    }
    if components is not None:
        doc["components"] = components
    return json.dumps(doc)


def _spec(text: str, **options: Any) -> dict[str, Any]:
    out = import_openapi(text, **options)
    assert validate(out).valid, validate(out).issues
    loaded = yaml.safe_load(out)
    assert isinstance(loaded, dict)
    return loaded


def _only(text: str) -> dict[str, Any]:
    endpoints = _spec(text)["provider"]["endpoints"]
    assert len(endpoints) == 1
    endpoint: dict[str, Any] = endpoints[0]
    return endpoint


_ROW = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}


def _list_of_rows(**extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": _ROW}, **extra}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("listPets", "list_pets"),
        ("getHTTPStatusCode", "get_http_status_code"),
        ("Pokémon API", "pokemon_api"),
        ("v2.accounts-list", "v2_accounts_list"),
        ("2fa devices", "_2fa_devices"),
        ("***", "fallback"),
    ],
)
def test_snake_case(text: str, expected: str) -> None:
    assert snake_case(text, "fallback") == expected


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [("userId", "userId"), ("per-page", "per-page"), ("user.id", "user_id"),
     ("username", "username_param"), ("run_id", "run_id_param")],
)  # fmt: skip
def test_variable_names_avoid_reserved_template_names(parameter: str, expected: str) -> None:
    assert variable_name(parameter) == expected


def test_duplicate_names_get_suffixes_and_reserved_path_params_are_renamed() -> None:
    text = _api(
        {
            "/users/{username}/pets": _get(_ROW, operationId="listPets"),
            "/pets": _get(_ROW, operationId="list_pets"),
        }
    )
    endpoints = _spec(text)["provider"]["endpoints"]
    assert [e["name"] for e in endpoints] == ["list_pets", "list_pets_2"]
    # `{{ username }}` would name a key of the credentials secret, refused in a path.
    assert endpoints[0]["path"] == "/users/{{ username_param }}/pets"


def test_operation_servers_below_the_base_keep_their_prefix_others_are_left_out() -> None:
    text = _api(
        {
            "/a": _get(_ROW),
            "/b": {**_get(_ROW), "servers": [{"url": "https://api.example.com/v1/admin"}]},
            "/c": {**_get(_ROW), "servers": [{"url": "https://files.example.com"}]},
        }
    )
    spec = _spec(text)
    assert spec["provider"]["base_url"] == "https://api.example.com/v1"
    assert [e["path"] for e in spec["provider"]["endpoints"]] == ["/a", "/admin/b"]


def test_base_url_derived_from_operation_servers() -> None:
    doc = json.loads(_api({"/a": {"get": {"responses": _ok(_ROW)}}}))
    del doc["servers"]
    doc["paths"]["/a"]["get"]["servers"] = [{"url": "https://eu.example.com"}]
    assert _spec(json.dumps(doc))["provider"]["base_url"] == "https://eu.example.com"


def test_key_like_parameter_without_security_becomes_api_key_auth() -> None:
    key = {"name": "apiKey", "in": "query", "required": True, "schema": {"type": "string"}}
    spec = _spec(_api({"/a": _get(_ROW, parameters=[key])}, title="x"))
    endpoint = spec["provider"]["endpoints"][0]
    assert endpoint["auth"] == "api_key"
    assert endpoint["auth_config"] == {"location": "query", "param_name": "apiKey"}
    assert "query_params" not in endpoint
    assert spec["provider"]["credentials_ref"] == "env:HEADWATER_SECRET_INLINE_CREDENTIALS"


def test_authorization_header_parameter_means_bearer() -> None:
    header = {"name": "Authorization", "in": "header", "required": True}
    assert _only(_api({"/a": _get(_ROW, parameters=[header])}))["auth"] == "bearer"


def test_basic_auth_and_first_usable_alternative() -> None:
    components = {
        "securitySchemes": {
            "cookie": {"type": "apiKey", "in": "cookie", "name": "sid"},
            "basic": {"type": "http", "scheme": "basic"},
        }
    }
    text = _api({"/a": _get(_ROW)}, components, security=[{"cookie": []}, {"basic": []}])
    endpoint = _only(text)
    assert endpoint["auth"] == "basic"
    assert "auth_config" not in endpoint


def test_subtypes_that_include_their_parent_do_not_loop() -> None:
    components = {
        "schemas": {
            "Pet": {
                "type": "object",
                "properties": {"id": {"type": "string"}},
                "oneOf": [{"$ref": "#/components/schemas/Cat"}],
            },
            "Cat": {
                "allOf": [
                    {"$ref": "#/components/schemas/Pet"},
                    {"properties": {"purrs": {"type": "boolean"}}},
                ]
            },
        }
    }
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}
    endpoint = _only(_api({"/pets": _get(schema)}, components))
    assert endpoint["field_mapping"] == {"id": "id", "purrs": "purrs"}


def test_nullable_reference_in_31_style() -> None:
    components = {"schemas": {"When": {"type": "string", "format": "date-time"}}}
    row = {
        "type": "object",
        "required": ["at"],
        "properties": {"at": {"anyOf": [{"$ref": "#/components/schemas/When"}, {"type": "null"}]}},
    }
    spec = _spec(_api({"/a": _get({"type": "array", "items": row})}, components))
    contract = spec["provider"]["schema_contract"]
    assert contract["properties"]["at"] == {"type": ["string", "null"], "format": "date-time"}
    # A nullable column cannot be required to be non-null.
    assert "required" not in contract


@pytest.mark.parametrize(
    ("schema", "route", "path"),
    [
        (_list_of_rows(), "/rows", "$.items"),
        # JSON:API: `data` is preferred over other arrays of objects.
        (
            {
                "type": "object",
                "properties": {
                    "included": {"type": "array", "items": _ROW},
                    "data": {"type": "array", "items": _ROW},
                },
            },
            "/rows",
            "$.data",
        ),
        # Two arrays, neither a usual records name: the object itself is the record.
        (
            {
                "type": "object",
                "properties": {
                    "owners": {"type": "array", "items": _ROW},
                    "admins": {"type": "array", "items": _ROW},
                },
            },
            "/rows",
            "$",
        ),
        # A resource fetched by id that holds a list is still one record.
        (
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "lines": {"type": "array", "items": _ROW},
                },
            },
            "/orders/{id}",
            "$",
        ),
        ({"type": "array", "items": {"type": "string"}}, "/rows", "$"),
        (
            {"type": "object", "properties": {"odd key": {"type": "array", "items": _ROW}}},
            "/rows",
            "$['odd key']",
        ),
    ],
)
def test_response_path(schema: dict[str, Any], route: str, path: str) -> None:
    assert _only(_api({route: _get(schema)}))["response_path"] == path


@pytest.mark.parametrize(
    ("params", "extra", "config"),
    [
        (
            ["cursor"],
            {
                "response_metadata": {
                    "type": "object",
                    "properties": {"next_cursor": {"type": "string"}},
                }
            },
            {"cursor_path": "$.response_metadata.next_cursor", "cursor_param": "cursor"},
        ),
        (
            [],
            {
                "_links": {
                    "type": "object",
                    "properties": {
                        "next": {"type": "object", "properties": {"href": {"type": "string"}}}
                    },
                }
            },
            {"next_url_path": "$._links.next.href"},
        ),
        (
            ["after"],
            {
                "paging": {
                    "type": "object",
                    "properties": {
                        "cursors": {"type": "object", "properties": {"after": {"type": "string"}}}
                    },
                }
            },
            {"cursor_path": "$.paging.cursors.after", "cursor_param": "after"},
        ),
        ([], {"next": {"type": "string", "format": "uri"}}, {"next_url_path": "$.next"}),
        # A bare `next` string without a URL format and no cursor parameter: no paging.
        ([], {"next": {"type": "string"}}, None),
        (["offset"], {}, None),
    ],
)
def test_cursor_inference(
    params: list[str], extra: dict[str, Any], config: dict[str, Any] | None
) -> None:
    parameters = [{"name": p, "in": "query", "schema": {"type": "string"}} for p in params]
    endpoint = _only(_api({"/rows": _get(_list_of_rows(**extra), parameters=parameters)}))
    assert endpoint.get("pagination_config") == config
    assert endpoint["pagination"] == ("cursor" if config else "none")


def test_column_names_stay_unique_and_unmappable_keys_are_skipped() -> None:
    row = {
        "type": "object",
        "properties": {
            "userId": {"type": "integer"},
            "user_id": {"type": "integer"},
            "a.b": {"type": "string"},
            "{{x}}": {"type": "string"},
            "Ünïcode Name": {"type": "string"},
        },
    }
    endpoint = _only(_api({"/a": _get({"type": "array", "items": row})}))
    assert endpoint["field_mapping"] == {
        "user_id": "userId",
        "user_id_2": "user_id",
        "unicode_name": "Ünïcode Name",
    }


def test_control_characters_in_the_title_stay_out_of_the_header() -> None:
    doc = json.loads(_api({"/a": _get(_ROW)}))
    doc["info"] = {"title": "Bad\u0007 Title\u2028# next", "version": "1\u0000"}
    out = import_openapi(json.dumps(doc))
    assert out.splitlines()[0].startswith(
        '# Generated by the Headwater OpenAPI importer from "Bad Title # next" version 1 '
    )
    assert validate(out).valid


def test_a_plain_string_include_means_one_entry() -> None:
    text = _api({"/a": _get(_ROW, operationId="a"), "/b": _get(_ROW, operationId="b")})
    spec = _spec(text, include="b")
    assert [e["name"] for e in spec["provider"]["endpoints"]] == ["b"]


def _mutations() -> st.SearchStrategy[str]:
    texts = [
        (FIXTURES / name).read_text(encoding="utf-8")
        for name in sorted(p.name for p in FIXTURES.iterdir())
    ]

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        text = draw(st.sampled_from(texts))
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(text)))
            if draw(st.booleans()):
                text = text[:at] + text[at + draw(st.integers(1, 60)) :]
            else:
                bit = draw(st.sampled_from(["$ref: '#/x'\n", "{", "\n  - ", ": ", "null", "'"]))
                text = text[:at] + bit + text[at:]
        return text

    return mutated()


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_mutations())
def test_damaged_descriptions_import_validly_or_fail_with_a_position(text: str) -> None:
    message = ""
    try:
        out = import_openapi(text)
    except OpenAPIImportError as exc:
        message, out = str(exc), ""
    if message:
        assert "line " in message
    else:
        assert validate(out).errors == ()
