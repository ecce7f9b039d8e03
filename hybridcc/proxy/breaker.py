"""Per-provider circuit breakers and per-session stickiness for fallback chains (issue 16).

A provider that failed ``threshold`` times in a row is skipped for ``cooldown`` seconds, then
one request probes it (half-open): success closes the breaker, failure opens it again. A
Claude Code session (``x-claude-code-session-id``) served by a fallback stays there for
``sticky_seconds`` instead of flapping back, so the provider's prompt cache stays warm.
Time is injectable so the transitions are tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Breaker:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


class Breakers:
    def __init__(
        self, *, threshold: int = 3, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._state: dict[str, _Breaker] = {}

    def state(self, provider: str) -> str:
        b = self._state.get(provider)
        if b is None or b.opened_at is None:
            return "closed"
        if self._clock() - b.opened_at < self.cooldown:
            return "open"
        return "half-open"

    def allow(self, provider: str) -> bool:
        """May a request go to ``provider`` now? In half-open, only one probe at a time."""
        state = self.state(provider)
        if state == "closed":
            return True
        if state == "open":
            return False
        b = self._state[provider]
        if b.probing:
            return False
        b.probing = True
        return True

    def success(self, provider: str) -> None:
        self._state.pop(provider, None)

    def failure(self, provider: str) -> None:
        b = self._state.setdefault(provider, _Breaker())
        b.failures += 1
        b.probing = False
        if b.failures >= self.threshold or b.opened_at is not None:
            b.opened_at = self._clock()

    def snapshot(self) -> dict[str, Any]:
        """Providers that failed lately: state, consecutive failures, seconds until the probe."""
        out: dict[str, Any] = {}
        for name, b in self._state.items():
            out[name] = {"state": self.state(name), "failures": b.failures}
            if out[name]["state"] == "open" and b.opened_at is not None:
                out[name]["probe_in_s"] = round(self.cooldown - (self._clock() - b.opened_at), 1)
        return out


class Stickiness:
    """session id → the chain entry that last served it, for ``ttl`` seconds."""

    def __init__(self, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic, limit: int = 10_000) -> None:
        self.ttl = ttl
        self._clock = clock
        self._limit = limit
        self._map: dict[str, tuple[str, float]] = {}

    def get(self, session: str | None) -> str | None:
        if not session:
            return None
        hit = self._map.get(session)
        if hit is None:
            return None
        if self._clock() > hit[1]:
            del self._map[session]
            return None
        return hit[0]

    def set(self, session: str | None, key: str) -> None:
        if not session:
            return
        if len(self._map) >= self._limit:  # bounded: drop the oldest
            self._map.pop(next(iter(self._map)))
        self._map[session] = (key, self._clock() + self.ttl)

    def clear(self, session: str | None) -> None:
        if session:
            self._map.pop(session, None)
