"""claude-code-router (``ccr``) as a supervised service, one per provider with ``engine = "ccr"``.

hybridcc owns everything ccr reads: its config lives in ``STATE/engines/ccr-NAME/home/.claude-code-
router/config.json`` (0600, in a 0700 directory) and ccr runs with that folder as its HOME and its
own TMPDIR, so the user's own ``~/.claude-code-router`` is never read or written. The provider key
reaches ccr through its environment only (see ccr_config). Health is an active probe (``GET
/health``) plus identity (the pid ccr writes in its HOME is the process we started); stop is the
same terminate → wait → kill → reap as every other service (services/process.py).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from hybridcc import httpprobe, paths
from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.engines import ccr_config
from hybridcc.errors import ConfigError, MissingToolError, ServiceError
from hybridcc.fsutil import atomic_write, file_lock, private_dir
from hybridcc.providers import resolve_key
from hybridcc.services import leases
from hybridcc.services.process import create_time, is_gone, is_same_process, spawn_detached, stop_pid, tail
from hybridcc.services.state import ServiceState, clear_state, load_state, report_repair, write_state

START_TIMEOUT: Final = 30.0  # node loads a 2.7 MB bundle: ~1 s here, more on a busy machine
ENV_BINARY: Final = "HYBRIDCC_CCR"  # a `ccr` executable or its dist/cli.js, when not on PATH
INSTALL_HINT: Final = (
    "install it (`npm install -g @musistudio/claude-code-router@2.0.0`), or set HYBRIDCC_CCR to its `ccr` "
    "executable or dist/cli.js"
)


def service_name(provider: Provider) -> str:
    """``ccr-NAME`` with NAME made safe for a file name (TOML keys may hold anything)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", provider.name)
    return f"ccr-{safe}"


def engine_dir(provider: Provider) -> Path:
    """hybridcc's folder for this provider's ccr: its HOME, its TMPDIR."""
    return paths.state_dir() / "engines" / service_name(provider)


def config_path(provider: Provider) -> Path:
    return engine_dir(provider) / "home" / ".claude-code-router" / "config.json"


def command() -> list[str]:
    """argv prefix that runs ccr: HYBRIDCC_CCR, else `ccr` on PATH; a .js file runs under node."""
    given = os.environ.get(ENV_BINARY, "").strip()
    found = given or shutil.which("ccr")
    if not found or not Path(found).is_file():
        where = f"{ENV_BINARY}={given} is not a file" if given else "no `ccr` on PATH"
        raise MissingToolError(f"claude-code-router is not installed ({where})", hint=INSTALL_HINT)
    if found.endswith((".js", ".cjs", ".mjs")):
        node = shutil.which("node")
        if not node:
            raise MissingToolError("node is not on PATH (claude-code-router runs on Node.js ≥ 20)",
                                   hint="install Node.js 20 or newer")  # fmt: skip
        return [node, found]
    return [found]


