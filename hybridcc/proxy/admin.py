"""The proxy's own endpoints beside the Messages API: health, Claude Code's connectivity checks,
metrics, prefill progress and reload. :func:`serve` answers them; the router in ``app`` calls it
first and goes on to ``/v1/…`` when it returns False.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from hybridcc import __version__
from hybridcc.config.load import load_config
from hybridcc.errors import HybridccError
from hybridcc.proxy.asgi import Receive, Scope, Send, drain, send_bytes, send_json
from hybridcc.proxy.errors import ProxyError

if TYPE_CHECKING:
    from hybridcc.proxy.app import ProxyApp

log = logging.getLogger("hybridcc.proxy")

_PROMETHEUS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


async def serve(app: ProxyApp, method: str, path: str, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer one of the proxy's own endpoints; False when ``path`` is none of them."""
    if path == "/health" and method in ("GET", "HEAD"):
        await send_json(send, 200, health(app, full=app.authorized(scope)), head=method == "HEAD")
    elif path in ("/", "/api/hello") and method in ("GET", "HEAD"):
        # Claude Code's connectivity checks (HEAD / in 2.1.197, HEAD /api/hello in 2.1.33x): no auth.
        await send_json(send, 200, {"status": "ok", "service": "hybridcc"}, head=method == "HEAD")
    elif path.startswith("/api/event_logging"):
        await drain(receive)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/metrics" and method == "GET":
        app.authorize(scope)  # a team graphs it; the figures are not for anyone on the host
        await send_bytes(send, 200, app.metrics.render().encode(), replace_type=_PROMETHEUS)
    elif path == "/_hybridcc/progress" and method == "GET":
        app.authorize(scope)  # session ids and timings are not for anyone on the host
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        await send_json(send, 200, app.progress.lookup((query.get("session") or [""])[0]))
    elif path == "/_hybridcc/reload" and method == "POST":
        app.authorize(scope)
        await drain(receive)
        await reload(app, send)
    else:
        return False
    return True


def health(app: ProxyApp, *, full: bool) -> dict[str, Any]:
    """Minimal without the token; details (pid, profiles, fingerprint, token id) with it."""
    data: dict[str, Any] = {"status": "ok", "service": "hybridcc-proxy", "version": __version__}
    if full:
        data.update(
            pid=os.getpid(),
            uptime_s=round(time.time() - app.started_at, 3),
            default_profile=app.default_profile,
            profiles=sorted(app.config.profiles),
            fingerprint=app.fingerprint,
            token_id=app.token_id,  # identifies the token without revealing it
            breakers=app.breakers.snapshot(),
        )
    return data


async def reload(app: ProxyApp, send: Send) -> None:
    """Re-read config.toml; requests in flight keep the configuration they started with."""
    try:
        config = load_config()
    except HybridccError as exc:
        raise ProxyError(400, f"config not reloaded: {exc.message}", retryable=False) from exc
    app.apply_config(config)
    log.info("configuration reloaded (fingerprint %s)", app.fingerprint)
    await send_json(send, 200, {"fingerprint": app.fingerprint})
