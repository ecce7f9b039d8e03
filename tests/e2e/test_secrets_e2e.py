"""Secrets with the real `claude` (issue 11, items 1 and 2).

Provider keys never reach `claude` or the commands its Bash tool runs, and the proxy token is in
no process's command line and in no file left in the state directory after the session.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from hybridcc.services.state import read_state
from tests.e2e.conftest import KEY, ClaudeRun, StartSession, e2e_config
from tests.fakes.upstream import (
    FakeUpstream,
    Handler,
    RecordedRequest,
    Reply,
    openai_json,
    openai_text_stream,
    openai_tool_stream,
)
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e
Run = Callable[..., ClaudeRun]
Up = Callable[[Handler], FakeUpstream]
STREAM_ARGS = ["--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]

# The well-known provider key variables, exported in hybridcc's own environment.
PROVIDER_KEYS = {
    "OPENROUTER_API_KEY": "sk-or-v1-e2e-secret-openrouter",
    "DEEPSEEK_API_KEY": "sk-e2e-secret-deepseek",
    "GEMINI_API_KEY": "AIza-e2e-secret-gemini",
    "OPENAI_API_KEY": "sk-proj-e2e-secret-openai",
}


def _background(body: dict[str, object]) -> Reply:
    """Titles and other tool-less background requests: a plain answer."""
    return openai_text_stream(['{"title": "e2e"}']) if body.get("stream") else openai_json('{"title": "e2e"}')


def _proxy_token() -> str:
    from hybridcc.proxy_token import read_token

    token = read_token()  # the session created it
    assert token, "no proxy token after the session started"
    return token


def _tool_results(up: FakeUpstream) -> list[str]:
    return [
        str(m.get("content"))
        for r in up.requests
        for m in (r.json() or {}).get("messages", [])
        if m.get("role") == "tool"
    ]


def test_provider_keys_and_token_never_reach_claudes_tools(run_claude: Run, upstream: Up) -> None:
    def handle(r: RecordedRequest) -> Reply:
        body = r.json() or {}
        if not body.get("tools"):
            return _background(body)
        msgs = body.get("messages", [])
        if msgs and msgs[-1].get("role") == "tool":
            return openai_text_stream(["environment printed"])
        return openai_tool_stream(
            "Bash", {"command": "env", "description": "print the environment"}, call_id="call_env"
        )

    up = upstream(handle)
    e2e_config(openai_url=up.url)
    res = run_claude("fake-openai", ["-p", "Print the environment with Bash.", *STREAM_ARGS], extra_env=PROVIDER_KEYS)
    assert res.code == 0, res.stderr
    assert res.result["result"] == "environment printed"
    results = _tool_results(up)
    assert results and "PATH=" in results[-1], f"the Bash tool did not run `env`: {results}"
    dumped = results[-1]
    secrets = {**PROVIDER_KEYS, "FAKE_KEY": KEY}  # FAKE_KEY: the profile's own api_key_env
    leaked = [name for name, value in secrets.items() if name in dumped or value in dumped]
    assert not leaked, f"provider key variables reached claude's Bash tool: {leaked}"
    # The proxy token does reach the tools: Claude Code hands ANTHROPIC_AUTH_TOKEN to them, and
    # the only way around it (apiKeyHelper) makes 2.1.332 retry 401s for ever. The tools run as
    # the same user, who can read the 0600 token file anyway; provider keys are what must not leak.
    for r in up.requests:  # nor any other request body the provider saw
        assert not [v for v in secrets.values() if v.encode() in r.body], r.path
    assert read_state("proxy") is None


def _cmdlines(root_pid: int) -> dict[int, bytes]:
    """/proc/PID/cmdline of ``root_pid``, every process under it and the proxy daemon."""
    pids = {root_pid}
    with contextlib.suppress(psutil.Error):
        pids |= {p.pid for p in psutil.Process(root_pid).children(recursive=True)}
    state = read_state("proxy")
    if state is not None:
        pids.add(state.pid)
    out: dict[int, bytes] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            out[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
    return out


def _files_holding(root: Path, secret: str) -> dict[Path, int]:
    """Every file under ``root`` whose bytes contain ``secret``, with its permission bits."""
    found: dict[Path, int] = {}
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
                found[path] = path.stat().st_mode & 0o777
    return found


def _token_file() -> Path:
    from hybridcc import paths

    return paths.token_file()


def test_proxy_token_not_on_any_command_line(start_session: StartSession, claude_exe: str, upstream: Up) -> None:
    gate = threading.Event()

    def handle(r: RecordedRequest) -> Reply:
        body = r.json() or {}
        if not body.get("tools"):
            return _background(body)
        gate.wait(60)  # the session stays mid-request until the test has looked at it
        return openai_text_stream(["checked"])

    up = upstream(handle)
    e2e_config(openai_url=up.url)
    session = start_session("fake-openai", ["-p", "hello", "--output-format", "json"], claude=claude_exe)
    try:
        wait_for(lambda: any((r.json() or {}).get("tools") for r in up.requests), timeout=60,
                 what="claude's first request")  # fmt: skip
        token = _proxy_token()
        lines = _cmdlines(session.proc.pid)
        claude_real = os.path.realpath(claude_exe)
        claudes = [
            pid
            for pid, raw in lines.items()
            if raw.split(b"\0")[0] in (claude_exe.encode(), claude_real.encode()) or _exe(pid) == claude_real
        ]
        assert claudes, f"no claude process under hybridcc: {lines}"
        on_argv = [pid for pid, raw in lines.items() if token.encode() in raw]
        assert not on_argv, f"the proxy token is on the command line of {[lines[p][:120] for p in on_argv]}"
        hcc_home = Path(os.environ["HYBRIDCC_HOME"])
        loose = {p: oct(m) for p, m in _files_holding(hcc_home, token).items() if m & 0o077}
        assert not loose, f"files holding the proxy token readable by others: {loose}"
    finally:
        gate.set()
    res = session.finish(60)
    assert res.code == 0, res.stderr
    left = set(_files_holding(Path(os.environ["HYBRIDCC_HOME"]), token)) - {_token_file()}
    assert not left, f"files holding the proxy token left after the session: {sorted(map(str, left))}"


def _exe(pid: int) -> str:
    with contextlib.suppress(psutil.Error, OSError):
        return os.path.realpath(psutil.Process(pid).exe())
    return ""


def test_killed_session_leaves_no_token_file_behind(start_session: StartSession, claude_exe: str, upstream: Up) -> None:
    """A crash (hybridcc and claude killed -9) must not leave the token in a file: the next run cleans up."""
    gate = threading.Event()

    def handle(r: RecordedRequest) -> Reply:
        body = r.json() or {}
        if not body.get("tools"):
            return _background(body)
        gate.wait(60)
        return openai_text_stream(["ok"])

    up = upstream(handle)
    e2e_config(openai_url=up.url)
    crashed = start_session("fake-openai", ["-p", "hello", "--output-format", "json"], claude=claude_exe)
    try:
        wait_for(lambda: any((r.json() or {}).get("tools") for r in up.requests), timeout=60,
                 what="claude's first request")  # fmt: skip
        tree = psutil.Process(crashed.proc.pid).children(recursive=True)
        for p in [psutil.Process(crashed.proc.pid), *tree]:
            with contextlib.suppress(psutil.Error):
                p.kill()
        crashed.proc.communicate(timeout=30)
        psutil.wait_procs(tree, timeout=30)
    finally:
        gate.set()
    again = start_session("fake-openai", ["-p", "hello", "--output-format", "json"], claude=claude_exe).finish(60)
    assert again.code == 0, again.stderr
    token = _proxy_token()
    left = set(_files_holding(Path(os.environ["HYBRIDCC_HOME"]), token)) - {_token_file()}
    assert not left, f"files holding the proxy token left after a crash and a new session: {sorted(map(str, left))}"
