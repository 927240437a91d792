"""The catalogue of issue codes: every issue the compiler reports has one stable code here.

Codes never change meaning once published; new checks get new numbers. Parsing problems are
``E001`` to ``E019``, schema problems ``E020`` to ``E039``, semantic problems ``E040`` and up; warnings
have their own sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

from uis_compiler.types import Severity


@dataclass(frozen=True, slots=True)
class Code:
    """A stable issue code with its default severity and a one-line title."""

    id: str
    severity: Severity
    title: str


CATALOGUE: dict[str, Code] = {}


def _code(number: str, severity: Severity, title: str) -> Code:
    letter = "E" if severity is Severity.ERROR else "W"
    code = Code(f"UIS-{letter}{number}", severity, title)
    assert code.id not in CATALOGUE, code.id
    CATALOGUE[code.id] = code
    return code


_E = Severity.ERROR
_W = Severity.WARNING

# Parsing: the text itself.
YAML_SYNTAX = _code("001", _E, "YAML or JSON syntax error")
EMPTY_DOCUMENT = _code("002", _E, "the document is empty")
ROOT_NOT_MAPPING = _code("003", _E, "the document's top level is not a mapping")
NOT_TEXT = _code("004", _E, "the input is not UTF-8 text")
TOO_LARGE = _code("005", _E, "the input is larger than the size limit")
ALIAS_EXPANSION = _code("006", _E, "aliases expand beyond the limit, or refer to themselves")
TOO_DEEP = _code("007", _E, "the document nests deeper than the limit")
UNSUPPORTED_TAG = _code("008", _E, "a YAML tag that UIS does not accept")
MULTIPLE_DOCUMENTS = _code("009", _E, "more than one YAML document in the input")
COMPLEX_KEY = _code("010", _E, "a mapping key that is not a scalar")
DUPLICATE_KEY = _code("001", _W, "a key appears twice in one mapping; the last one wins")

# Schema: fields, types and allowed values.
MISSING_FIELD = _code("020", _E, "a required field is missing")
WRONG_TYPE = _code("021", _E, "a value has the wrong type")
INVALID_CHOICE = _code("022", _E, "a value is not one of the allowed choices")
OUT_OF_RANGE = _code("023", _E, "a number is outside its allowed range")
UNSUPPORTED_VERSION = _code("024", _E, "the UIS version is not 1.1 or 1.2")
INVALID_VALUE = _code("025", _E, "a value does not have the required form")
UNKNOWN_KEY_STRICT = _code("026", _E, "a key that UIS does not define, in strict mode")
UNKNOWN_KEY = _code("020", _W, "a key that UIS does not define (an error in strict mode)")
NUMERIC_VERSION = _code("021", _W, "the version is a number, not a string")
VERSION_ONLY_FIELD = _code("022", _W, "a field that exists only in a later UIS version")

# Semantics: what the fields mean together.
DUPLICATE_NAME = _code("040", _E, "two endpoints or two transforms share a name")
BASE_URL_REQUIRED = _code("041", _E, "base_url is required for this provider type")
BASE_URL_INVALID = _code("042", _E, "base_url is not an absolute http(s) URL")
NO_SINKS = _code("043", _E, "the provider has no sinks")
INVALID_CRON = _code("044", _E, "schedule_cron is not a valid cron expression")
UNKNOWN_TIMEZONE = _code("045", _E, "schedule_timezone is not an IANA time zone")
PAGINATION_CONFIG_MISSING = _code("046", _E, "pagination is set but pagination_config is missing")
PAGINATION_VALUE_INVALID = _code("047", _E, "a pagination setting has an impossible value")
RATE_LIMIT_CONFLICT = _code("048", _E, "endpoints in one rate-limit group set different rates")
TEMPLATE_SYNTAX = _code("049", _E, "a {{ … }} template is malformed")
TEMPLATE_UNKNOWN_SECRET = _code(
    "050", _E, "a template names a secret global_config does not define"
)
TEMPLATE_UNKNOWN_CONFIG = _code("051", _E, "a template names a provider.config key that is absent")
CREDENTIAL_WITHOUT_REF = _code(
    "052", _E, "a template uses a credential but credentials_ref is unset"
)
SECRET_REF_INVALID = _code("053", _E, "a secret reference of a known scheme is malformed")
SINK_ENGINE_UNSUPPORTED = _code("054", _E, "the execution engine cannot write this sink type")
SOURCE_ENGINE_UNSUPPORTED = _code("055", _E, "the execution engine cannot read this provider type")
MODE_ENGINE_UNSUPPORTED = _code("056", _E, "the execution engine cannot run this mode")
TRANSFORM_ENGINE_UNSUPPORTED = _code("057", _E, "the execution engine cannot run this transform")
SINK_SOURCE_UNKNOWN = _code("058", _E, "a sink reads a view that no endpoint or transform makes")
MERGE_WITHOUT_KEY = _code("059", _E, "write_mode merge needs a primary_key")
TABLE_NAME_INVALID = _code("060", _E, "table_name is not namespace.table")
PARTITION_INVALID = _code("061", _E, "a partition_by entry is not a column or Iceberg transform")
SINK_CONFIG_MISSING = _code("062", _E, "a sink lacks a setting its type needs")
TRANSFORM_INCOMPLETE = _code("063", _E, "a transform lacks the field its type needs")
VIEW_UNKNOWN = _code("064", _E, "a transform refers to a view that does not exist")
FAN_OUT_INVALID = _code("065", _E, "config.fan_out is not a list or a template naming one")
FIELD_PATH_INVALID = _code("066", _E, "a field_mapping source is not a dotted field path")
SCHEMA_CONTRACT_INVALID = _code("067", _E, "schema_contract is not a valid JSON Schema object")
RULE_FIELD_UNKNOWN = _code("068", _E, "a validation rule names a column the endpoint does not map")
RANGE_INVALID = _code("069", _E, "a numeric range is not [min, max] with min ≤ max")
JSON_PATH_INVALID = _code("070", _E, "a JSONPath is malformed")
RETRY_CONFIG_INVALID = _code("071", _E, "retry_config's bounds contradict each other")
AUTH_CONFIG_INCOMPLETE = _code("072", _E, "the auth method lacks a setting it needs")
RULE_TYPE_UNKNOWN = _code("073", _E, "validation_rules.field_types names an unknown type")
WRITE_MODE_INVALID = _code(
    "074", _E, "an Iceberg write_mode is not append, merge or overwrite_partitions"
)
TEMPLATE_NOT_ALLOWED = _code("075", _E, "a secret is used where it would leak into data or URLs")
ENGINE_FEATURE_UNSUPPORTED = _code("076", _E, "the target engine cannot express this setting")
SPARK_CONFIG_NOT_ALLOWED = _code(
    "077", _E, "spark_config sets a key only the platform sets, or not to a plain value"
)
SECRET_REF_NOT_GRANTED = _code(
    "078", _E, "a secret reference reaches outside what the platform grants the tenant"
)
TENANT_ID_INVALID = _code("079", _E, "tenant_id is not one lowercase path-safe name")
ALLOWED_ORIGIN_INVALID = _code("080", _E, "an allowed_origins entry is not scheme://host[:port]")
TABLE_PROPERTY_NOT_ALLOWED = _code(
    "082", _E, "an Iceberg table property is unknown, places files, or has an invalid value"
)
PYTHON_TRANSFORM_NOT_ALLOWED = _code(
    "083", _E, "a Python transform imports a module the platform does not list"
)
FILE_SINK_OUTSIDE_ROOT = _code(
    "084", _E, "a file sink writes outside the tenant's file roots, or overwrites a whole folder"
)
LITERAL_SECRET = _code(
    "081", _E, "a header, query parameter, URL user info or sink URL holds a literal secret"
)
INSECURE_BASE_URL = _code("040", _W, "base_url uses plain http://")
TEMPLATE_RUN_PARAMETER = _code("041", _W, "a template variable must come as a run parameter")
SECRET_REF_UNKNOWN_SCHEME = _code("042", _W, "a secret reference uses no known scheme")
# 043 was LITERAL_SECRET as a warning; a literal secret is an error now (E081). Not reused.
CREDENTIALS_MISSING = _code("044", _W, "an authenticated endpoint has no credentials_ref")
PAGINATION_CONFIG_IGNORED = _code("045", _W, "pagination_config is set but pagination is none")
PAGINATION_KEY_UNUSED = _code("046", _W, "a pagination_config key the chosen mode does not use")
FAN_OUT_UNUSED = _code("047", _W, "a fan_out variable that no template uses")
NO_ACTIVE_ENDPOINTS = _code("048", _W, "the provider has no active endpoints to read")
OVERWRITE_UNBOUNDED = _code(
    "049", _W, "overwrite_partitions has no time partition to bound it to the run's window"
)
