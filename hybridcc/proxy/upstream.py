"""The one pooled upstream HTTP client, and the single place transport errors are mapped."""

from __future__ import annotations

import httpx

from hybridcc.proxy.errors import ProxyError

CONNECT_TIMEOUT = 10.0
WRITE_TIMEOUT = 60.0


def make_client() -> httpx.AsyncClient:
    # One client for the proxy's lifetime: keep-alive pools per upstream host. The read timeout
    # is set per request from the provider's `timeout`.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=CONNECT_TIMEOUT, read=600.0, write=WRITE_TIMEOUT, pool=CONNECT_TIMEOUT),
        limits=httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=60.0),
        follow_redirects=False,
        trust_env=False,  # a proxy for loopback or a provider must be configured here, not inherited
    )


def timeout_for(read: float) -> httpx.Timeout:
    return httpx.Timeout(connect=CONNECT_TIMEOUT, read=read, write=WRITE_TIMEOUT, pool=CONNECT_TIMEOUT)


def unavailable(provider: str, url: str, exc: BaseException, *, attempts: int = 1) -> ProxyError:
    """Unreachable or timed out before the first byte, after the proxy's own retries.

    A 503 ``api_error`` with ``x-should-retry: false`` (``retryable=False``): Claude Code then
    shows this message at once. A 529 would be retried by it whatever the headers say (measured,
    2.1.197 and 2.1.332), turning a dead provider into minutes of silence (issue 12 item 1).
    """
    if isinstance(exc, httpx.ConnectError):
        cause = f"cannot connect ({exc})" if str(exc) else "connection refused"
    elif isinstance(exc, httpx.TimeoutException):
        cause = f"timed out ({type(exc).__name__})"
    else:
        cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    tried = f", tried {attempts} times" if attempts > 1 else ""
    return ProxyError(
        503,
        f"provider {provider} at {url} is unavailable: {cause}{tried} — is it running? "
        "`hybridcc doctor --online` checks it",
        "api_error",
        retryable=False,
    )
