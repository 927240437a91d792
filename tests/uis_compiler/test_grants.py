"""What each tenant's secret references may read: defaults, per-tenant grants, refusals."""

from __future__ import annotations

import pytest

from uis_compiler.grants import DEFAULT_GRANTS, Grants, TenantGrant
from uis_compiler.secrets import parse_ref

GRANTS = Grants(secrets_root="/srv/hw/secrets").with_tenant(
    "acme", env_prefixes=("ACME_",), vault_prefix="kv/acme/"
)


@pytest.mark.parametrize(
    ("tenant", "reference"),
    [
        ("t1", "env:HEADWATER_SECRET_SHOP_TOKEN"),
        ("t1", "env:POLYGON_API_KEY"),
        ("t1", "file:shop/token"),
        ("t1", "file:/srv/hw/secrets/t1/token"),
        ("t1", "file:/srv/hw/secrets/t1/./nested/token"),
        ("t1", "vault://secret/t1/shop#key"),
        ("acme", "env:ACME_TOKEN"),
        ("acme", "env:POLYGON_API_KEY"),
        ("acme", "file:token"),
        ("acme", "vault://kv/acme/billing#key"),
    ],
)
def test_granted(tenant: str, reference: str) -> None:
    assert GRANTS.for_tenant(tenant).refusal(parse_ref(reference)) is None


@pytest.mark.parametrize(
    ("tenant", "reference", "fragment"),
    [
        ("t1", "env:HEADWATER_S3_SECRET_KEY", "is a platform setting"),
        ("t1", "env:HEADWATER_CATALOG_PASSWORD", "is a platform setting"),
        ("t1", "env:AWS_SECRET_ACCESS_KEY", "not granted to this tenant"),
        ("t1", "env:HOME", "not granted to this tenant"),
        ("t1", "file:/proc/self/environ", "outside the tenant's secrets directory"),
        ("t1", "file:/srv/hw/secrets/t2/token", "outside the tenant's secrets directory"),
        ("t1", "file:/srv/hw/secrets/t1", "outside the tenant's secrets directory"),
        ("t1", "file:/srv/hw/secrets/t10/token", "outside the tenant's secrets directory"),
        ("t1", "file:../t2/token", "climbs out with `..`"),
        ("t1", "file:/srv/hw/secrets/t1/../t2/token", "climbs out with `..`"),
        ("t1", "vault://secret/t2/shop#key", "outside the tenant's Vault prefix `secret/t1/`"),
        ("t1", "vault://secret/t1/../t2/shop#key", "`..` segment"),
        ("t1", "vault://secret/t1//x#key", "an empty"),
        ("t1", "vault://secret/t10/x#key", "outside the tenant's Vault prefix"),
        # A tenant with its own grant loses the defaults it replaced.
        ("acme", "env:HEADWATER_SECRET_SHOP_TOKEN", "granted: `ACME_…`"),
        ("acme", "vault://secret/acme/x#k", "outside the tenant's Vault prefix `kv/acme/`"),
    ],
)
def test_refused(tenant: str, reference: str, fragment: str) -> None:
    why = GRANTS.for_tenant(tenant).refusal(parse_ref(reference))
    assert why is not None and fragment in why


def test_without_a_secrets_root_file_references_are_not_granted() -> None:
    why = DEFAULT_GRANTS.for_tenant("t1").refusal(parse_ref("file:token"))
    assert why is not None and "no secrets directory" in why


@pytest.mark.parametrize("tenant", ["../t2", "T1", "", "a/b", ".", "-x"])
def test_a_tenant_id_that_is_no_path_segment_is_granted_nothing(tenant: str) -> None:
    grant = GRANTS.for_tenant(tenant)
    assert grant == TenantGrant(env_prefixes=(), env_names=frozenset())
    for reference in ("env:HEADWATER_SECRET_X", "env:POLYGON_API_KEY", "vault://secret/x/y"):
        assert grant.refusal(parse_ref(reference)) is not None
