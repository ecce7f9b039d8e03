"""Upstream errors → the Anthropic errors Claude Code acts on (issue 13, shared/GATEWAY.md)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from hybridcc.proxy import errors
from hybridcc.proxy.errors import map_upstream_error

# Claude Code 2.1.332's own patterns (from the CLI bundle): compaction on overflow, and the
# max_tokens adjustment when the prompt fits but the reply would not.
CC_OVERFLOW = re.compile(r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)", re.I)
CC_MAX_TOKENS = re.compile(r"input length and `max_tokens` exceed context limit: (\d+) \+ (\d+) > (\d+)")


def mapped(status: int, body: Any, **kw: Any) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    out_status, out = map_upstream_error(status, raw, provider="local", model="qwen", **kw)
    data: dict[str, Any] = json.loads(out)
    return out_status, data


def overflow_numbers(data: dict[str, Any]) -> tuple[int, int]:
    assert data["type"] == "error"
    assert data["error"]["type"] == "invalid_request_error"
    m = CC_OVERFLOW.search(data["error"]["message"])
    assert m, data["error"]["message"]
    return int(m.group(1)), int(m.group(2))


# What each server really answers (shared/PROVIDERS.md, shared/LOCAL_MODELS.md, their sources).
LLAMACPP = {
    "error": {
        "code": 400,
        "message": "request (3030 tokens) exceeds the available context size (1024 tokens), try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 3030,
        "n_ctx": 1024,
    }
}
OPENAI = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "130512 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
VLLM = {
    "object": "error",
    "message": "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens "
    "(39000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
VLLM_DECODER = {"object": "error", "message": "The decoder prompt (length 88049) is longer than the maximum model "
                "length of 32768. Make sure that `max_model_len` is no smaller than the number of text tokens.",
                "type": "BadRequestError", "code": 400}  # fmt: skip
OLLAMA = {"error": "prompt too long; exceeded max context length by 4021 tokens"}


@pytest.mark.parametrize(
    ("status", "body", "numbers"),
    [
        (400, LLAMACPP, (3030, 1024)),
        (400, OPENAI, (130512, 128000)),
        (400, VLLM_DECODER, (88049, 32768)),
        (400, {"error": {"message": "Your request exceeded model token limit: 262144 (requested: 300000)"}},
         (300000, 262144)),
        (400, {"message": "Prompt contains 240000 tokens and 0 images, too large for model with 128000 maximum "
                          "context length", "type": "invalid_request_message_error"}, (240000, 128000)),
        (400, {"error": {"message": "The input (516368 tokens) is longer than the model's context length "
                                    "(262144 tokens)."}}, (516368, 262144)),
        # llama.cpp /v1/messages words it inside an Anthropic-shaped body: still rewritten.
        (400, {"type": "error", "error": {"type": "invalid_request_error", "message": LLAMACPP["error"]["message"]}},
         (3030, 1024)),
    ],
)  # fmt: skip
def test_overflow_wordings_become_prompt_is_too_long(status: int, body: Any, numbers: tuple[int, int]) -> None:
    out_status, data = mapped(status, body)
    assert out_status == 400
    assert overflow_numbers(data) == numbers


def test_llamacpp_fields_win_over_wording() -> None:
    body = {"error": {"type": "exceed_context_size_error", "message": "x", "n_prompt_tokens": 7, "n_ctx": 5}}
    assert overflow_numbers(mapped(400, body)[1]) == (7, 5)


def test_message_keeps_the_providers_words_after_the_pattern() -> None:
    _, data = mapped(400, LLAMACPP)
    message = data["error"]["message"]
    assert message.startswith("prompt is too long: 3030 tokens > 1024 maximum")
    assert "local" in message and "qwen" in message and "try increasing it" in message


def test_prompt_that_fits_but_leaves_no_room_for_max_tokens() -> None:
    # vLLM: 39000 + 1000 > 32768 with the prompt itself too long → compaction
    _, data = mapped(400, VLLM)
    assert overflow_numbers(data) == (39000, 32768)
    fits = json.loads(json.dumps(VLLM))
    fits["message"] = fits["message"].replace("40000", "64000").replace("39000 in", "2000 in")
    fits["message"] = fits["message"].replace("1000 in the completion", "62000 in the completion")
    _, data = mapped(400, fits)
    m = CC_MAX_TOKENS.search(data["error"]["message"])
    assert m and m.groups() == ("2000", "62000", "32768")
    newer = {"object": "error", "code": 400, "message": "'max_tokens' or 'max_completion_tokens' is too large: "
             "32000. This model's maximum context length is 32768 tokens and your request has 1200 input tokens "
             "(32000 > 32768 - 1200)."}  # fmt: skip
    _, data = mapped(400, newer)
    m = CC_MAX_TOKENS.search(data["error"]["message"])
    assert m and m.groups() == ("1200", "32000", "32768")


def test_ollama_excess_uses_the_known_window() -> None:
    assert overflow_numbers(mapped(400, OLLAMA, context_window=65536)[1]) == (65536 + 4021, 65536)
    status, data = mapped(500, OLLAMA)  # without a window: still the recognised form
    assert status == 400
    actual, limit = overflow_numbers(data)
    assert actual >= limit


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                   "type": "invalid_request_error"}},  # older llama.cpp, no numbers
        {"error": {"message": "too long", "code": "context_length_exceeded"}},
        {"error": "input length exceeds context length"},
        {"base_resp": {"status_code": 2013}, "error": {"message": "invalid params, context window exceeds limit"}},
        {"error": {"message": "model_context_window_exceeded"}},
    ],
)  # fmt: skip
def test_bare_overflow_uses_estimate_and_window(body: Any) -> None:
    assert overflow_numbers(mapped(400, body, context_window=8192, prompt_estimate=9000)[1]) == (9000, 8192)
    actual, limit = overflow_numbers(mapped(400, body)[1])  # nothing known: zeros, still matching
    assert (actual, limit) == (0, 0)


def test_anthropic_bodies_claude_code_acts_on_pass_unchanged() -> None:
    for message in (
        "prompt is too long: 210000 tokens > 200000 maximum",
        "input length and `max_tokens` exceed context limit: 190000 + 32000 > 200000",
        "messages.1.content.0: Invalid `signature` in `thinking` block",
        'Unexpected role "system". The Messages API accepts a top-level `system` parameter',
    ):
        raw = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": message}}).encode()
        assert map_upstream_error(400, raw, provider="p", model="m") == (400, raw)
    overloaded = json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).encode()
    assert map_upstream_error(529, overloaded, provider="p", model="m") == (529, overloaded)


def test_other_errors_keep_their_status_and_name_provider() -> None:
    status, data = mapped(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
    assert status == 401
    assert data["error"]["type"] == "authentication_error"
    assert data["error"]["message"] == "local (qwen) answered HTTP 401: Incorrect API key provided"
    status, data = mapped(429, b"slow down")
    assert (status, data["error"]["type"]) == (429, "rate_limit_error")
    # "maximum context length" in a 5xx that is not 500 is a server failure, not an overflow
    status, data = mapped(503, {"error": {"message": "maximum context length worker crashed"}})
    assert (status, data["error"]["type"]) == (503, "api_error")


def test_rate_limit_mentioning_tokens_is_not_an_overflow() -> None:
    body = {"error": {"message": "Rate limit reached for gpt-4.1 on tokens per min (TPM): Limit 30000, Used 29000, "
                                 "Requested 2000.", "code": "rate_limit_exceeded"}}  # fmt: skip
    status, data = mapped(429, body)
    assert status == 429 and "prompt is too long" not in data["error"]["message"]


def test_dead_type_to_status_table_is_gone() -> None:
    assert not hasattr(errors, "TYPE_TO_STATUS")


def test_unknown_window_with_known_prompt_still_matches() -> None:
    # gap 0: Claude Code compacts by its own estimate instead of trimming a made-up gap
    assert overflow_numbers(mapped(400, OLLAMA, prompt_estimate=70000)[1]) == (70000, 70000)
