"""Small JSON bodies that browser pages post before any session token exists (sign-in, enrolment).

The customer pages (:mod:`mamori.api.auth_pages`) and the console's sign-in (:mod:`mamori.console.pages`)
both accept them only from their own origin and only as ``application/json`` — a request type a
cross-site HTML form cannot send without a CORS preflight (OWASP CSRF Prevention Cheat Sheet:
"verifying origin with standard headers" and custom request types).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from fastapi import Request

from mamori.kit.errors import CsrfRejected, InvalidRequest

MAX_BODY_BYTES = 64 * 1024


async def same_origin_json(request: Request, allowed_origins: Collection[str]) -> dict[str, Any]:
    """The request's JSON object, or :class:`CsrfRejected` (another origin, not JSON) /
    :class:`InvalidRequest` (too large, not JSON, not an object)."""
    origin = (request.headers.get("origin") or "").rstrip("/")
    if origin not in allowed_origins:
        raise CsrfRejected("request from another origin refused", details={"origin": origin[:200] or None})
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise CsrfRejected("expected a JSON request")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest("request body too large", details={"field": "(body)"})
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("request body is not valid JSON", details={"field": "(body)"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("expected a JSON object", details={"field": "(body)"})
    return data


def text_field(data: dict[str, Any], name: str, max_len: int = 256) -> str:
    """A required, non-empty text field of at most ``max_len`` characters."""
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidRequest(f"{name} is required (text, at most {max_len} characters)", details={"field": name})
    return value
