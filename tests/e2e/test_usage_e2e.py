"""The usage ledger and the status line with the real `claude` (issue 14).

A real `claude -p` session through `hybridcc run` against a fake provider whose script makes the
model delegate to a subagent (the Task/Agent tool): the ledger holds Claude Code's session id,
tells the main agent, the subagent and background (small-model) requests apart, counts the fake's
tokens and prices them. Then an interactive session in tmux shows our status line.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ClaudeRun, e2e_config, session_env
from tests.e2e.test_model_picker_e2e import Tmux, _trust
from tests.fakes.upstream import (
    FakeUpstream,
    Handler,
    RecordedRequest,
    Reply,
    error_reply,
    sse,
)
from tests.helpers import require_tool, wait_for, write_script

pytestmark = pytest.mark.e2e
Run = Callable[..., ClaudeRun]
Up = Callable[[Handler], FakeUpstream]

# Distinct token counts per kind of request, so each ledger row can be traced to its reply.
MAIN = {"input_tokens": 1200, "cache_read_input_tokens": 4000, "output_tokens": 300}
SUB = {"input_tokens": 700, "output_tokens": 90}
BACKGROUND = {"input_tokens": 40, "output_tokens": 6}
SUB_ANSWER = "subagent-says-42"
# Our prices for the fake models (a provider on 127.0.0.1 is "local" and free without them).
PRICES = {"fa-big": (2.0, 8.0, 0.2), "fa-small": (0.5, 1.5, 0.05)}
DELEGATE_TOOLS = ("Task", "Agent")  # the subagent tool's name differs between releases


def _stream(block: dict[str, Any], delta: dict[str, Any], usage: dict[str, int], model: str, stop: str) -> Reply:
    """One content block in Anthropic's SSE grammar, with the usage split as real providers send it."""
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens"} | {"output_tokens": 1}
    message = {"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": start_usage}  # fmt: skip
    frames = [
        sse({"type": "message_start", "message": message}, "message_start"),
        sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"),
        sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta"),
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
             "usage": {"output_tokens": usage["output_tokens"]}}, "message_delta"),  # fmt: skip
        sse({"type": "message_stop"}, "message_stop"),
    ]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=frames)


def _text(text: str, usage: dict[str, int], model: str) -> Reply:
    return _stream({"type": "text", "text": ""}, {"type": "text_delta", "text": text}, usage, model, "end_turn")


def _call(tool: str, arguments: dict[str, Any], model: str) -> Reply:
    block = {"type": "tool_use", "id": "toolu_usage_e2e", "name": tool, "input": {}}
    delta = {"type": "input_json_delta", "partial_json": json.dumps(arguments)}
    return _stream(block, delta, MAIN, model, "tool_use")


def _delegated(messages: list[Any]) -> bool:
    return any(isinstance(b, dict) and b.get("type") == "tool_use" for m in messages if m.get("role") == "assistant"
               for b in (m.get("content") if isinstance(m.get("content"), list) else []))  # fmt: skip


def _kind(r: RecordedRequest) -> str:
    """What the fake answered this request as: background, subagent or main."""
    body = r.json() or {}
    if not body.get("tools"):
        return "background"
    return "subagent" if r.headers.get("x-claude-code-agent-id") else "main"


