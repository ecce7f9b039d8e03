"""The usage ledger and the status line with the real `claude` (issue 14).

A real `claude -p` session through `hybridcc run` against a fake Anthropic-wire provider whose
script makes the model delegate to a subagent (the Agent/Task tool, on the haiku slot where the
release offers a model choice). The ledger must hold Claude Code's own session id, tell the main
agent from the subagent (``x-claude-code-agent-id``), count the fake's tokens and price them: our
``[prices]`` for the provider (a provider on 127.0.0.1 is otherwise "local" and free), Anthropic's
list prices from the shipped catalog for the baseline. Then the same script in an interactive
session in tmux: our status line shows the profile, provider/model, cost and savings.

Measured (2.1.197 and 2.1.332 under `hybridcc run`, which sets
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1): no background (tool-less) request is sent in these
sessions, and no ``x-claude-code-parent-agent-id`` on a first-level subagent's requests.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from hybridcc.usage.prices import savings_pct
from tests.conftest import CliResult
from tests.e2e.conftest import ClaudeRun, e2e_config
from tests.e2e.tmux import Tmux, trust
from tests.fakes.upstream import FakeUpstream, Handler, RecordedRequest, Reply, error_reply, sse
from tests.helpers import wait_for, write_script

pytestmark = pytest.mark.e2e
Run = Callable[..., ClaudeRun]
Up = Callable[[Handler], FakeUpstream]
Cli = Callable[..., CliResult]

# Distinct token counts per kind of request, so every ledger row can be traced to its reply.
USAGE = {
    "main": {"input_tokens": 1200, "cache_read_input_tokens": 4000, "output_tokens": 300},
    "subagent": {"input_tokens": 700, "output_tokens": 90},
    "background": {"input_tokens": 40, "output_tokens": 6},
}
SUB_ANSWER = "subagent-says-42"
# USD per million tokens (input, output, cache read) for the fake provider's models.
PRICES = {"fa-big": (2.0, 8.0, 0.2), "fa-small": (0.5, 1.5, 0.05)}
# The Claude model each slot is compared with ([usage] defaults in hybridcc.config.schema).
BASELINE = {"fa-big": "claude-sonnet-4-6", "fa-small": "claude-haiku-4-5"}
DELEGATE_TOOLS = ("Agent", "Task")  # the subagent tool's name differs between releases


# -- the fake provider ----------------------------------------------------------------------
def _stream(block: dict[str, Any], delta: dict[str, Any], usage: dict[str, int], model: str, stop: str) -> Reply:
    """One content block in Anthropic's SSE grammar, usage split as Anthropic sends it."""
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens"} | {"output_tokens": 1}
    message: dict[str, Any] = {"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": start_usage}  # fmt: skip
    frames = [
        sse({"type": "message_start", "message": message}, "message_start"),
        sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"),
        sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta"),
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
            "message_delta",
        ),
        sse({"type": "message_stop"}, "message_stop"),
    ]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=frames)


def _text(text: str, kind: str, model: str) -> Reply:
    return _stream({"type": "text", "text": ""}, {"type": "text_delta", "text": text}, USAGE[kind], model, "end_turn")


def _delegate(tool: str, schema: dict[str, Any], model: str) -> Reply:
    args: dict[str, Any] = {"description": "ask a helper", "prompt": "Reply with one word.",
                            "subagent_type": "general-purpose"}  # fmt: skip
    offered = schema.get("properties") or {}
    if "haiku" in (offered.get("model") or {}).get("enum", []):
        args["model"] = "haiku"  # the subagent on the small-model slot: a second model and baseline
    if "run_in_background" in offered:
        args["run_in_background"] = False  # 2.1.33x backgrounds agents by default
    block = {"type": "tool_use", "id": "toolu_usage_e2e", "name": tool, "input": {}}
    return _stream(block, {"type": "input_json_delta", "partial_json": json.dumps(args)}, USAGE["main"], model,
                   "tool_use")  # fmt: skip


def _kind(r: RecordedRequest) -> str:
    """What the fake answers a request as: background (no tools), subagent or main."""
    if not (r.json() or {}).get("tools"):
        return "background"
    return "subagent" if r.headers.get("x-claude-code-agent-id") else "main"


def _delegated(messages: list[Any]) -> bool:
    return any(isinstance(b, dict) and b.get("type") == "tool_use" for m in messages if m.get("role") == "assistant"
               for b in (m.get("content") if isinstance(m.get("content"), list) else []))  # fmt: skip


