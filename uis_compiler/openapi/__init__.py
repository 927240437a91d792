"""Import OpenAPI 3.0/3.1 descriptions as UIS 1.2 specs.

The flow follows the data: ``document`` (parse, version check) → ``operations`` (which to
import) → ``refs`` and ``schemas`` (references and compositions resolved) → ``servers``,
``auth``, ``records``, ``paging`` (what each endpoint needs) → ``importer`` (the spec, as YAML).
"""

from __future__ import annotations

from uis_compiler.openapi.importer import import_openapi

__all__ = ["import_openapi"]
