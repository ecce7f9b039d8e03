"""Ollama's lifecycle: detect, start (`ollama serve` with hybridcc's settings), stop, models, pull.

A server hybridcc did not start (the user's own, or a remote host) is never stopped; a remote
host is never started, only checked.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hybridcc import httpprobe, paths
from hybridcc.config.schema import Config
from hybridcc.errors import MissingToolError, ModelError, ServiceError
from hybridcc.fsutil import atomic_write, file_lock
from hybridcc.providers import is_local_url, ollama_base_url
from hybridcc.services import leases
from hybridcc.services.process import create_time, is_same_process, spawn_detached, stop_pid, tail
from hybridcc.services.state import ServiceState, clear_state, load_state, read_state, report_repair, write_state
from hybridcc.versions import OLLAMA_NATIVE_MESSAGES, version_tuple

SERVICE = "ollama"
START_TIMEOUT = 30.0
INSTALL_HINT = "install Ollama from https://ollama.com/download, or set `binary` under [ollama] in config.toml"


@dataclass(frozen=True)
class OllamaStatus:
    url: str
    local: bool
    running: bool
    version: str | None
    managed: bool  # hybridcc started it (and knows its context length)
    state: ServiceState | None
    context_length: int | None
    leases: int
    models: list[str] = field(default_factory=list)

    @property
    def native_messages(self) -> bool:
        return bool(self.version) and version_tuple(self.version or "0") >= OLLAMA_NATIVE_MESSAGES


def base_url(config: Config) -> str:
    provider = config.providers.get("ollama")
    if provider is not None and provider.base_url:
        return provider.base_url
    return ollama_base_url(config.ollama)


def server_version(url: str, timeout: float = 1.0) -> str | None:
    data = httpprobe.get_json(url + "/api/version", timeout=timeout)
    return str(data["version"]) if isinstance(data, dict) and "version" in data else None


def list_models(url: str, timeout: float = 5.0) -> list[str]:
    data = httpprobe.get_json(url + "/api/tags", timeout=timeout)
    models = data.get("models") if isinstance(data, dict) else None
    return [str(m["name"]) for m in models if isinstance(m, dict) and "name" in m] if isinstance(models, list) else []


def _read_record() -> ServiceState | None:
    """The record, or None; an unreadable one is removed and said (Ollama is found by its URL)."""
    state, problem = load_state(SERVICE)
    if problem is not None:
        clear_state(SERVICE)
        report_repair(f"{problem}; removed it (a running Ollama is still found at its URL)")
    return state


def status(config: Config, *, with_models: bool = False) -> OllamaStatus:
    url = base_url(config)
    state = _read_record()
    managed = state is not None and is_same_process(state) and state.extra.get("url") == url
    if state is not None and not managed and not is_same_process(state):
        clear_state(SERVICE)  # stale record of a server that died
        state = None
    version = server_version(url)
    models = list_models(url) if (with_models and version) else []
    return OllamaStatus(
        url=url, local=is_local_url(url), running=version is not None, version=version, managed=managed,
        state=state if managed else None,
        context_length=int(state.extra.get("context_length", 0)) if (managed and state) else None,
        leases=len(leases.active(SERVICE)), models=models,
    )  # fmt: skip


def find_binary(config: Config) -> str:
    found = shutil.which(config.ollama.binary)
    if not found:
        raise MissingToolError(f"ollama is not installed (no `{config.ollama.binary}` on PATH)", hint=INSTALL_HINT)
    return found


def start(config: Config, *, owner: str = "user") -> tuple[OllamaStatus, str]:
    """Make sure a server answers at the configured host; start `ollama serve` if it is local."""
    with file_lock(paths.service_lock_file(SERVICE)):
        st = status(config)
        if st.running:
            if st.managed and st.state is not None and owner == "user" and st.state.owner != "user":
                from dataclasses import replace

                write_state(replace(st.state, owner="user"))
            return st, "already running" if st.managed else "already running (not started by hybridcc)"
        if not st.local:
            raise ServiceError(
                f"Ollama at {st.url} is not reachable (a remote host: hybridcc only checks it, never starts it)",
                hint="start Ollama on that host, or point [ollama].host / OLLAMA_HOST at a local one",
            )
        binary = find_binary(config)
        parts = urlsplit(st.url)
        env = dict(os.environ)
        env.update(
            OLLAMA_HOST=f"{parts.hostname}:{parts.port}",
            OLLAMA_CONTEXT_LENGTH=str(config.ollama.context_length),
            OLLAMA_KEEP_ALIVE=config.ollama.keep_alive,
            OLLAMA_NUM_PARALLEL=str(config.ollama.num_parallel),
        )
        log_path = paths.service_log_file("ollama")
        proc = spawn_detached([binary, "serve"], env=env, log_path=log_path)
        deadline = time.monotonic() + START_TIMEOUT
        version = None
        while time.monotonic() < deadline and proc.poll() is None:
            version = server_version(st.url, timeout=0.5)
            if version:
                break
            time.sleep(0.05)
        if not version:
            if proc.poll() is None:
                stop_pid(proc.pid, None, timeout=3)
            lines = tail(log_path, 10)
            raise ServiceError(
                f"`ollama serve` did not answer at {st.url} within {START_TIMEOUT:.0f}s"
                + ("\n  " + "\n  ".join(lines) if lines else ""),
                hint=f"see {log_path}",
            )
        import psutil

        state = ServiceState(
            service=SERVICE, pid=proc.pid, create_time=create_time(proc.pid) or time.time(), host=str(parts.hostname),
            port=int(parts.port or 11434), version=version, started_at=time.time(), owner=owner,
            cmdline=psutil.Process(proc.pid).cmdline(),
            extra={"url": st.url, "context_length": config.ollama.context_length},
        )  # fmt: skip
        write_state(state)
        return status(config), "started"


def stop(config: Config) -> str:
    """Stop a server hybridcc started. Returns what happened (never stops the user's own)."""
    with file_lock(paths.service_lock_file(SERVICE)):
        st = status(config)
        if st.managed and st.state is not None:
            stop_pid(st.state.pid, st.state.create_time)
            clear_state(SERVICE)
            return "stopped"
        if st.running:
            return "running, but not started by hybridcc: left alone"
        return "not running"


def release_if_unused(config: Config) -> bool:
    with file_lock(paths.service_lock_file(SERVICE)):
        state = read_state(SERVICE)
        if state is None or state.owner != "session" or config.ollama.keep_running or leases.active(SERVICE):
            return False
        if is_same_process(state):
            stop_pid(state.pid, state.create_time)
        clear_state(SERVICE)
        return True


# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    name: str
    capabilities: list[str]
    context_length: int | None

    @property
    def tools(self) -> bool:
        return "tools" in self.capabilities


def show(url: str, model: str, timeout: float = 10.0) -> ModelInfo | None:
    data = httpprobe.get_json(url + "/api/show", timeout=timeout, method="POST", body={"model": model})
    if not isinstance(data, dict):
        return None
    info = data.get("model_info") or {}
    ctx = next((int(v) for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)), None)
    return ModelInfo(model, [str(c) for c in data.get("capabilities") or []], ctx)


