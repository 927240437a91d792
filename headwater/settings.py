"""Every setting of the platform, from environment variables with the HEADWATER_ prefix.

This is the one settings module: the components receive plain config objects built from it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.config import ApiConfig
from uis_compiler.compilers.options import CatalogOptions, CompileOptions

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """HEADWATER_DATABASE_URL, HEADWATER_API_PORT, … (see README "Settings")."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_", extra="ignore")

    var_dir: Path = Field(ROOT / "var", description="Local state: database files, warehouse.")
    pg_port: int = 54329
    database_url: str = ""
    catalog_database: str = "headwater_catalog"
    warehouse: str = ""
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    graphiql: bool = True
    introspection: bool = True
    cors_origins: list[str] = ["http://127.0.0.1:3000", "http://localhost:3000"]
    max_body_bytes: int = 1_048_576
    max_page_size: int = 200
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    total_count_cap: int = 1000
    db_pool_size: int = 20
    log_level: str = "INFO"

    @property
    def database(self) -> str:
        return self.database_url or f"postgres://headwater@127.0.0.1:{self.pg_port}/headwater"

    def api_config(self) -> ApiConfig:
        return ApiConfig(
            database_url=self.database,
            pool_size=self.db_pool_size,
            graphiql=self.graphiql,
            introspection=self.introspection,
            cors_origins=tuple(self.cors_origins),
            max_body_bytes=self.max_body_bytes,
            max_page_size=self.max_page_size,
            max_query_depth=self.max_query_depth,
            max_aliases=self.max_aliases,
            max_tokens=self.max_tokens,
            total_count_cap=self.total_count_cap,
        )

    def compile_options(self) -> CompileOptions:
        warehouse = self.warehouse or (self.var_dir / "warehouse").as_uri()
        return CompileOptions(
            catalog=CatalogOptions(
                uri=f"jdbc:postgresql://127.0.0.1:{self.pg_port}/{self.catalog_database}",
                warehouse=warehouse,
            )
        )
