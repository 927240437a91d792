"""Test documents: a small valid spec built from fragments, and the shipped examples."""

from __future__ import annotations

import textwrap
from pathlib import Path

from uis_compiler.grants import Grants

EXAMPLES = Path(__file__).resolve().parents[2] / "uis_compiler" / "examples"
#: The compiler tests' file sinks write anywhere local or under s3://lake (tenants t1, default).
FILE_GRANTS = (
    Grants()
    .with_tenant("t1", file_roots=("/", "s3://lake"))
    .with_tenant("default", file_roots=("/", "s3://lake"))
)

_BASE = """\
version: "1.2"
name: items_spec
created_by: tester
{top}
provider:
  name: shop
  display_name: Shop
  provider_type: rest_api
  base_url: https://api.example.com
  tenant_id: t1
  owner: data
{provider}
  endpoints:
    - name: items
      path: /items
      response_path: $.data
      field_mapping:
        id: id
        price: price
{endpoint}
{endpoints}
{sinks}
"""

_SINKS = """\
  sinks:
    - type: iceberg
      table_name: shop.items
      config:
        write_mode: append
{sink}"""


def document(
    *,
    top: str = "",
    provider: str = "",
    endpoint: str = "",
    endpoints: str = "",
    sink: str = "",
    sinks: str | None = None,
    replace: dict[str, str] | None = None,
) -> str:
    """A valid document with fragments inserted at each level (fragments are dedented)."""

    def at(fragment: str, indent: int) -> str:
        return textwrap.indent(textwrap.dedent(fragment).strip("\n"), " " * indent)

    text = _BASE.format(
        top=at(top, 0),
        provider=at(provider, 2),
        endpoint=at(endpoint, 6),
        endpoints=at(endpoints, 4),
        sinks=at(sinks, 2) if sinks is not None else _SINKS.format(sink=at(sink, 8)),
    )
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


def marked_line(text: str, marker: str = "#!") -> int:
    """The 1-based line holding ``marker``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"no {marker} marker in document")
