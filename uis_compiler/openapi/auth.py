"""Endpoint auth from security schemes; credentials themselves never enter the spec.

An operation's ``security`` (else the document's) lists alternatives in the author's order of
preference; the first one UIS can express is used. ``{}`` allows anonymous access. Schemes
needing a person at a browser (authorization-code or implicit OAuth2, OpenID Connect) cannot
run in a scheduled job and are skipped. A description with no security at all but a key-like
parameter (``api_key``, ``X-API-Key``) gets api_key auth for it, so the key is read from the
credentials secret instead of being passed in as a plain run parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from uis_compiler.openapi.document import OpenAPIDocument
from uis_compiler.openapi.naming import snake_case
from uis_compiler.openapi.operations import Operation, Parameter
from uis_compiler.openapi.refs import Resolver
from uis_compiler.openapi.schemas import Located
from uis_compiler.suggest import did_you_mean

_SCHEMES: tuple[str, ...] = ("components", "securitySchemes")
_KEY_PARAMETERS = frozenset(
    {
        "api_key",
        "apikey",
        "x_api_key",
        "access_key",
        "access_token",
        "auth_token",
        "app_key",
        "token",
    }
)


@dataclass(frozen=True, slots=True)
class Auth:
    """An endpoint's `auth` and `auth_config`; ``parameter`` is the query parameter it fills."""

    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    parameter: str | None = None


NO_AUTH = Auth("none")


def endpoint_auth(
    document: OpenAPIDocument, resolver: Resolver, op: Operation, base_url: str
) -> Auth:
    """How the endpoint authenticates, from its security requirements or key parameters."""
    requirements, path = op.security
    schemes = document.get(_SCHEMES)
    defined: dict[str, Any] = schemes if isinstance(schemes, dict) else {}
    listed = requirements if isinstance(requirements, list) else []
    for index, requirement in enumerate(listed):
        if not isinstance(requirement, dict):
            continue
        if not requirement:
            return NO_AUTH
        for name, scopes in requirement.items():
            if name not in defined:
                raise document.fail(
                    (*path, index, name),
                    f"security requirement names `{name}`, which `components.securitySchemes` "
                    "does not define",
                    did_you_mean(str(name), defined) or f"schemes: {', '.join(defined) or 'none'}",
                    at_key=True,
                )
            scheme, scheme_path = resolver.deref(defined[name], (*_SCHEMES, name))
            found = _from_scheme(document, (scheme, scheme_path), scopes, base_url)
            if found is not None:
                return found
    if listed:
        return NO_AUTH
    return next(filter(None, map(_from_parameter, op.parameters)), NO_AUTH)


def _from_scheme(
    document: OpenAPIDocument, located: Located, scopes: Any, base_url: str
) -> Auth | None:
    """The auth a security scheme maps to; None when UIS cannot express it."""
    scheme, path = located
    if not isinstance(scheme, dict):
        return None
    kind = str(scheme.get("type", ""))
    name = scheme.get("name")
    if kind == "apiKey" and isinstance(name, str):
        if scheme.get("in") == "header":
            return Auth("api_key", {"location": "header", "header_name": name})
        if scheme.get("in") == "query":
            return Auth("api_key", {"location": "query", "param_name": name}, name)
        return None
    if kind == "http":
        method = str(scheme.get("scheme", "")).lower()
        return Auth(method) if method in ("bearer", "basic") else None
    if kind == "oauth2":
        flows = scheme.get("flows")
        flow = flows.get("clientCredentials") if isinstance(flows, dict) else None
        token_url = flow.get("tokenUrl") if isinstance(flow, dict) else None
        if not isinstance(token_url, str) or not token_url:
            return None
        try:
            # A relative tokenUrl is relative to the server, as the OpenAPI spec defines.
            absolute = urljoin(base_url + "/", token_url)
        except ValueError as exc:
            token_path = (*path, "flows", "clientCredentials", "tokenUrl")
            raise document.fail(token_path, f"`{token_url}` is not a URL: {exc}") from None
        config: dict[str, Any] = {"token_url": absolute}
        wanted = [str(s) for s in scopes] if isinstance(scopes, list) else []
        if wanted:
            config["scopes"] = wanted
        return Auth("oauth2", config)
    return None


def _from_parameter(parameter: Parameter) -> Auth | None:
    """Auth implied by a credential-like parameter of a description without security."""
    name = parameter.name
    if parameter.location == "header" and name.lower() == "authorization":
        return Auth("bearer")
    if snake_case(name, "") not in _KEY_PARAMETERS:
        return None
    if parameter.location == "query":
        return Auth("api_key", {"location": "query", "param_name": name}, name)
    if parameter.location == "header":
        return Auth("api_key", {"location": "header", "header_name": name})
    return None
