"""The real `claude` on other engines: through real claude-code-router 2.0.0 to our fake OpenAI
upstream, and at an external Anthropic-compatible URL (our fake Anthropic upstream)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridcc import engines, paths
from hybridcc.config import load_config
from hybridcc.engines import ccr
from hybridcc.envplan import apply
from hybridcc.runner import merge_settings, settings_file
from hybridcc.services.state import read_state
from tests.conftest import write_config
from tests.e2e.conftest import KEY, ClaudeRun, session_env
from tests.e2e.test_claude_e2e import STREAM_ARGS, _anthropic_agent, _openai_agent
from tests.fakes.upstream import FakeUpstream, Handler

pytestmark = pytest.mark.e2e
Up = Callable[[Handler], FakeUpstream]
Run = Callable[..., ClaudeRun]
PROMPT = ["-p", "Run the marker command with Bash.", *STREAM_ARGS]


def _claude_on(profile: str, claude_exe: str, home: Path, workdir: Path) -> ClaudeRun:
    """What `hybridcc run -P PROFILE` does for an engine that bypasses the proxy (the runner hook):
    the engine session's env in a 0600 settings file and in claude's environment."""
    config = load_config()
    base = session_env(claude_exe, home)
    with engines.session(config, config.profiles[profile]) as env:
        settings, args = merge_settings(PROMPT, env)
        with settings_file(settings) as path:
            done = subprocess.run([claude_exe, "--settings", str(path), *args], env=apply(env, base), cwd=workdir,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240, check=False)  # fmt: skip
    events: list[dict[str, Any]] = []
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return ClaudeRun(done.returncode, events, done.stdout, done.stderr)


def test_tool_round_trip_through_claude_code_router(
    claude_exe: str, ccr_cli: str, upstream: Up, isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = upstream(_openai_agent)
    write_config(f"""
[providers.viaccr]
engine = "ccr"
base_url = "{up.url}/v1"
api_key_env = "FAKE_KEY"
[profiles.viaccr]
provider = "viaccr"
model = "fake-big"
small_model = "fake-small"
""")
    monkeypatch.setenv("FAKE_KEY", KEY)
    (tmp_path / "work").mkdir()
    res = _claude_on("viaccr", claude_exe, isolated_env, tmp_path / "work")
    assert res.code == 0, res.stderr[-2000:]
    assert res.result["subtype"] == "success" and res.result["result"] == "The command printed: hybridcc-e2e-42"
    posts = [r for r in up.requests if r.method == "POST"]
    tool_msgs = [m for r in posts for m in (r.json() or {}).get("messages", []) if m.get("role") == "tool"]
    assert tool_msgs and tool_msgs[-1]["tool_call_id"] == "call_e2e_1" and "hybridcc-e2e-42" in tool_msgs[-1]["content"]
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in posts)  # ccr holds the key, claude never
    assert {r.json()["model"] for r in posts} <= {"fake-big", "fake-small"}  # hybridcc's profile chose every model
    assert read_state(ccr.service_name(load_config().providers["viaccr"])) is None  # stopped with the session


def _external_config(url: str, *, direct: bool) -> None:
    write_config(f"""
[proxy]
port = 0
[providers.gw]
engine = "external"
base_url = "{url}"
api_key_env = "FAKE_KEY"
auth = "x-api-key"
direct = {str(direct).lower()}
[profiles.gw]
provider = "gw"
model = "gw-big"
small_model = "gw-small"
""")


def test_external_engine_through_hybridccs_proxy(run_claude: Run, upstream: Up) -> None:
    up = upstream(_anthropic_agent)
    _external_config(up.url, direct=False)
    res = run_claude("gw", PROMPT)
    assert res.code == 0, res.stderr[-2000:]
    assert res.result["result"] == "The command printed: hybridcc-e2e-42"
    posts = [r for r in up.requests if r.method == "POST" and r.path.startswith("/v1/messages")]
    assert posts and all(r.headers["x-api-key"] == KEY for r in posts)  # the key is added by the proxy
    assert any(r.method == "GET" and r.path == "/v1/models" for r in up.requests)  # run's pre-flight checked it
    assert read_state("proxy") is None


def test_external_engine_direct(
    claude_exe: str, upstream: Up, isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = upstream(_anthropic_agent)
    _external_config(up.url, direct=True)
    monkeypatch.setenv("FAKE_KEY", KEY)
    (tmp_path / "work").mkdir()
    res = _claude_on("gw", claude_exe, isolated_env, tmp_path / "work")
    assert res.code == 0, res.stderr[-2000:]
    assert res.result["result"] == "The command printed: hybridcc-e2e-42"
    posts = [r for r in up.requests if r.method == "POST" and r.path.startswith("/v1/messages")]
    assert posts and all(r.headers["x-api-key"] == KEY for r in posts)  # claude itself sends the key
    assert not paths.service_log_file("proxy").exists()  # no proxy was ever started in between
