"""What a tenant's specs may use: secrets (environment names, a directory, a Vault prefix) and
the Python modules its transforms may import.

A spec is a tenant's input, and the job that resolves its references runs beside the platform's
own credentials (database, object store, Vault token) and other tenants' secrets. The operator
grants each tenant a part of each store (README "Secret grants"); validation reports a reference
outside it, and the job refuses it again before reading anything.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from uis_compiler.secrets import SecretRef

#: A tenant id names a directory and a Vault path: one safe path segment, never `.` or `..`.
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TENANT_ID_HINT = (
    "use lowercase letters, digits, `-` and `_` (up to 64), starting with a letter or digit"
)

#: The platform's own settings: never a tenant's secret, whatever a grant says.
PLATFORM_ENV_PREFIX = "HEADWATER_"
#: Where operators put tenants' secrets in the environment.
SECRET_ENV_PREFIX = "HEADWATER_SECRET_"
#: The variables the shipped examples (uis_compiler/examples) read.
EXAMPLE_ENV_NAMES = frozenset({"POLYGON_API_KEY", "LEDGER_API_KEY"})
#: A Vault prefix per tenant, ``{tenant}`` filled in: under the dev server's KV v2 mount.
DEFAULT_VAULT_PREFIX = "secret/{tenant}/"


def within(path: str, root: str) -> bool:
    """True when ``path`` lies inside ``root`` (never the root itself; no `..` resolving)."""
    return path.startswith(root.rstrip("/") + "/")


def _local(root: str) -> str:
    return root[len("file://") :] if root.startswith("file://") else root


@dataclass(frozen=True, slots=True)
class TenantGrant:
    """The part of each secret store one tenant's references may read."""

    env_prefixes: tuple[str, ...] = (SECRET_ENV_PREFIX,)
    env_names: frozenset[str] = EXAMPLE_ENV_NAMES
    #: `file:` names resolve here (an absolute path must lie inside); None: no file references.
    secrets_dir: str | None = None
    #: ``MOUNT/PATH/`` every `vault://` reference must start with; None: no Vault references.
    vault_prefix: str | None = None
    #: Modules Python transforms may import (exact names): importing runs their code.
    python_modules: frozenset[str] = frozenset()
    #: Where file (Parquet) sinks may write: local folders or URL prefixes (`s3://bucket/p`);
    #: a relative path is taken from the first. Empty: no file sinks.
    file_roots: tuple[str, ...] = ()

    def file_sink_path(self, path: str) -> str:
        """The location a file sink's ``path`` names: relative ones under the first root."""
        local = path[len("file://") :] if path.startswith("file://") else path
        if "://" in local or local.startswith("/") or not self.file_roots:
            return posixpath.normpath(local) if "://" not in local else local
        return posixpath.normpath(posixpath.join(_local(self.file_roots[0]), local))

    def file_sink_refusal(self, path: str) -> str | None:
        """Why a file sink may not write at ``path``, or None."""
        if not self.file_roots:
            return "this tenant has no file root: file sinks are not granted"
        if ".." in path.replace("\\", "/").split("/"):
            return f"`{path}` climbs out with `..`; name a folder under the tenant's root"
        where = self.file_sink_path(path)
        if any(within(where, _local(root)) for root in self.file_roots):
            return None
        roots = ", ".join(f"`{root}`" for root in self.file_roots)
        return f"`{path}` is outside the tenant's file roots ({roots})"

    def python_refusal(self, module: str) -> str | None:
        """Why this tenant's transforms may not import ``module``, or None."""
        if module in self.python_modules:
            return None
        allowed = ", ".join(f"`{name}`" for name in sorted(self.python_modules)) or "none"
        return (
            f"the module `{module}` is not on the platform's list for this tenant "
            f"(allowed: {allowed}); importing a module runs its code on the platform"
        )

    def refusal(self, ref: SecretRef) -> str | None:
        """Why this tenant may not read ``ref``, or None when the grant covers it."""
        if ref.scheme == "env":
            return self._env(ref.location)
        if ref.scheme == "file":
            return self._file(ref.location)
        return self._vault(ref.location)

    def file_path(self, location: str) -> str:
        """The absolute path a granted `file:` reference names (before symlinks resolve)."""
        assert self.secrets_dir is not None
        return posixpath.normpath(posixpath.join(self.secrets_dir, location))

    def _env(self, name: str) -> str | None:
        if name.startswith(PLATFORM_ENV_PREFIX) and not name.startswith(SECRET_ENV_PREFIX):
            return f"`{name}` is a platform setting, not a secret a spec may read"
        if name in self.env_names or name.startswith(self.env_prefixes):
            return None
        allowed = " or ".join(f"`{prefix}…`" for prefix in self.env_prefixes) or "no prefix"
        return f"the variable `{name}` is not granted to this tenant (granted: {allowed})"

    def _file(self, location: str) -> str | None:
        if self.secrets_dir is None:
            return "this tenant has no secrets directory: file references are not granted"
        if ".." in location.split("/"):
            return f"`{location}` climbs out with `..`; name a file in the tenant's directory"
        root = posixpath.normpath(self.secrets_dir)
        path = self.file_path(location)
        if not within(path, root):
            return f"`{location}` is outside the tenant's secrets directory {root}"
        return None

    def _vault(self, location: str) -> str | None:
        if self.vault_prefix is None:
            return "this tenant has no Vault prefix: Vault references are not granted"
        segments = location.split("/")
        if any(segment in ("", ".", "..") for segment in segments):
            return f"`{location}` has an empty, `.` or `..` segment"
        if not (location + "/").startswith(self.vault_prefix):
            return f"`{location}` is outside the tenant's Vault prefix `{self.vault_prefix}`"
        return None


