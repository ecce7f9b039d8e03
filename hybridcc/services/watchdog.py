"""Crash recovery during a `hybridcc run` session: bring a dead or hung proxy back on the same port.

A thread probes every ``interval``; a dead process is restarted at once (same port, same token,
so Claude Code's own retry succeeds), an alive but unresponsive one (hung, SIGSTOPped) after
three failed probes: it is stopped first (TERM, then KILL), since it still holds the port.
More than ``max_restarts`` within ``window`` seconds is a crash loop: reported, then left alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hybridcc.config.schema import Config
from hybridcc.errors import HybridccError
from hybridcc.services import proxy as proxy_svc
from hybridcc.services.process import is_same_process
from hybridcc.services.state import ServiceState, read_state


class ProxyWatchdog(threading.Thread):
    def __init__(
        self,
        config: Config,
        state: ServiceState,
        *,
        interval: float = 0.5,
        probe_timeout: float = 1.0,
        max_restarts: int = 5,
        window: float = 60.0,
        report: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        super().__init__(name="hybridcc-proxy-watchdog", daemon=True)
        self.config = config
        self.state = state
        self.interval = interval
        self.probe_timeout = probe_timeout
        self.max_restarts = max_restarts
        self.window = window
        self.report = report
        self.restarts: list[float] = []
        self.probes = 0  # how many times it looked (tests wait on this, never on a clock)
        self.gave_up = False
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def run(self) -> None:
        failures = 0
        backoff = 0.0
        while not self._halt.wait(self.interval + backoff):
            current = read_state("proxy") or self.state
            alive = is_same_process(current)
            healthy = alive and proxy_svc.answers(current, timeout=self.probe_timeout)
            self.probes += 1
            if healthy:
                failures, backoff = 0, 0.0
                self.state = current
                continue
            failures += 1
            if alive and failures < 3:
                continue  # busy, not dead: give it a moment
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < self.window]
            if len(self.restarts) >= self.max_restarts:
                if not self.gave_up:
                    self.gave_up = True
                    self.report(
                        f"the proxy crashed {len(self.restarts)} times in {self.window:.0f}s; not restarting it again — "
                        f"see `hybridcc proxy logs`"
                    )
                continue
            self.restarts.append(now)
            how = "stopped answering" if alive else "stopped unexpectedly"
            try:
                self.state = proxy_svc.restart_on(self.config, current)
                self.report(f"the proxy {how}; restarted it on port {self.state.port} (pid {self.state.pid})")
                failures = 0
            except HybridccError as exc:
                self.report(f"could not restart the proxy: {exc.message}")
                backoff = min(8.0, max(0.5, backoff * 2))