def _delegating(r: RecordedRequest) -> Reply:
    """Main agent: delegate once, then say what the subagent answered. Others: a plain answer."""
    if r.method != "POST" or not r.path.startswith("/v1/messages"):
        return error_reply(404, {"type": "error", "error": {"type": "not_found_error", "message": r.path}})
    body = r.json() or {}
    model, kind = str(body.get("model", "m")), _kind(r)
    if kind != "main":
        return _text(SUB_ANSWER if kind == "subagent" else '{"title": "usage e2e"}', kind, model)
    messages = body.get("messages") or []
    if _delegated(messages):
        said = SUB_ANSWER if SUB_ANSWER in json.dumps(messages[-1]) else "nothing yet"
        return _text(f"The helper said {said}.", kind, model)
    tools = {str(t.get("name")): t for t in body["tools"] if isinstance(t, dict)}
    tool = next((t for t in DELEGATE_TOOLS if t in tools), None)
    if tool is None:
        return _text(f"no subagent tool among {sorted(tools)}", kind, model)
    return _delegate(tool, tools[tool].get("input_schema") or {}, model)


def _posts(up: FakeUpstream) -> list[RecordedRequest]:
    return [r for r in up.requests if r.method == "POST" and r.path.startswith("/v1/messages")]


# -- config, ledger, expected figures -------------------------------------------------------
def _config(url: str) -> None:
    from hybridcc import paths

    e2e_config(anthropic_url=url)
    path = paths.config_file()
    prices = "".join(f'\n[prices."fake-anthropic/{m}"]\ninput = {i}\noutput = {o}\ncache_read = {c}\n'
                     for m, (i, o, c) in PRICES.items())  # fmt: skip
    path.write_text(path.read_text(encoding="utf-8") + prices, encoding="utf-8")


def _rows() -> list[dict[str, Any]]:
    from hybridcc import paths

    db = paths.usage_db_file()
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM requests WHERE path = '/v1/messages' ORDER BY ts")]
    finally:
        conn.close()


def _catalog(model: str) -> tuple[float, float, float]:
    """Anthropic's list price of a Claude model, from the catalog shipped in the package."""
    data = json.loads(resources.files("hybridcc.usage").joinpath("prices.json").read_text(encoding="utf-8"))
    e = data["models"][f"anthropic/{model}"]
    return float(e["input"]), float(e["output"]), float(e["cache_read"])


def _usd(tokens: dict[str, int], price: tuple[float, float, float]) -> float:
    return (tokens["input_tokens"] * price[0] + tokens["output_tokens"] * price[1]
            + tokens.get("cache_read_input_tokens", 0) * price[2]) / 1e6  # fmt: skip


def _complete(rows: list[dict[str, Any]], up: FakeUpstream) -> list[dict[str, Any]]:
    """The rows once there is one per request the fake answered (the writer batches them), else []."""
    return rows if len(rows) >= len(_posts(up)) else []


def _check_rows(rows: list[dict[str, Any]], up: FakeUpstream, session_id: str) -> None:
    """Every request claude sent is one ledger row with the right ids, tokens, cost and baseline."""
    sent = _posts(up)
    assert {r.headers.get("x-claude-code-session-id") for r in sent} == {session_id}
    assert len(rows) == len(sent), (rows, [_kind(r) for r in sent])
    assert {r["session_id"] for r in rows} == {session_id}
    for kind in ("main", "subagent", "background"):
        mine = [row for row in rows if row["kind"] == kind]
        theirs = [r for r in sent if _kind(r) == kind]
        assert len(mine) == len(theirs), f"{kind}: {len(mine)} ledger rows for {len(theirs)} requests"
        assert sorted(str(row["model_requested"]) for row in mine) == sorted(
            str((r.json() or {})["model"]) for r in theirs
        )
        agent_ids = {r.headers.get("x-claude-code-agent-id") for r in theirs}
        assert {row["agent_id"] for row in mine} == agent_ids, kind  # None for the main agent
    assert any(row["kind"] == "subagent" for row in rows), "no subagent request reached the ledger"
    for row in rows:
        tokens = USAGE[row["kind"]]
        assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"] or 0) == (
            tokens["input_tokens"], tokens["output_tokens"], tokens.get("cache_read_input_tokens", 0)
        ), row  # fmt: skip
        model = row["model_used"]
        assert (row["profile"], row["provider"], row["status"]) == ("fake-anthropic", "fake-anthropic", 200)
        assert row["cost_usd"] == pytest.approx(_usd(tokens, PRICES[model]), abs=1e-12)
        assert row["baseline_model"] == BASELINE[model]
        assert row["baseline_usd"] == pytest.approx(_usd(tokens, _catalog(BASELINE[model])), abs=1e-12)
        assert row["price_catalog"]


