"""Which streamed requests are still waiting for their first token, per Claude Code session.

A local model can take minutes to read Claude Code's ~19k-token prompt (335 s with a 0.5B model
on a CPU); meanwhile the terminal is silent. The proxy notes here when each streamed request
started and, for llama.cpp on the OpenAI wire (``return_progress``), how many prompt tokens the
server has read; ``GET /_hybridcc/progress?session=ID`` answers from it, and the status line and
`run -p` show it (issue 17). Network-free; nothing here is on the per-chunk path except
:meth:`Entry.prompt_progress`, called only for the few chunks that carry progress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hybridcc.proxy.asgi import Message, Send


@dataclass
class Entry:
    request_id: str
    session: str
    started: float = field(default_factory=time.time)  # wall clock: shown as "since"
    total: int | None = None  # prompt tokens (llama.cpp prompt_progress), None: not reported
    processed: int = 0  # prompt tokens read so far, cached ones included
    cache: int = 0
    answered: bool = False  # the first event of the answer went to Claude Code

    def prompt_progress(self, progress: Any) -> None:
        """One llama.cpp ``prompt_progress`` object: {total, cache, processed, time_ms}."""
        if not isinstance(progress, dict):
            return
        total, processed, cache = progress.get("total"), progress.get("processed"), progress.get("cache")
        if isinstance(total, int) and total > 0:
            self.total = total
        if isinstance(processed, int):
            self.processed = processed
        if isinstance(cache, int):
            self.cache = cache

    def watch(self, send: Send) -> Send:
        """``send`` that marks the entry answered once ``message_start`` goes out (any wire:
        pings and upstream keep-alive comments before it do not count as an answer)."""

        async def watched(message: Message) -> None:
            if not self.answered and b"message_start" in message.get("body", b""):
                self.answered = True
            await send(message)

        return watched

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        data: dict[str, Any] = {
            "phase": "prefill", "request_id": self.request_id, "started": round(self.started, 3),
            "elapsed_s": round(max(0.0, now - self.started), 1),
        }  # fmt: skip
        if self.total is not None:
            data.update(total=self.total, processed=min(self.processed, self.total), cache=self.cache)
        return data


class Progress:
    """The registry: ``begin`` when a streamed request is sent, ``end`` when it is answered."""

    def __init__(self) -> None:
        self._by_request: dict[str, Entry] = {}

    def begin(self, request_id: str, session: str) -> Entry:
        entry = Entry(request_id=request_id, session=session)
        self._by_request[request_id] = entry
        return entry

    def get(self, request_id: str) -> Entry | None:
        return self._by_request.get(request_id)

    def end(self, request_id: str) -> None:
        self._by_request.pop(request_id, None)

    def lookup(self, session: str) -> dict[str, Any]:
        """The session's longest-waiting request still in prefill, or ``{"phase": "idle"}``."""
        waiting = [e for e in self._by_request.values() if e.session == session and not e.answered]
        if not waiting:
            return {"phase": "idle"}
        return min(waiting, key=lambda e: e.started).as_dict()


__all__ = ["Entry", "Progress"]
