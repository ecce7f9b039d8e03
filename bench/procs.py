"""Start the fake upstream, the hybridcc proxy and claude-code-router as child processes on 127.0.0.1.

Each proxy is started only through its public entry point (``python -m hybridcc.proxy``, ``ccr start``)
with an isolated home, and reached only over HTTP, so the benchmarks keep working while the proxy's
internals change.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).absolute().parents[1]
CCR_VERSION = "2.0.0"
CCR_PREFIX = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hybridcc-bench" / "ccr"
CCR_CLI = CCR_PREFIX / "node_modules" / "@musistudio" / "claude-code-router" / "dist" / "cli.js"
CCR_INSTALL = f"npm install --prefix {CCR_PREFIX} @musistudio/claude-code-router@{CCR_VERSION}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (http://127.0.0.1 only)
            return int(r.status) < 500
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> float:
    """Seconds until ``url`` answers below 500; fails at once if the process exits first."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before {url} came up")
        if healthy(url, 0.5):
            return time.perf_counter() - t0
        time.sleep(0.002)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def rss_mb(pid: int) -> float:
    """RSS of a process and its children (a server may fork helpers), in MiB."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


@dataclass
class Service:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    headers: dict[str, str]  # authentication and version headers for POST /v1/messages
    startup: float = 0.0
    home: Path | None = None
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Only ever a temp dir this module made: a default of Path() once made this rmtree the cwd.
        home = self.home
        if (
            home is not None
            and home.name.startswith(("hcc-bench-", "ccr-bench-"))
            and home.resolve().parent == Path(tempfile.gettempdir()).resolve()
        ):
            shutil.rmtree(home, ignore_errors=True)


def start_upstream() -> Service:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_upstream.py"), str(port)], stdout=subprocess.DEVNULL
    )
    service = Service("upstream", port, proc, {"content-type": "application/json", "authorization": "Bearer x"})
    service.startup = wait_healthy(f"http://127.0.0.1:{port}/", proc)
    return service


def hybridcc_config(upstream: int, dead: int) -> str:
    """Profiles ``oa`` (OpenAI wire, translated) and ``an`` (Anthropic wire, passthrough), and both on a dead port."""
    text = 'default_profile = "oa"\n[proxy]\nport = 0\n'
    for name, api, port in (("oa", "openai", upstream), ("an", "anthropic", upstream),
                            ("oadead", "openai", dead), ("andead", "anthropic", dead)):  # fmt: skip
        base = f"http://127.0.0.1:{port}" + ("/v1" if api == "openai" else "")
        text += f'[providers.{name}]\napi = "{api}"\nbase_url = "{base}"\napi_key_env = "BENCH_KEY"\n'
        text += f'[profiles.{name}]\nprovider = "{name}"\nmodel = "bench-model"\n'
    return text


def start_hybridcc(
    upstream: int, dead: int = 0, keep_log: bool = False, *, name: str = "hybridcc", extra_config: str = ""
) -> Service:
    """``python -m hybridcc.proxy`` (what the daemon runs) with HYBRIDCC_HOME in a temp dir.

    ``extra_config`` is appended to config.toml (e.g. ``[usage] enabled = false``); ``name`` labels
    the service's column when two hybridcc proxies are compared."""
    home = Path(tempfile.mkdtemp(prefix="hcc-bench-"))
    (home / "config.toml").write_text(hybridcc_config(upstream, dead or free_port()) + extra_config)
    token = "hcc-" + secrets.token_urlsafe(32)
    (home / "state").mkdir(mode=0o700)
    (home / "state" / "proxy.token").write_text(token + "\n")
    (home / "state" / "proxy.token").chmod(0o600)
    env = {**os.environ, "HYBRIDCC_HOME": str(home), "BENCH_KEY": "sk-bench"}
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hybridcc.proxy", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    headers = {"content-type": "application/json", "x-api-key": token, "anthropic-version": "2023-06-01"}
    service = Service(name, port, proc, headers, home=None if keep_log else home)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc)
    except BaseException:
        service.stop()
        raise
    service.startup = time.perf_counter() - t0
    # Whatever the proxy settled on (it may have replaced a token it does not accept).
    service.headers["x-api-key"] = (home / "state" / "proxy.token").read_text().strip()
    service.log = home
    return service


def ccr_installed() -> bool:
    return CCR_CLI.is_file() and shutil.which("node") is not None


def start_ccr(upstream: int) -> Service:
    """claude-code-router 2.0.0: ``node cli.js start`` serves in the foreground (``ccr start`` daemonises it).

    An isolated HOME holds ``~/.claude-code-router/config.json`` with ``LOG: false``, an APIKEY (checked
    against ``x-api-key`` or ``Authorization: Bearer``) and HOST 127.0.0.1: with an APIKEY and no HOST it
    listens on every interface."""
    home = Path(tempfile.mkdtemp(prefix="ccr-bench-"))
    key = "ccr-" + secrets.token_urlsafe(24)
    port = free_port()
    config = {
        "LOG": False,
        "HOST": "127.0.0.1",
        "PORT": port,
        "APIKEY": key,
        "API_TIMEOUT_MS": 600000,
        "Providers": [
            {
                "name": "bench",
                "api_base_url": f"http://127.0.0.1:{upstream}/v1/chat/completions",
                "api_key": "sk-bench",
                "models": ["bench-model"],
            }
        ],
        "Router": {"default": "bench,bench-model"},
    }
    (home / ".claude-code-router").mkdir()
    (home / ".claude-code-router" / "config.json").write_text(json.dumps(config, indent=2))
    env = {**os.environ, "HOME": str(home), "NO_PROXY": "127.0.0.1"}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "SERVICE_PORT"):
        env.pop(var, None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        ["node", str(CCR_CLI), "start"], env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    headers = {"content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01"}
    service = Service("ccr", port, proc, headers, home=home)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc)
    except BaseException:
        service.stop()
        raise
    service.startup = time.perf_counter() - t0
    return service
