"""What /openapi.json says about authentication: the schemes of AUTH_SCHEMES, on every secured operation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

OAUTH2_NAME = "OAuth2PasswordBearer"  # FastAPI's name for pgbe's oauth2_scheme (the Bearer scheme)


def scheme_name(scheme: str) -> str:
    """Return the OpenAPI name of a non-Bearer scheme ("Token" gives "TokenAuth")."""
    return f"{scheme[:1].upper()}{scheme[1:]}Auth"


def document_schemes(app: FastAPI, schemes: Sequence[str]) -> None:
    """Declare each accepted scheme; an operation that takes a Bearer token takes any of them.

    Bearer is FastAPI's OAuth2 password flow (the Authorize button of /docs); another scheme is an
    `Authorization` header holding `<scheme> <token>` (an apiKey scheme: OpenAPI has no other way to
    name a scheme outside the HTTP registry). Without Bearer among them, the OAuth2 scheme is removed.
    """
    others = [s for s in schemes if s.lower() != "bearer"]
    keep_bearer = len(others) < len(schemes)
    if not others:
        return
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        declared = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        for scheme in others:
            declared[scheme_name(scheme)] = {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": f"`{scheme} <access token>`",
            }
        if not keep_bearer:
            declared.pop(OAUTH2_NAME, None)
        alternatives: list[dict[str, list[str]]] = [{scheme_name(s): []} for s in others]
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                security = operation.get("security")
                if not isinstance(security, list) or not any(OAUTH2_NAME in r for r in security):
                    continue
                kept = security if keep_bearer else [r for r in security if OAUTH2_NAME not in r]
                operation["security"] = kept + alternatives
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["document_schemes", "scheme_name"]