def _money(value: float) -> str:
    """The status line's money format: 4 decimals under a cent, else 2."""
    return f"${value:.4f}" if abs(value) < 0.01 else f"${value:.2f}"


# -- claude -p ------------------------------------------------------------------------------
def test_ledger_rows_of_a_real_session_with_a_subagent(run_claude: Run, upstream: Up, cli: Cli) -> None:
    up = upstream(_delegating)
    _config(up.url)
    res = run_claude("fake-anthropic", ["-p", "Ask a helper to get ready.", "--output-format", "json"], timeout=180)
    assert res.code == 0, res.output[-3000:]
    result = json.loads(res.stdout)
    assert f"The helper said {SUB_ANSWER}" in result["result"], result
    session_id = result["session_id"]
    rows = wait_for(lambda: _complete(_rows(), up), timeout=30, what="a ledger row per request")
    _check_rows(rows, up, session_id)

    shown = cli("usage", "session", "--json")  # the most recent session
    data = json.loads(shown.out)
    assert data["session_id"] == session_id and data["profiles"] == ["fake-anthropic"]
    cost, baseline = sum(r["cost_usd"] for r in rows), sum(r["baseline_usd"] for r in rows)
    assert data["total"]["requests"] == len(rows)
    assert data["total"]["cost_usd"] == pytest.approx(cost, abs=1e-6)
    assert data["total"]["savings_usd"] == pytest.approx(baseline - cost, abs=1e-6)
    pct = savings_pct(cost, baseline)
    assert pct is not None and pct > 0 and data["total"]["savings_pct"] == pct
    agents = {(a["kind"], a["agent_id"]): a["requests"] for a in data["agents"]}
    expected = {(r["kind"], r["agent_id"]): 0 for r in rows}
    for r in rows:
        expected[(r["kind"], r["agent_id"])] += 1
    assert agents == expected
    assert {m["model"] for m in data["models"]} == {r["model_used"] for r in rows}
    text = cli("usage", "session", session_id)
    subagent = next(r["agent_id"] for r in rows if r["kind"] == "subagent")
    assert session_id in text.out and "main" in text.out and f"subagent {subagent}" in text.out, text.out


# -- the status line in an interactive session ----------------------------------------------


def test_status_line_shows_the_sessions_cost_and_savings(
    tmux: Tmux, upstream: Up, claude_exe: str, isolated_env: Path, tmp_path: Path
) -> None:
    up = upstream(_delegating)
    _config(up.url)
    workdir = tmp_path / "work"
    workdir.mkdir()
    trust(isolated_env, workdir)
    exports = "".join(f"export {k}='{v}'\n" for k, v in tmux.env.items())
    # Permission prompts (2.1.33x starts in auto mode, whose check needs Anthropic's servers) are
    # not what this test is about: the delegation tool is allowed up front.
    script = write_script(tmp_path / "session.sh", f"{exports}cd '{workdir}'\nexec '{sys.executable}' -m hybridcc run "
                          f"-P fake-anthropic --claude-path '{claude_exe}' -- --permission-mode default "
                          "--allowedTools Agent,Task\n")  # fmt: skip
    tmux("new-session", "-d", "-s", "cc", "-x", "200", "-y", "50", str(script))
    tmux.wait("❯", "fake-anthropic · ", timeout=90)  # our line is there before the first request
    tmux.keys("Ask a helper to get ready.", literal=True)
    tmux.keys("Enter")
    tmux.wait(f"The helper said {SUB_ANSWER}", timeout=120)

    seen: dict[str, Any] = {}

    def line_matches_ledger() -> bool:
        """The session's figures from the ledger, as the status line must show them right now."""
        rows, screen = _complete(_rows(), up), tmux.screen()
        seen.update(rows=rows, screen=screen)
        if not rows:
            return False
        cost, baseline = sum(r["cost_usd"] for r in rows), sum(r["baseline_usd"] for r in rows)
        model = max(rows, key=lambda r: float(r["ts"]))["model_used"]  # the line names the last request's
        seen["want"] = (f"fake-anthropic · fake-anthropic/{model} · {_money(cost)} saved {_money(baseline - cost)} "
                        f"({savings_pct(cost, baseline)}%)")  # fmt: skip
        return seen["want"] in screen

    try:
        wait_for(line_matches_ledger, timeout=60, interval=0.3, what="the status line with the session's cost")
    except pytest.fail.Exception:
        print(seen.get("screen", ""), seen.get("want"), json.dumps(seen.get("rows"), indent=1), sep="\n")
        raise
    _check_rows(seen["rows"], up, seen["rows"][0]["session_id"])
