"""The GraphQL SDL is committed (api/schema.graphql); a drift fails here."""

from __future__ import annotations

from pathlib import Path

from api.config import ApiConfig
from api.schema import build_schema

SDL = Path(__file__).resolve().parents[2] / "api" / "schema.graphql"


def test_sdl_is_current() -> None:
    current = build_schema(ApiConfig(database_url="postgres://unused@127.0.0.1/x")).as_str() + "\n"
    assert SDL.read_text() == current, "regenerate with: headwater api-schema > api/schema.graphql"
