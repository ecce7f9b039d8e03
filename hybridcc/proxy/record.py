"""One structured record per request: the request log line, the usage ledger row, metrics.

Written once, after the response, by ``emit``; sinks (the usage ledger, /metrics) receive the
same dict that goes to requests.jsonl. Everything is redacted first (issue 11 item 3).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hybridcc.proxy.redact import Redactor

request_log = logging.getLogger("hybridcc.requests")

Sink = Callable[[dict[str, Any]], None]

_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
# Claude Code's attribution and routing headers (shared/GATEWAY.md), kept for the ledger and routing.
SESSION_HEADERS = {
    b"x-claude-code-session-id": "session_id",
    b"x-claude-code-agent-id": "agent_id",
    b"x-claude-code-parent-agent-id": "parent_agent_id",
}


@dataclass
class RequestRecord:
    """Never holds a key or the proxy token (and is redacted again on the way out)."""

    request_id: str
    path: str
    profile: str = ""
    provider: str = ""
    model_requested: str = ""
    model_used: str = ""
    model_note: str | None = None  # e.g. "unknown model name, served by the profile's main model"
    wire: str = ""
    stream: bool = False
    status: int = 0
    upstream_status: int | None = None
    started: float = field(default_factory=time.perf_counter)
    ttfb_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    retries: int = 0
    malformed_chunks: int = 0
    repaired_tool_calls: int = 0  # text-written tool calls turned into tool_use (issue 17)
    hops: list[str] = field(default_factory=list)  # fallback: each entry that failed, and why
    served_by: str | None = None  # "provider/model" when a fallback entry served the request
    rule: str | None = None  # the scenario rule that chose the route, and why
    session_id: str | None = None
    agent_id: str | None = None
    parent_agent_id: str | None = None
    kind: str | None = None  # main | subagent | background: how the usage ledger groups requests
    error: str | None = None

    def take_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        for name, value in headers:
            attr = SESSION_HEADERS.get(name)
            if attr is not None:
                setattr(self, attr, value.decode("latin-1")[:128])

    def take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for key in _USAGE_KEYS:
                if isinstance(usage.get(key), int):
                    setattr(self, key, usage[key])

    def mark_first_byte(self) -> None:
        if self.ttfb_ms is None:
            self.ttfb_ms = round((time.perf_counter() - self.started) * 1000, 2)

    def as_dict(self) -> dict[str, Any]:
        data = {
            k: v for k, v in self.__dict__.items() if (k != "started" and v not in (None, "", 0, [])) or k == "status"
        }
        data["stream"] = self.stream
        data["latency_ms"] = round((time.perf_counter() - self.started) * 1000, 2)
        data["ts"] = round(time.time(), 3)
        return data

    def emit(self, redactor: Redactor, sinks: tuple[Sink, ...] = ()) -> None:
        data = self.as_dict()
        if self.error:
            data["error"] = redactor.redact(self.error)
        if self.hops:
            data["hops"] = [redactor.redact(h) for h in self.hops]
        request_log.info(json.dumps(data, separators=(",", ":"), ensure_ascii=False))
        for sink in sinks:
            sink(data)  # sinks never raise (the ledger drops and counts; see hybridcc.usage)
