"""Plain-data views of service status for `status`, `proxy status`, `ollama status` (and --json)."""

from __future__ import annotations

import time
from typing import Any

from hybridcc.services.ollama import OllamaStatus
from hybridcc.services.proxy import ProxyStatus


def proxy_dict(st: ProxyStatus) -> dict[str, Any]:
    state = st.state
    if state is None:
        return {"status": "stopped", "leases": st.leases}
    return {
        "status": "running" if st.healthy else ("unhealthy" if st.running else "stopped"),
        "url": st.url,
        "pid": state.pid,
        "port": state.port,
        "version": state.version,
        "uptime_s": round(time.time() - state.started_at, 1),
        "owner": "user" if state.owner == "user" else "session",
        "leases": st.leases,
        "config_current": st.current,
        # Circuit breakers of providers that failed lately (issue 16); only a proxy holding our
        # token shows them, so a stranger's proxy never fills this in.
        "breakers": ((st.health or {}).get("breakers") or {}) if st.healthy else {},
    }


def breakers_line(breakers: dict[str, Any]) -> str:
    """``prim open (3 failures, probe in 12.5 s), sec closed (1 failure)`` or ``all closed``."""
    parts = []
    for name, b in sorted(breakers.items()):
        if not isinstance(b, dict):
            continue
        n = b.get("failures", 0)
        extra = [f"{n} failure{'s' if n != 1 else ''}"]
        if b.get("probe_in_s") is not None:
            extra.append(f"probe in {b['probe_in_s']} s")
        parts.append(f"{name} {b.get('state', '?')} ({', '.join(extra)})")
    return ", ".join(parts) or "all closed"


def ollama_dict(st: OllamaStatus) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": "running" if st.running else "stopped",
        "url": st.url,
        "local": st.local,
        "version": st.version,
        "native_messages": st.native_messages,
        "managed": st.managed,
        "leases": st.leases,
    }
    if st.state is not None:
        out.update(pid=st.state.pid, owner=st.state.owner, uptime_s=round(time.time() - st.state.started_at, 1))
    if st.context_length:
        out["context_length"] = st.context_length
    if st.models:
        out["models"] = st.models
    return out