@dataclass(frozen=True)
class PullProgress:
    status: str
    total: int | None
    completed: int | None


def pull(url: str, model: str) -> Iterator[PullProgress]:
    """Stream `/api/pull` NDJSON. Interrupting leaves Ollama's partial download to resume."""
    import json

    import httpx

    try:
        with (
            httpx.Client(timeout=httpx.Timeout(connect=5.0, read=600.0, write=30.0, pool=5.0)) as client,
            client.stream("POST", url + "/api/pull", json={"model": model, "stream": True}) as resp,
        ):
            if resp.status_code >= 400:
                resp.read()
                raise ModelError(f"ollama could not pull {model}: HTTP {resp.status_code} {resp.text.strip()[:200]}")
            for line in resp.iter_lines():
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if "error" in item:
                    raise ModelError(
                        f"ollama could not pull {model}: {item['error']}",
                        hint="check the model name at https://ollama.com/library",
                    )
                yield PullProgress(str(item.get("status", "")), item.get("total"), item.get("completed"))
    except httpx.HTTPError as exc:
        raise ServiceError(f"lost the connection to Ollama at {url} while pulling {model} ({exc})") from exc


def ensure_model(
    config: Config, model: str, *, force: bool = False, progress: Callable[[PullProgress], None] | None = None
) -> ModelInfo | None:
    """The model is present (pulled if not) and can call tools (else ModelError unless force)."""
    url = base_url(config)
    if model not in list_models(url) and f"{model}:latest" not in list_models(url):
        for item in pull(url, model):
            if progress:
                progress(item)
    info = show(url, model)
    if info is not None and info.capabilities and not info.tools and not force:
        capable = [m for m in list_models(url)[:25] if (i := show(url, m)) is not None and i.tools]
        raise ModelError(
            f"{model} cannot call tools, so it cannot drive Claude Code",
            hint=(
                "local models that can: " + ", ".join(capable)
                if capable
                else "pull one that can, e.g. `hybridcc ollama pull qwen3-coder:30b`"
            )
            + " — or pass --force to try anyway",
        )
    return info


def context_warning(config: Config, st: OllamaStatus) -> str | None:
    """When hybridcc did not start the server it cannot know its context length: warn once per URL."""
    if st.managed or not st.running:
        return None
    marker = paths.state_dir() / "ollama-context-warned"
    try:
        seen = marker.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):  # unreadable marker: warn again rather than fail
        seen = []
    if st.url in seen:
        return None
    atomic_write(marker, "\n".join([*seen, st.url]) + "\n")
    return (
        f"Ollama at {st.url} was not started by hybridcc, so its context window is unknown; Claude Code needs "
        f"≥ {config.ollama.min_context} tokens. Fix: restart it as `OLLAMA_CONTEXT_LENGTH={config.ollama.context_length} "
        "ollama serve`, or stop it and let hybridcc manage it"
    )