def version(argv: list[str]) -> str:
    """ccr's version from its package.json (beside dist/), without running it."""
    script = Path(argv[-1]).resolve()
    for parent in list(script.parents)[:3]:
        try:
            data = json.loads((parent / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name") == "@musistudio/claude-code-router":
            return str(data.get("version", "unknown"))
    return "unknown"


@dataclass(frozen=True)
class CcrStatus:
    state: ServiceState | None
    running: bool
    healthy: bool
    leases: int

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.state.port}" if self.state else None


def _pid_in_home(provider: Provider) -> int | None:
    try:
        return int((config_path(provider).parent / ".claude-code-router.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def healthy(provider: Provider, state: ServiceState, *, timeout: float = 1.0) -> bool:
    """``GET /health`` answers ok, and the process that wrote ccr's pid file is the one we recorded."""
    data = httpprobe.get_json(f"http://127.0.0.1:{state.port}/health", timeout=timeout)
    return isinstance(data, dict) and data.get("status") == "ok" and _pid_in_home(provider) == state.pid


def _record(provider: Provider) -> ServiceState | None:
    service = service_name(provider)
    state, problem = load_state(service)
    if problem is not None:
        clear_state(service)
        report_repair(f"{problem}; removed it (a new claude-code-router is started when needed)")
    return state


def status(provider: Provider) -> CcrStatus:
    state = _record(provider)
    running = state is not None and is_same_process(state)
    ok = running and state is not None and healthy(provider, state)
    return CcrStatus(state if running else None, running, ok, len(leases.active(service_name(provider))))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(provider: Provider, state: ServiceState) -> None:
    stop_pid(state.pid, state.create_time, timeout=10.0)
    if not is_gone(state.pid, state.create_time):
        raise ServiceError(
            f"could not stop claude-code-router (pid {state.pid}); its state record is kept",
            hint=f"stop it by hand (`kill -9 {state.pid}`), then run the command again",
        )
    clear_state(service_name(provider))


def _spawn(config: Config, provider: Provider, profile: Profile | None, key: str | None, owner: str) -> ServiceState:
    argv = [*command(), "start"]
    service = service_name(provider)
    root = private_dir(engine_dir(provider))
    home, tmp = private_dir(root / "home"), private_dir(root / "tmp")
    port = _free_port()
    data = ccr_config.build(config, provider, port=port, apikey=secrets.token_urlsafe(24), profile=profile)
    private_dir(config_path(provider).parent)
    atomic_write(config_path(provider), json.dumps(data, indent=2), mode=0o600)
    env = dict(os.environ)
    env.update(HOME=str(home), TMPDIR=str(tmp))  # ccr's files (and its ref-count file) stay in our folder
    env.pop(ccr_config.KEY_VAR, None)
    if key:
        env[ccr_config.KEY_VAR] = key
    log_path = paths.service_log_file(service)
    proc = spawn_detached(argv, env=env, log_path=log_path)
    state = ServiceState(
        service=service, pid=proc.pid, create_time=create_time(proc.pid) or time.time(), host="127.0.0.1",
        port=port, version=version(argv), started_at=time.time(), owner=owner,
        fingerprint=ccr_config.fingerprint(data, key), cmdline=[], extra={"provider": provider.name},
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if healthy(provider, state, timeout=0.5):
            write_state(state)
            return state
        time.sleep(0.05)
    if proc.poll() is None:
        stop_pid(proc.pid, None, timeout=3)
    else:
        proc.wait()
    why = f"exited with code {proc.returncode}" if proc.returncode is not None else "no healthy answer"
    lines = tail(log_path, 12)
    raise ServiceError(
        f"claude-code-router did not start on 127.0.0.1:{port} ({why} within {START_TIMEOUT:.0f}s)"
        + ("\n  " + "\n  ".join(lines) if lines else ""),
        hint=f"see {log_path}; check its config with `hybridcc config show`",
    )


def _wanted_fingerprint(config: Config, provider: Provider, profile: Profile | None, key: str | None) -> str:
    return ccr_config.fingerprint(ccr_config.build(config, provider, port=0, apikey="", profile=profile), key)


def start(config: Config, provider: Provider, *, profile: Profile | None = None,
          owner: str = "user") -> tuple[ServiceState, str]:  # fmt: skip
    """A healthy ccr for ``provider`` (reused, replaced or started); returns (state, what happened).

    Under the service's file lock, so two sessions starting at once share one ccr. A running ccr
    whose config or key changed is replaced only when no other session holds it.
    """
    if provider.engine != "ccr":
        raise ConfigError(f'provider "{provider.name}" is not served by claude-code-router (engine = "ccr")')
    key = resolve_key(provider)
    service = service_name(provider)
    with file_lock(paths.service_lock_file(service)):
        st = status(provider)
        state = st.state
        if state is not None and st.running:
            current = state.fingerprint == _wanted_fingerprint(config, provider, profile, key)
            if st.healthy and (current or st.leases):
                if owner == "user" and state.owner != "user":
                    state = replace(state, owner="user")
                    write_state(state)
                what = "already running" if current else "already running (config changed: restarts when idle)"
                return state, what
            _stop(provider, state)
            return _spawn(config, provider, profile, key, owner), "restarted (config changed or not answering)"
        clear_state(service)
        return _spawn(config, provider, profile, key, owner), "started"


def apikey(provider: Provider) -> str:
    """The key ccr asks of its clients (a random local token, like the proxy's): from its 0600 config."""
    try:
        data = json.loads(config_path(provider).read_text(encoding="utf-8"))
        return str(data["APIKEY"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ServiceError(f"claude-code-router's config {config_path(provider)} is unreadable",
                           hint="run the command again: hybridcc rewrites it when ccr starts") from exc  # fmt: skip


def stop(provider: Provider) -> bool:
    """Stop this provider's ccr. False when none was running."""
    with file_lock(paths.service_lock_file(service_name(provider))):
        state = _record(provider)
        if state is None:
            return False
        if not is_same_process(state):
            clear_state(service_name(provider))
            return False
        _stop(provider, state)
        return True


def release_if_unused(provider: Provider) -> bool:
    """Stop a session-started ccr once no session holds it. True if stopped."""
    with file_lock(paths.service_lock_file(service_name(provider))):
        state = _record(provider)
        if state is None or state.owner != "session" or leases.active(service_name(provider)):
            return False
        if is_same_process(state):
            _stop(provider, state)
        else:
            clear_state(service_name(provider))
        return True
