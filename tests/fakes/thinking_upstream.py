"""Fake providers that judge replayed history the way real ones do (issue 13, sessions across providers).

- :class:`SignedThinking`: an Anthropic-wire provider that answers with a signed ``thinking``
  block before its text, and refuses — with Anthropic's own wording, "Invalid signature in
  thinking block" — any earlier thinking block whose signature it did not write.
- :class:`StrictChat`: an OpenAI-wire provider that answers with ``reasoning_content`` before its
  text, and refuses a request carrying Anthropic-only content (thinking blocks, signatures).

Handlers for :class:`tests.fakes.upstream.FakeUpstream`; each keeps the refusals it sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.upstream import RecordedRequest, Reply, error_reply, openai_chunk, openai_stream, sse

INVALID_SIGNATURE = "Invalid signature in thinking block"


@dataclass
class SignedThinking:
    secret: bytes
    thought: str = "Let me think about this."
    answer: str = "signed answer"
    refusals: list[str] = field(default_factory=list)

    def sign(self, text: str) -> str:
        return "sig-" + hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def _check(self, body: dict[str, Any]) -> str | None:
        for i, msg in enumerate(body.get("messages") or []):
            content = msg.get("content") if isinstance(msg, dict) else None
            if msg.get("role") != "assistant" or not isinstance(content, list):
                continue
            for j, block in enumerate(content):
                kind = block.get("type") if isinstance(block, dict) else None
                if kind == "thinking" and block.get("signature") != self.sign(str(block.get("thinking", ""))):
                    return f"messages.{i}.content.{j}: {INVALID_SIGNATURE}"
                if kind == "redacted_thinking":
                    return f"messages.{i}.content.{j}: Invalid `data` in redacted_thinking block"
        return None

    def __call__(self, req: RecordedRequest) -> Reply:
        if req.method != "POST" or "/v1/messages" not in req.path or "count_tokens" in req.path:
            return error_reply(404, {"type": "error", "error": {"type": "not_found_error", "message": req.path}})
        body = req.json()
        problem = self._check(body)
        if problem is not None:
            self.refusals.append(problem)
            return error_reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": problem}})
        model = str(body.get("model", "m"))
        if not body.get("stream"):
            content = [{"type": "thinking", "thinking": self.thought, "signature": self.sign(self.thought)},
                       {"type": "text", "text": self.answer}]  # fmt: skip
            data = {"id": "msg_signed", "type": "message", "role": "assistant", "model": model, "content": content,
                    "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 6}}  # fmt: skip
            return Reply(headers={"content-type": "application/json"}, body=json.dumps(data).encode())
        return Reply(headers={"content-type": "text/event-stream"}, chunks=self._frames(model))

    def _frames(self, model: str) -> list[bytes]:
        message = {"id": "msg_signed", "type": "message", "role": "assistant", "model": model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}  # fmt: skip

        def delta(index: int, payload: dict[str, Any]) -> bytes:
            return sse({"type": "content_block_delta", "index": index, "delta": payload}, "content_block_delta")

        def block(index: int, payload: dict[str, Any]) -> bytes:
            return sse({"type": "content_block_start", "index": index, "content_block": payload}, "content_block_start")

        def stop(index: int) -> bytes:
            return sse({"type": "content_block_stop", "index": index}, "content_block_stop")

        return [
            sse({"type": "message_start", "message": message}, "message_start"),
            block(0, {"type": "thinking", "thinking": "", "signature": ""}),
            delta(0, {"type": "thinking_delta", "thinking": self.thought}),
            delta(0, {"type": "signature_delta", "signature": self.sign(self.thought)}),
            stop(0),
            block(1, {"type": "text", "text": ""}),
            delta(1, {"type": "text_delta", "text": self.answer}),
            stop(1),
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 6},
                },
                "message_delta",
            ),
            sse({"type": "message_stop"}, "message_stop"),
        ]


_ANTHROPIC_ONLY = ('"thinking"', '"signature"', '"redacted_thinking"', '"signature_delta"')
_ROLES = {"system", "developer", "user", "assistant", "tool"}


@dataclass
class StrictChat:
    reasoning: str = "Reasoning from the chat provider."
    answer: str = "chat answer"
    refusals: list[str] = field(default_factory=list)

    def _check(self, body: dict[str, Any]) -> str | None:
        for i, msg in enumerate(body.get("messages") or []):
            if not isinstance(msg, dict) or msg.get("role") not in _ROLES:
                return f"messages[{i}]: invalid role"
            content = msg.get("content")
            parts = content if isinstance(content, list) else []
            for part in parts:
                if not isinstance(part, dict) or part.get("type") not in ("text", "image_url"):
                    return f"messages[{i}].content: unsupported part {str(part)[:80]}"
            text = json.dumps(msg)
            if any(marker in text for marker in _ANTHROPIC_ONLY):
                return f"messages[{i}]: unexpected Anthropic content (thinking/signature)"
        return None

    def __call__(self, req: RecordedRequest) -> Reply:
        if req.method != "POST" or not req.path.endswith("/chat/completions"):
            return error_reply(404, {"error": {"message": f"no route {req.path}", "type": "invalid_request_error"}})
        body = req.json()
        problem = self._check(body)
        if problem is not None:
            self.refusals.append(problem)
            return error_reply(400, {"error": {"message": problem, "type": "invalid_request_error", "code": None}})
        if not body.get("stream"):
            msg = {"role": "assistant", "content": self.answer, "reasoning_content": self.reasoning}
            data = {"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
                    "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 3}}  # fmt: skip
            return Reply(headers={"content-type": "application/json"}, body=json.dumps(data).encode())
        return openai_stream(
            [
                openai_chunk({"role": "assistant", "content": ""}),
                openai_chunk({"reasoning_content": self.reasoning}),
                openai_chunk({"content": self.answer}),
                openai_chunk({}, "stop"),
                {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 3}},
            ]
        )