@dataclass(frozen=True, slots=True)
class Grants:
    """Every tenant's grant: its own where the operator set one, else the defaults for it."""

    #: Each tenant's secrets directory is ``<root>/<tenant>`` (None: no file references).
    secrets_root: str | None = None
    env_prefixes: tuple[str, ...] = (SECRET_ENV_PREFIX,)
    env_names: frozenset[str] = EXAMPLE_ENV_NAMES
    vault_prefix: str | None = DEFAULT_VAULT_PREFIX
    #: Empty by default: Python transforms only where the operator lists their modules.
    python_modules: frozenset[str] = frozenset()
    #: Each tenant's file sinks write under ``<root>/<tenant>`` (None: no file sinks).
    files_root: str | None = None
    tenants: Mapping[str, TenantGrant] = field(default_factory=dict)

    def default_for(self, tenant: str) -> TenantGrant:
        """The defaults with the tenant filled in (what a tenant without its own grant gets)."""
        return TenantGrant(
            env_prefixes=self.env_prefixes,
            env_names=self.env_names,
            secrets_dir=posixpath.join(self.secrets_root, tenant) if self.secrets_root else None,
            vault_prefix=self.vault_prefix.format(tenant=tenant) if self.vault_prefix else None,
            python_modules=self.python_modules,
            file_roots=(posixpath.join(self.files_root, tenant),) if self.files_root else (),
        )

    def for_tenant(self, tenant: str) -> TenantGrant:
        """The tenant's grant; an id that is not one safe path segment is granted nothing."""
        if not TENANT_ID.match(tenant):
            return TenantGrant(env_prefixes=(), env_names=frozenset())
        return self.tenants.get(tenant) or self.default_for(tenant)

    def with_tenant(self, tenant: str, **changes: object) -> Grants:
        """These grants with ``tenant``'s own: its defaults changed by ``changes``."""
        own = replace(self.default_for(tenant), **changes)  # type: ignore[arg-type]
        return replace(self, tenants={**self.tenants, tenant: own})


#: No secrets directory (no file references), the shared env prefix, a Vault prefix per tenant.
DEFAULT_GRANTS = Grants()
