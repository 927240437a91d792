"""Documents the original UIS 1.1 tooling accepted stay valid (unknown keys only warn)."""

from __future__ import annotations

import json

import yaml

from uis_compiler import validate
from uis_compiler.codes import NUMERIC_VERSION, UNKNOWN_KEY

# Written the way the original tooling's users wrote specs: nulls for optional fields, lower
# case methods, extra keys it ignored, no version at all, sample_size null, auth_config as a
# free mapping with scopes as one string.
ORIGINAL = """\
name: legacy_orders
created_by: someone
owner_team: payments
provider:
  name: orders
  display_name: Orders
  description: null
  provider_type: rest_api
  base_url: https://api.shop.example
  config: {lookback_days: 2, region: eu, vendor_flag: true}
  credentials_ref: vault://secret/acme/orders
  schedule_cron: "*/15 * * * *"
  schedule_timezone: US/Eastern
  tenant_id: acme
  owner: payments
  tags: null
  endpoints:
    - name: orders
      path: /v1/orders
      method: get
      auth: oauth2
      auth_config: {token_url: "https://auth.shop.example/token", scopes: "orders:read"}
      headers: null
      query_params: {status: open, limit: 100}
      pagination: offset
      pagination_config: {offset_param: offset, limit_param: limit, page_size: 100}
      response_path: $.orders
      field_mapping: {id: id, total: amount.total}
      sample_size: null
      validation_rules: null
      rate_limit_per_second: 3
      is_active: true
  transforms: []
  sinks:
    - type: iceberg
      config: {write_mode: append}
      table_name: sales.orders
      partition_by: null
  slos: {accuracy_threshold: 0.99}
  mode: batch
  parallelism: 2
  retry_config: null
global_config: null
created_at: 2024-03-01
"""


def test_original_document_is_valid() -> None:
    result = validate(ORIGINAL)
    assert result.valid, result.issues
    assert [i.code for i in result.issues] == [UNKNOWN_KEY.id]
    assert result.spec is not None
    endpoint = result.spec.provider.endpoints[0]
    assert endpoint.method == "GET"
    assert endpoint.auth_config is not None and endpoint.auth_config.scopes == ["orders:read"]
    assert result.spec.created_at == "2024-03-01"


def test_unquoted_version_is_accepted_with_a_warning() -> None:
    result = validate("version: 1.1\n" + ORIGINAL)
    assert result.valid
    assert NUMERIC_VERSION.id in [i.code for i in result.issues]
    assert result.spec is not None and result.spec.version == "1.1"


def test_numbers_where_text_is_expected_are_text() -> None:
    result = validate(ORIGINAL.replace("name: legacy_orders", "name: 2024"))
    assert result.valid
    assert result.spec is not None and result.spec.name == "2024"


def test_json_documents_validate_too() -> None:
    data = yaml.safe_load(ORIGINAL)
    result = validate(json.dumps(data, indent=2, default=str))
    assert result.valid, result.issues
