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
    }


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
