"""The server answers health checks openly and GraphQL only with a key."""

from __future__ import annotations

import httpx
from api_client import Api, Keys


async def test_health_is_open_and_graphql_needs_a_key(api: Api, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        health = (await client.get("/healthz")).json()
        assert health["status"] == "ok" and isinstance(health["pid"], int)
        ready = (await client.get("/readyz")).json()
        assert ready == {"ready": True, "database": True, "broker": True}
    denied = await api.post("{ runs { edges { cursor } } }")
    assert denied.status_code == 401
    assert denied.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    data = await api.data("{ runs { edges { cursor } } }", key=keys.read)
    assert data == {"runs": {"edges": []}}
