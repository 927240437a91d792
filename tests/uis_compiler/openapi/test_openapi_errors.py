"""Every OpenAPI import error: what went wrong, at which JSON pointer, line and column."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from uis_compiler.exceptions import OpenAPIImportError
from uis_compiler.openapi import import_openapi

FIXTURES = Path(__file__).parent / "fixtures"

_HEAD = """\
openapi: 3.0.3
info: {title: Errors, version: "1"}
servers:
  - url: https://api.example.com
"""
# Line 5 on: one GET whose 200 response schema is `#/components/schemas/Thing` (the $ref value
# is on line 14, column 23).
_GET_THING = """\
paths:
  /things:
    get:
      operationId: listThings
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Thing"
components:
  schemas:
"""
_THING = "    Thing: {type: object, properties: {id: {type: string}}}\n"


def _with_ref(ref: str, schemas: str = _THING) -> str:
    return _HEAD + _GET_THING.replace("#/components/schemas/Thing", ref) + schemas


CASES: list[tuple[str, str | bytes, list[str]]] = [
    (
        "yaml syntax",
        "openapi: 3.0.3\npaths: [\n",
        ["cannot be parsed", "line 3, column 1"],
    ),
    (
        "not a mapping",
        "- openapi\n- paths\n",
        ["cannot be parsed", "line 1, column 1", "not a mapping"],
    ),
    ("empty", "", ["cannot be parsed", "empty"]),
    ("not utf-8", b"openapi: 3.0.3\ninfo: \xff\n", ["not UTF-8", "line 2"]),
    (
        "swagger 2.0",
        (FIXTURES / "swagger2.yaml").read_text(encoding="utf-8"),
        ["line 1, column 10 (#/swagger)", "Swagger 2.0", "swagger2openapi"],
    ),
    (
        "no openapi field",
        "info: {title: x, version: '1'}\npaths: {}\n",
        ["line 1, column 1 (#)", "not an OpenAPI document"],
    ),
    (
        "openapi 4",
        "openapi: 4.0.0\ninfo: {title: x}\n",
        ["line 1, column 10 (#/openapi)", "`openapi: 4.0.0` is not a 3.x version"],
    ),
    (
        "dangling ref",
        _with_ref("#/components/schemas/Thng"),
        [
            "line 15, column 23",
            "(#/paths/~1things/get/responses/200/content/application~1json/schema/$ref)",
            "points to nothing",
            "did you mean `Thing`?",
        ],
    ),
    (
        "external ref",
        _with_ref("models.yaml#/Thing"),
        ["line 15, column 23", "refers to another document", "bundle"],
    ),
    (
        "anchor ref",
        _with_ref("#thing"),
        ["line 15, column 23", "names an anchor, not a JSON pointer"],
    ),
    (
        "ref cycle",
        _with_ref(
            "#/components/schemas/A",
            "    A:\n      $ref: '#/components/schemas/B'\n    B:\n      $ref: '#/components/schemas/A'\n",
        ),
        [
            "line 21, column 13 (#/components/schemas/B/$ref)",
            "circular $ref: #/components/schemas/A → #/components/schemas/B → "
            "#/components/schemas/A",
        ],
    ),
    (
        "allOf cycle",
        _with_ref(
            "#/components/schemas/A",
            "    A:\n      allOf:\n        - $ref: '#/components/schemas/A'\n",
        ),
        ["line 20, column 17 (#/components/schemas/A/allOf/0/$ref)", "circular $ref"],
    ),
    (
        "parameter ref cycle",
        _HEAD
        + _GET_THING.replace(
            "      responses:",
            "      parameters:\n        - $ref: '#/components/parameters/P'\n      responses:",
        )
        + _THING
        + "  parameters:\n    P:\n      $ref: '#/components/parameters/P'\n",
        ["(#/components/parameters/P/$ref)", "line 23, column 13", "circular $ref"],
    ),
    (
        "no servers",
        _with_ref("#/components/schemas/Thing").replace(
            "servers:\n  - url: https://api.example.com\n", ""
        ),
        ["line 1, column 1 (#)", "no `servers`", "add `servers:"],
    ),
    (
        "relative server",
        _with_ref("#/components/schemas/Thing").replace("https://api.example.com", "/api/v3"),
        [
            "line 4, column 10 (#/servers/0/url)",
            "`/api/v3` is relative",
            "https://api.example.com/api/v3",
        ],
    ),
    (
        "server variable without default",
        _with_ref("#/components/schemas/Thing").replace(
            "https://api.example.com", "'https://{region}.example.com'"
        ),
        ["line 4, column 10", "`{region}`", "has no default"],
    ),
    (
        "non-http server",
        _with_ref("#/components/schemas/Thing").replace("https://", "ftp://"),
        ["line 4, column 10", "is not an http(s) URL"],
    ),
    (
        "no json get",
        _with_ref("#/components/schemas/Thing").replace("application/json", "text/csv"),
        ["line 6, column 3 (#/paths)", "no GET operation returns JSON", "GET /things"],
    ),
    (
        "undefined security scheme",
        _with_ref("#/components/schemas/Thing").replace(
            "      responses:", "      security:\n        - Bearer: []\n      responses:"
        ),
        ["line 10, column 11 (#/paths/~1things/get/security/0/Bearer)", "does not define"],
    ),
]


@pytest.mark.parametrize(("source", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_import_error_says_what_and_where(source: str | bytes, fragments: list[str]) -> None:
    with pytest.raises(OpenAPIImportError) as caught:
        import_openapi(source)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    ("include", "fragments"),
    [
        (["listThing"], ["line 6, column 3 (#/paths)", "`listThing`, which matches no operation"]),
        (["DELETE /things"], ["line 8, column 7 (#/paths/~1things/delete)", "only GET and POST"]),
        (["POST /things"], ["(#/paths/~1things/post/responses)", "no 2xx application/json"]),
    ],
)
def test_include_errors(include: list[str], fragments: list[str]) -> None:
    text = _with_ref("#/components/schemas/Thing").replace(
        "  /things:\n",
        "  /things:\n"
        "    delete:\n"
        "      responses: {'204': {description: gone}}\n"
        "    post:\n"
        "      responses: {'201': {description: made}}\n",
    )
    with pytest.raises(OpenAPIImportError) as caught:
        import_openapi(text, include=include)
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_long_ref_chain_is_refused() -> None:
    chain = "".join(f"    S{i}:\n      $ref: '#/components/schemas/S{i + 1}'\n" for i in range(100))
    with pytest.raises(OpenAPIImportError, match="too deeply"):
        import_openapi(_with_ref("#/components/schemas/S0", chain + "    S100: {}\n"))


def test_shared_components_resolve_once() -> None:
    # Each schema is allOf twice the next: 2**40 merges unless resolved components are reused.
    layers = "".join(
        f"    S{i}:\n      allOf:\n        - $ref: '#/components/schemas/S{i + 1}'\n"
        f"        - $ref: '#/components/schemas/S{i + 1}'\n"
        f"        - properties: {{p{i}: {{type: string}}}}\n"
        for i in range(40)
    )
    started = time.perf_counter()
    out = import_openapi(_with_ref("#/components/schemas/S0", layers + "    S40: {}\n"))
    assert time.perf_counter() - started < 5
    assert "p39: p39" in out


def test_oversized_composition_is_refused_with_its_place() -> None:
    members = "".join("        - {}\n" for _ in range(25_000))
    schemas = f"    Wide:\n      allOf:\n{members}"
    with pytest.raises(OpenAPIImportError) as caught:
        import_openapi(_with_ref("#/components/schemas/Wide", schemas))
    message = str(caught.value)
    assert "too deeply or too many times" in message
    assert "line 15, column 17" in message
