"""`hybridcc proxy serve` as a real child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx

from tests.helpers import free_port


def _wait_health(url: str, proc: subprocess.Popen[str], timeout: float = 15) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            return dict(httpx.get(url + "/health", timeout=1).json())
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("proxy never became healthy")


def test_serve_foreground_and_sigterm(hybridcc_exe: list[str]) -> None:
    port = free_port()
    proc = subprocess.Popen([*hybridcc_exe, "proxy", "serve", "--port", str(port), "--provider", "openrouter"],
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())  # fmt: skip
    try:
        health = _wait_health(f"http://127.0.0.1:{port}", proc)
        assert health["status"] == "ok" and "pid" not in health  # details only with the token
        from hybridcc.proxy_token import read_token

        full = httpx.get(f"http://127.0.0.1:{port}/health", headers={"x-api-key": read_token() or ""}).json()
        assert full["default_profile"] == "openrouter" and full["pid"] == proc.pid
        # no key in the environment: the proxy answers 401 naming the variable
        r = httpx.post(f"http://127.0.0.1:{port}/v1/messages", headers={"x-api-key": read_token() or ""},
                       json={"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
        assert r.status_code == 401 and "OPENROUTER_API_KEY" in r.json()["error"]["message"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the signal so the parent sees how it ended
    assert proc.returncode == -signal.SIGTERM
    assert "Traceback" not in err
    assert f"listening on http://127.0.0.1:{port}" in err


def test_serve_refuses_non_loopback(hybridcc_exe: list[str]) -> None:
    done = subprocess.run(
        [*hybridcc_exe, "proxy", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 3
    assert "non-loopback" in done.stderr and "--allow-remote" in done.stderr and "Traceback" not in done.stderr


def test_serve_port_taken_names_the_owner(hybridcc_exe: list[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run(
            [*hybridcc_exe, "proxy", "serve", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 6
    assert f"127.0.0.1:{port}" in done.stderr and f"pid {os.getpid()}" in done.stderr
    assert "--port" in done.stderr and "port = 0" in done.stderr
