"""A tiny blocking HTTP client for health probes: stdlib only, so the CLI's start-up stays fast."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ProbeResult:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, *, timeout: float = 1.0, headers: dict[str, str] | None = None) -> ProbeResult | None:
    """GET ``url``; None when nothing answers (refused, timed out, reset)."""
    return request("GET", url, timeout=timeout, headers=headers)


def request(
    method: str, url: str, *, timeout: float = 1.0, headers: dict[str, str] | None = None, body: Any = None
) -> ProbeResult | None:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    payload = json.dumps(body).encode() if body is not None else None
    hdrs = dict(headers or {})
    if payload is not None:
        hdrs.setdefault("content-type", "application/json")
    try:
        conn.request(method, path, body=payload, headers=hdrs)
        resp = conn.getresponse()
        return ProbeResult(resp.status, resp.read())
    except (OSError, http.client.HTTPException, ValueError):
        # ValueError: a header value http.client refuses (e.g. a token that is not latin-1)
        return None
    finally:
        conn.close()


def get_json(
    url: str, *, timeout: float = 1.0, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> Any:
    """The JSON body of a 200 answer; None when nothing answers, the status is not 200, or it is not JSON."""
    res = request(method, url, timeout=timeout, headers=headers, body=body)
    if res is None or res.status != 200:
        return None
    try:
        return res.json()
    except ValueError:
        return None
