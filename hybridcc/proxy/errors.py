"""Anthropic-shaped error bodies and the HTTP status ↔ error type mapping (shared/PROTOCOL.md)."""

from __future__ import annotations

import json
from typing import Any, Final

STATUS_TO_TYPE: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
TYPE_TO_STATUS: Final = {v: k for k, v in STATUS_TO_TYPE.items()}


def error_type_for(status: int) -> str:
    return STATUS_TO_TYPE.get(status, "api_error")


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


class ProxyError(Exception):
    """A failure answered as an Anthropic error (before any byte of the response was sent)."""

    def __init__(self, status: int, message: str, error_type: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type or error_type_for(status)
        self.message = message
        self.headers = headers or {}


def _extract_message(data: Any) -> str | None:
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
            if isinstance(msg, str):
                return msg
        if isinstance(err, str):
            return err
        for key in ("message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    if isinstance(data, list) and data:
        return _extract_message(data[0])
    return None


def map_upstream_error(status: int, body: bytes, *, provider: str, model: str) -> tuple[int, bytes]:
    """An upstream error response → (status, Anthropic error body).

    A body already in Anthropic's shape passes unchanged (Claude Code matches some wording).
    """
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if (
        isinstance(data, dict)
        and data.get("type") == "error"
        and isinstance(data.get("error"), dict)
        and isinstance(data["error"].get("type"), str)
    ):
        return status, body
    detail = _extract_message(data) or body.decode("utf-8", "replace").strip()[:500] or "no details"
    out_status = status if status in STATUS_TO_TYPE or 400 <= status < 600 else 502
    message = f"{provider} ({model}) answered HTTP {status}: {detail}"
    return out_status, error_body(error_type_for(out_status), message)
