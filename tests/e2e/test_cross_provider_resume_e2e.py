"""A session started on one provider and `--resume`d on another, with the real `claude` (issue 13).

Thinking blocks carry a signature only the provider that wrote them can verify; other tools'
users see "Invalid signature in thinking block" after switching provider. Here an Anthropic-wire
fake signs its thinking and verifies what comes back (tests/fakes/thinking_upstream.py), and an
OpenAI-wire fake answers with reasoning and refuses Anthropic-only content: each direction must
resume cleanly, with the earlier turns replayed in a form the second provider accepts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.e2e.conftest import ClaudeRun
from tests.fakes.thinking_upstream import INVALID_SIGNATURE, SignedThinking, StrictChat
from tests.fakes.upstream import FakeUpstream, Handler

pytestmark = pytest.mark.e2e
Run = Callable[..., ClaudeRun]
Up = Callable[[Handler], FakeUpstream]
JSON_OUT = ["--output-format", "json"]


def _config(signer_url: str, chat_url: str, other_signer_url: str = "http://127.0.0.1:9") -> None:
    # quirks = "anthropic": the provider keeps and verifies signed thinking, as Anthropic does.
    # One model name everywhere: Claude Code itself drops earlier thinking when the model name
    # changes (measured, 2.1.197 and 2.1.332), so the proxy's part shows only when the name stays
    # and the provider changes — two profiles on one model, or a fallback entry serving a turn.
    write_config(f"""
[proxy]
port = 0
[providers.signer]
api = "anthropic"
base_url = "{signer_url}"
api_key_env = "FAKE_KEY"
quirks = "anthropic"
[providers.signer2]
api = "anthropic"
base_url = "{other_signer_url}"
api_key_env = "FAKE_KEY"
quirks = "anthropic"
[providers.chat]
api = "openai"
base_url = "{chat_url}/v1"
api_key_env = "FAKE_KEY"
[profiles.signer]
provider = "signer"
model = "shared-model"
[profiles.signer2]
provider = "signer2"
model = "shared-model"
[profiles.chat]
provider = "chat"
model = "shared-model"
""")


def _main_bodies(up: FakeUpstream) -> list[dict[str, Any]]:
    """The conversation requests (Claude Code's background requests carry no tools)."""
    return [b for b in up.bodies() if isinstance(b, dict) and b.get("tools")]


def _transcript(home: Path, session_id: str) -> str:
    found = list((home / ".claude" / "projects").glob(f"*/{session_id}.jsonl"))
    assert found, f"no transcript for session {session_id}"
    return found[0].read_text(encoding="utf-8")


def _ok(run: ClaudeRun) -> dict[str, Any]:
    assert run.code == 0, run.output[-3000:]
    assert INVALID_SIGNATURE not in run.output
    out: dict[str, Any] = json.loads(run.stdout)
    assert out["is_error"] is False, out
    return out


def test_signed_thinking_session_resumes_on_an_openai_wire_provider(
    run_claude: Run, upstream: Up, isolated_env: Path
) -> None:
    signer, chat = SignedThinking(secret=b"signer-secret"), StrictChat()
    sup, cup = upstream(signer), upstream(chat)
    _config(sup.url, cup.url)
    first = _ok(run_claude("signer", ["-p", "remember the word PAPAYA", *JSON_OUT]))
    assert first["result"] == signer.answer
    sid = first["session_id"]
    assert signer.sign(signer.thought) in _transcript(isolated_env, sid)  # the signed block is history now

    second = _ok(run_claude("chat", ["--resume", sid, "-p", "what was the word?", *JSON_OUT]))
    assert second["session_id"] == sid and second["result"] == chat.answer
    assert not chat.refusals, chat.refusals
    replay = json.dumps(_main_bodies(cup)[-1]["messages"])
    assert "PAPAYA" in replay and signer.answer in replay and "what was the word?" in replay
    # Claude Code replayed the signed block (same model name); neither it nor its signature reached
    # a provider that did not write it.
    assert "sig-" not in replay and signer.thought not in replay


def test_openai_wire_session_resumes_on_a_signing_provider(run_claude: Run, upstream: Up, isolated_env: Path) -> None:
    signer, chat = SignedThinking(secret=b"signer-secret"), StrictChat()
    sup, cup = upstream(signer), upstream(chat)
    _config(sup.url, cup.url)
    first = _ok(run_claude("chat", ["-p", "remember the word PAPAYA", *JSON_OUT]))
    assert first["result"] == chat.answer
    sid = first["session_id"]
    assert chat.reasoning in _transcript(isolated_env, sid)  # the reasoning became an (unsigned) thinking block

    second = _ok(run_claude("signer", ["--resume", sid, "-p", "what was the word?", *JSON_OUT]))
    assert second["session_id"] == sid and second["result"] == signer.answer
    assert not signer.refusals, signer.refusals
    replay = _main_bodies(sup)[-1]["messages"]
    text = json.dumps(replay)
    assert "PAPAYA" in text and chat.answer in text and "what was the word?" in text
    # The unsigned thinking written for the chat provider's reasoning was not sent to a verifier.
    assert chat.reasoning not in text


def test_signed_session_resumes_on_another_signing_provider(run_claude: Run, upstream: Up, isolated_env: Path) -> None:
    """Two Anthropic-wire providers that both verify: the first one's signature means nothing to
    the second (a resume or a fallback between DeepSeek's Anthropic endpoint and Anthropic, say).
    The proxy tags each signature with the provider that wrote it, so the second one never gets
    the first one's thinking, and the first one still gets its own back exactly as it wrote it."""
    first_signer, second_signer = SignedThinking(secret=b"first"), SignedThinking(secret=b"second", answer="second")
    s1, s2, cup = upstream(first_signer), upstream(second_signer), upstream(StrictChat())
    _config(s1.url, cup.url, s2.url)
    sid = _ok(run_claude("signer", ["-p", "remember the word PAPAYA", *JSON_OUT]))["session_id"]
    assert f".{first_signer.sign(first_signer.thought)}" in _transcript(isolated_env, sid)  # kept tagged
    second = _ok(run_claude("signer2", ["--resume", sid, "-p", "what was the word?", *JSON_OUT]))
    assert second["result"] == "second"
    text = json.dumps(_main_bodies(s2)[-1]["messages"])
    assert "PAPAYA" in text and first_signer.answer in text
    assert not second_signer.refusals, second_signer.refusals
    assert first_signer.thought not in text and "sig-" not in text

    # Back on the first provider: its own thinking (Claude Code resends it under the same model
    # name) arrives with the signature it wrote; the second provider's is not sent to it.
    third = _ok(run_claude("signer", ["--resume", sid, "-p", "and again?", *JSON_OUT]))
    assert third["result"] == first_signer.answer
    assert not first_signer.refusals, first_signer.refusals
    replay = _main_bodies(s1)[-1]["messages"]
    signatures = [b["signature"] for m in replay if isinstance(m["content"], list) for b in m["content"]
                  if b.get("type") == "thinking"]  # fmt: skip
    assert signatures and set(signatures) == {first_signer.sign(first_signer.thought)}
