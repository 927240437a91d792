"""A literal credential in a spec is refused: a stored spec is shown (specText) to every key that
may read its provider, so a key written into it would be handed to all of them."""

from __future__ import annotations

import pytest
from api_client import Api, Keys, spec_for
from attacks import CANARY

CREATE = """mutation($spec: String!) { createProvider(spec: $spec) {
  __typename ... on SpecInvalid { issues { code path } } } }"""
UPDATE = """mutation($id: ID!, $spec: String!) { updateProvider(id: $id, spec: $spec) {
  __typename ... on SpecInvalid { issues { code path } } } }"""
READ = """{ providers(first: 10) { edges { node { id currentVersion { specText number } } } } }"""

LITERALS = [
    pytest.param(
        {"      auth: bearer\n": f"      auth: bearer\n      headers: {{X-API-Key: {CANARY}}}\n"},
        "provider.endpoints[0].headers.X-API-Key",
        id="header",
    ),
    pytest.param(
        {"        sort: asc\n": f"        sort: asc\n        apiKey: {CANARY}\n"},
        "provider.endpoints[0].query_params.apiKey",
        id="query",
    ),
    pytest.param(
        {"/range/1/day/": f"/range/1/day/?apiKey={CANARY}&x=/"},
        "provider.endpoints[0].path",
        id="path-query",
    ),
    pytest.param(
        {"base_url: https://api.polygon.io": f"base_url: https://ingest:{CANARY}@api.polygon.io"},
        "provider.base_url",
        id="user-info",
    ),
]


@pytest.mark.parametrize(("replace", "path"), LITERALS)
async def test_a_literal_secret_is_refused_and_never_stored(
    api: Api, keys: Keys, replace: dict[str, str], path: str
) -> None:
    text = spec_for(**replace)
    created = (await api.data(CREATE, {"spec": text}, keys.write))["createProvider"]
    assert created["__typename"] == "SpecInvalid"
    assert {"code": "UIS-E081", "path": path} in created["issues"]
    # Nor can a saved provider take one on in a new version.
    saved = (await api.data(CREATE, {"spec": spec_for()}, keys.write))["createProvider"]
    assert saved["__typename"] == "ProviderSaved"
    (edge,) = (await api.data(READ, {}, keys.read))["providers"]["edges"]
    update = {"id": edge["node"]["id"], "spec": text}
    updated = (await api.data(UPDATE, update, keys.write))["updateProvider"]
    assert updated["__typename"] == "SpecInvalid"
    assert {"code": "UIS-E081", "path": path} in updated["issues"]
    after = (await api.data(READ, {}, keys.read))["providers"]["edges"]
    assert after[0]["node"]["currentVersion"]["number"] == 1
    assert CANARY not in str(after)
