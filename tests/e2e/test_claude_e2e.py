"""The real `claude` CLI, launched by `hybridcc run`, against fake upstreams on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridcc.services.state import read_state
from tests.e2e.conftest import ClaudeRun, e2e_config
from tests.fakes.upstream import (
    FakeUpstream,
    Handler,
    RecordedRequest,
    Reply,
    anthropic_text_stream,
    anthropic_tool_stream,
    error_reply,
    openai_json,
    openai_text_stream,
    openai_tool_stream,
)

pytestmark = pytest.mark.e2e
Run = Callable[..., ClaudeRun]
Up = Callable[[Handler], FakeUpstream]
COMMAND = "echo hybridcc-e2e-$((6*7))"
STREAM_ARGS = ["--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]


def _openai_agent(r: RecordedRequest) -> Reply:
    body = r.json() or {}
    msgs = body.get("messages", [])
    if not body.get("tools"):  # background work (titles…): a plain answer
        return openai_text_stream(['{"title": "e2e"}']) if body.get("stream") else openai_json('{"title": "e2e"}')
    if msgs and msgs[-1]["role"] == "tool":
        return openai_text_stream(["The command printed: ", msgs[-1]["content"].strip()])
    return openai_tool_stream("Bash", {"command": COMMAND, "description": "print a marker"}, call_id="call_e2e_1")


def _anthropic_agent(r: RecordedRequest) -> Reply:
    body = r.json() or {}
    if not r.path.startswith("/v1/messages"):
        return error_reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "nope"}})
    if not body.get("tools"):
        return anthropic_text_stream(['{"title": "e2e"}'], model=body.get("model", "m"))
    last = body["messages"][-1]
    results = (
        [b for b in last.get("content", []) if isinstance(b, dict) and b.get("type") == "tool_result"]
        if isinstance(last.get("content"), list)
        else []
    )
    if results:
        content = results[0]["content"]
        text = content if isinstance(content, str) else "".join(c.get("text", "") for c in content)
        return anthropic_text_stream(["The command printed: ", text.strip()], model=body["model"])
    return anthropic_tool_stream(
        "Bash", {"command": COMMAND, "description": "print a marker"}, tool_id="toolu_e2e_1", model=body["model"]
    )


def _no_claude_model_upstream(up: FakeUpstream) -> None:
    models = [(r.json() or {}).get("model", "") for r in up.requests if r.method == "POST"]
    assert models and not any("claude" in m.lower() for m in models), models


def test_openai_wire_tool_round_trip(run_claude: Run, upstream: Up) -> None:
    up = upstream(_openai_agent)
    e2e_config(openai_url=up.url)
    res = run_claude("fake-openai", ["-p", "Run the marker command with Bash.", *STREAM_ARGS])
    assert res.code == 0, res.stderr
    assert res.result["subtype"] == "success" and res.result["is_error"] is False
    assert res.result["result"] == "The command printed: hybridcc-e2e-42"
    tool_msgs = [m for r in up.requests for m in (r.json() or {}).get("messages", []) if m.get("role") == "tool"]
    assert tool_msgs and tool_msgs[-1]["tool_call_id"] == "call_e2e_1" and "hybridcc-e2e-42" in tool_msgs[-1]["content"]
    # `run` asks first: its context-window probe (GET /props on a loopback server) and its
    # pre-flight (GET /models, with the key); the first POST is claude's.
    assert any(r.method == "GET" and r.path.endswith("/models") and r.headers.get("authorization") for r in up.requests)
    first = next(r for r in up.requests if r.method == "POST")
    assert first.headers["authorization"] == "Bearer sk-fake-provider-key-e2e"  # the provider key, added by the proxy
    assert first.json()["stream"] is True and first.json()["stream_options"] == {"include_usage": True}
    _no_claude_model_upstream(up)
    assert read_state("proxy") is None  # the proxy started for this session is gone


def test_anthropic_wire_passthrough_round_trip(run_claude: Run, upstream: Up) -> None:
    up = upstream(_anthropic_agent)
    e2e_config(anthropic_url=up.url)
    res = run_claude("fake-anthropic", ["-p", "Run the marker command with Bash.", *STREAM_ARGS])
    assert res.code == 0, res.stderr
    assert res.result["subtype"] == "success" and res.result["result"] == "The command printed: hybridcc-e2e-42"
    posts = [r for r in up.requests if r.method == "POST" and r.path.startswith("/v1/messages")]
    last = posts[-1].json()["messages"][-1]["content"]
    assert any(b.get("type") == "tool_result" and b.get("tool_use_id") == "toolu_e2e_1" for b in last)
    assert posts[0].headers["x-api-key"] == "sk-fake-provider-key-e2e" and "authorization" not in posts[0].headers
    assert "claude-code" in posts[0].headers.get("anthropic-beta", "")  # forwarded verbatim
    _no_claude_model_upstream(up)


def _texts(body: dict[str, Any]) -> str:
    return json.dumps(body.get("messages", []))


def test_resume_and_fork_replay_history(run_claude: Run, upstream: Up) -> None:
    counter = {"n": 0}

    def handle(r: RecordedRequest) -> Reply:
        body = r.json() or {}
        if not body.get("tools"):
            return (
                openai_json('{"title": "e2e"}') if not body.get("stream") else openai_text_stream(['{"title": "e2e"}'])
            )
        counter["n"] += 1
        return openai_text_stream([f"answer number {counter['n']}"])

    up = upstream(handle)
    e2e_config(openai_url=up.url)
    first = run_claude("fake-openai", ["-p", "remember the word PAPAYA", "--output-format", "json"])
    assert first.code == 0, first.stderr
    sid = json.loads(first.stdout)["session_id"]
    second = run_claude("fake-openai", ["--resume", sid, "-p", "what was the word?", "--output-format", "json"])
    assert second.code == 0, second.stderr
    out2 = json.loads(second.stdout)
    assert out2["session_id"] == sid
    main_requests = [r.json() for r in up.requests if (r.json() or {}).get("tools")]
    replay = _texts(main_requests[-1])
    assert "PAPAYA" in replay and "answer number 1" in replay and "what was the word?" in replay
    forked = run_claude("fake-openai", ["--resume", sid, "--fork-session", "-p", "and now?", "--output-format", "json"])
    assert forked.code == 0, forked.stderr
    out3 = json.loads(forked.stdout)
    assert out3["session_id"] != sid
    replay = _texts([r.json() for r in up.requests if (r.json() or {}).get("tools")][-1])
    assert "PAPAYA" in replay and "what was the word?" in replay and "and now?" in replay


def test_failing_upstream_exit_code_propagates(run_claude: Run, upstream: Up, claude_exe: str, tmp_path: Path) -> None:
    up = upstream(
        lambda r: error_reply(
            400, {"error": {"message": "this provider rejects everything", "type": "invalid_request_error"}}
        )
    )
    e2e_config(openai_url=up.url)
    # A wrapper records claude's own exit code, so we can compare it with hybridcc's.
    wrapper = tmp_path / "claude-wrapper"
    record = tmp_path / "claude-code.txt"
    wrapper.write_text(f'#!/bin/sh\n"{claude_exe}" "$@"\ncode=$?\necho $code > "{record}"\nexit $code\n')
    wrapper.chmod(0o755)
    done = run_claude("fake-openai", ["-p", "hello", "--output-format", "json"], claude=str(wrapper),
                      extra_env={"FAKE_KEY": "k"})  # fmt: skip
    claude_code = int(record.read_text().strip())
    assert claude_code != 0
    assert done.code == claude_code
    assert "this provider rejects everything" in done.output
    assert read_state("proxy") is None


def test_background_and_subagent_requests_never_name_claude_models(run_claude: Run, upstream: Up) -> None:
    up = upstream(_openai_agent)
    e2e_config(openai_url=up.url)
    res = run_claude("fake-openai", ["-p", "Run the marker command with Bash.", *STREAM_ARGS])
    assert res.code == 0, res.stderr
    _no_claude_model_upstream(up)
    used = {(r.json() or {}).get("model") for r in up.requests if r.method == "POST"}
    assert used <= {"fake-big", "fake-small"}, used