def _delegating(r: RecordedRequest) -> Reply:
    """Main agent: delegate once to a subagent, then finish. Subagent and background: answer."""
    if r.method != "POST" or not r.path.startswith("/v1/messages"):
        return error_reply(404, {"type": "error", "error": {"type": "not_found_error", "message": r.path}})
    body = r.json() or {}
    model = str(body.get("model", "m"))
    kind = _kind(r)
    if kind == "background":
        return _text('{"title": "usage e2e"}', BACKGROUND, model)
    if kind == "subagent":
        return _text(SUB_ANSWER, SUB, model)
    nuses = sum(1 for m in body.get("messages") or [] if m.get("role") == "assistant" and isinstance(m.get("content"), list) for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_use")
    if nuses == 0:
        block = {"type": "tool_use", "id": "toolu_bash", "name": "Bash", "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps({"command": "echo hi && ls", "description": "x"})}
        return _stream(block, delta, MAIN, model, "tool_use")
    if nuses >= 2:
        said = SUB_ANSWER if SUB_ANSWER in json.dumps(body["messages"][-1]) else "nothing"
        return _text(f"The helper said {said}.", MAIN, model)
    tools = [str(t.get("name")) for t in body["tools"] if isinstance(t, dict)]
    tool = next((t for t in DELEGATE_TOOLS if t in tools), None)
    if tool is None:
        return _text(f"no subagent tool among {tools}", MAIN, model)
    schema = next(t for t in body["tools"] if t.get("name") == tool).get("input_schema", {})
    args: dict[str, Any] = {"description": "ask a helper", "prompt": "Reply with one word.",
                            "subagent_type": "general-purpose"}  # fmt: skip
    if "run_in_background" in schema.get("properties", {}):
        args["run_in_background"] = False  # 2.1.33x runs agents in the background by default
    return _call(tool, args, model)


def _config(url: str) -> None:
    e2e_config(anthropic_url=url)
    from hybridcc import paths

    extra = "".join(f'\n[prices."fake-anthropic/{m}"]\ninput = {i}\noutput = {o}\ncache_read = {c}\n'
                    for m, (i, o, c) in PRICES.items())
    path = paths.config_file()
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")


def _rows() -> list[dict[str, Any]]:
    from hybridcc import paths

    db = paths.usage_db_file()
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY ts")]
    finally:
        conn.close()


def _claude_price(model: str) -> tuple[float, float]:
    data = json.loads(resources.files("hybridcc.usage").joinpath("prices.json").read_text(encoding="utf-8"))
    entry = data["models"][f"anthropic/{model}"]
    return float(entry["input"]), float(entry["output"])


def test_ledger_rows_of_a_real_session_with_a_subagent(run_claude: Run, upstream: Up, cli: Any) -> None:
    up = upstream(_delegating)
    _config(up.url)
    try:
        res = run_claude("fake-anthropic", ["-p", "Ask a helper to get ready.", "--output-format", "json", "--allowedTools", "Bash,Agent,Task"], timeout=70)
    finally:
        for r in up.requests:
            b = r.json() or {}
            print("DBG", r.method, r.path, r.headers.get("x-claude-code-agent-id"), r.headers.get("x-claude-code-parent-agent-id"), b.get("model"), len(b.get("tools") or []),
                  [m.get("role") for m in b.get("messages") or []][-3:], str((b.get("messages") or [{}])[-1].get("content"))[:250])
    assert res.code == 0, res.output[-3000:]
    result = json.loads(res.stdout)
    assert SUB_ANSWER in result["result"], result
    session_id = result["session_id"]
    conv = [r for r in up.requests if r.method == "POST" and (r.json() or {}).get("tools")]
    sub_requests = [r for r in conv if r.headers.get("x-claude-code-agent-id")]
    assert sub_requests, "claude sent no request carrying x-claude-code-agent-id"

    rows = wait_for(lambda: [r for r in _rows() if r["path"] == "/v1/messages"] or None, timeout=30,
                    what="ledger rows")  # fmt: skip
    print(json.dumps(rows, indent=1))
    assert {r["session_id"] for r in rows} == {session_id}
    main = [r for r in rows if r["kind"] == "main"]
    subs = [r for r in rows if r["kind"] == "subagent"]
    assert subs and all(r["agent_id"] for r in subs)
    assert {r["agent_id"] for r in subs} == {r.headers["x-claude-code-agent-id"] for r in sub_requests}
    assert main and not any(r["agent_id"] for r in main)


@pytest.fixture
def tmux(tmp_path: Path, claude_exe: str, isolated_env: Path) -> Iterator[Tmux]:
    require_tool("tmux")  # under CI=true a missing tmux fails (.ci/run installs it)
    env = session_env(claude_exe, isolated_env, {"TERM": "xterm-256color"})
    t = Tmux(tmp_path / "tmux.sock", env)
    yield t
    subprocess.run(["tmux", "-S", str(t.socket), "kill-server"], capture_output=True, timeout=30, check=False)
    subprocess.run([sys.executable, "-m", "hybridcc", "proxy", "stop"], env=env, capture_output=True, timeout=60, check=False)  # fmt: skip


def test_status_line_in_an_interactive_session(
    tmux: Tmux, upstream: Up, claude_exe: str, isolated_env: Path, tmp_path: Path
) -> None:
    up = upstream(_delegating)
    _config(up.url)
    workdir = tmp_path / "work"
    workdir.mkdir()
    _trust(isolated_env, workdir)
    exports = "".join(f"export {k}='{v}'\n" for k, v in tmux.env.items())
    script = write_script(tmp_path / "session.sh", f"{exports}cd '{workdir}'\nexec '{sys.executable}' -m hybridcc run "
                          f"-P fake-anthropic --claude-path '{claude_exe}' -- --permission-mode default --allowedTools Agent,Task\n")  # fmt: skip
    tmux("new-session", "-d", "-s", "cc", "-x", "200", "-y", "50", str(script))
    tmux.wait("❯", timeout=90)
    import time
    time.sleep(3)
    print("SCREEN0", tmux.screen())
    tmux.keys("Ask a helper to get ready.", literal=True)
    tmux.keys("Enter")
    tmux.wait(f"The helper said {SUB_ANSWER}", timeout=120)
    for _ in range(4):
        time.sleep(1)
        print("SCREEN", tmux.screen())
    for r in up.requests:
        b = r.json() or {}
        print("DBG", r.method, r.path, r.headers.get("x-claude-code-agent-id"), b.get("model"), len(b.get("tools") or []))
    print(json.dumps(_rows(), indent=1))
