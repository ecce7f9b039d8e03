"""Anthropic-shaped error bodies and the HTTP status → error type mapping (shared/PROTOCOL.md).

Claude Code acts on a few error wordings (shared/GATEWAY.md): above all a context overflow is
recognised only as ``prompt is too long: N tokens > M maximum`` (then it compacts) or
``input length and `max_tokens` exceed context limit: I + O > W`` (then it lowers max_tokens).
Every provider words overflow its own way, so :func:`map_upstream_error` rewrites those
wordings, on both wires, and leaves every other Anthropic-shaped body untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

STATUS_TO_TYPE: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

# What Claude Code matches (2.1.197 … 2.1.332); a rewritten message must keep matching it.
CLAUDE_CODE_OVERFLOW: Final = re.compile(r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)", re.I)
CLAUDE_CODE_MAX_TOKENS: Final = re.compile(r"input length and `max_tokens` exceed context limit: \d+ \+ \d+ > \d+")


def error_type_for(status: int) -> str:
    return STATUS_TO_TYPE.get(status, "api_error")


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


class ProxyError(Exception):
    """A failure answered as an Anthropic error (before any byte of the response was sent)."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        retryable: bool = True,
    ):
        super().__init__(message)
        self.status = status
        self.error_type = error_type or error_type_for(status)
        self.message = message
        self.headers = headers or {}
        # False: no retry can fix it; answered with `x-should-retry: false` (Claude Code shows it at once).
        self.retryable = retryable


def upstream_json(body: bytes, *, provider: str) -> dict[str, Any]:
    """A provider's non-streaming answer as a JSON object, or a 502 naming the provider (never a
    traceback). Not retried by Claude Code: asking again rarely mends a broken answer, and ten
    retries with back-off are minutes of silence (issue 12 item 1)."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ProxyError(
            502, f"provider {provider} sent a response that is not JSON", "api_error", retryable=False
        ) from exc
    if not isinstance(data, dict):
        raise ProxyError(502, f"provider {provider} sent an unusable response", "api_error", retryable=False)
    return data


def answered_without_answer(provider: str, data: dict[str, Any], what: str) -> ProxyError:
    """A 200 whose body is an error object, or has no answer in it: never a fake success."""
    err = data.get("error")
    detail = err.get("message") if isinstance(err, dict) else err
    return ProxyError(
        502, f"provider {provider} answered 200 without {what}: {detail or 'no details'}", "api_error", retryable=False
    )


def _extract_message(data: Any) -> str | None:
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
            if isinstance(msg, str):
                return msg
        if isinstance(err, str):
            return err
        for key in ("message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    if isinstance(data, list) and data:
        return _extract_message(data[0])
    return None


# --- context overflow -------------------------------------------------------------------


@dataclass(frozen=True)
class Overflow:
    """A provider's "the request does not fit" error, with what its wording told us."""

    prompt_tokens: int | None = None  # the prompt alone
    limit: int | None = None  # the context window
    output_tokens: int | None = None  # the completion part, when the provider split it out
    excess: int | None = None  # Ollama says only how far over the window the prompt was


_N = r"(\d[\d,]*)"
# (pattern, names of its groups in order). First match wins; numbers may carry thousands commas.
_WORDINGS: Final[tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]] = tuple(
    (re.compile(p, re.I), g)
    for p, g in (
        # OpenAI, vLLM, Groq: "This model's maximum context length is M tokens. However, you requested
        # N tokens (P in the messages, O in the completion)" / "…your messages resulted in N tokens".
        (rf"maximum context length is {_N} tokens?.*?requested {_N} tokens? \({_N} in the messages, {_N} in the "
         r"completion\)", ("limit", "total", "prompt", "output")),
        (rf"maximum context length is {_N} tokens?.*?(?:messages resulted in|requested) {_N} tokens?",
         ("limit", "prompt")),
        # vLLM ≥ 0.6: "'max_tokens' … is too large: O. This model's maximum context length is M tokens
        # and your request has P input tokens (O > M - P)".
        (rf"too large: {_N}\..*?maximum context length is {_N} tokens? and your request has {_N} input tokens",
         ("output", "limit", "prompt")),
        # llama.cpp: "request (N tokens) exceeds the available context size (M tokens), try increasing it".
        (rf"request \({_N} tokens?\) exceeds the available context size \({_N} tokens?\)", ("prompt", "limit")),
        # vLLM: "The decoder prompt (length N) is longer than the maximum model length of M".
        (rf"prompt \(length {_N}\) is longer than the maximum model length of {_N}", ("prompt", "limit")),
        # vLLM (older): "Input prompt (N tokens) is too long and exceeds limit of M".
        (rf"prompt \({_N} tokens?\) is too long and exceeds limit of {_N}", ("prompt", "limit")),
        # Together: "The input (N tokens) is longer than the model's context length (M tokens)".
        (rf"input \({_N} tokens?\) is longer than the model's context length \({_N} tokens?\)", ("prompt", "limit")),
        # Mistral: "Prompt contains N tokens … too large for model with M maximum context length".
        (rf"prompt contains {_N} tokens?.*?too large for model with {_N} maximum context length",
         ("prompt", "limit")),
        # xAI: "This model's maximum prompt length is M but the request contains N tokens".
        (rf"maximum prompt length is {_N} but the request contains {_N} tokens?", ("limit", "prompt")),
        # Kimi: "Your request exceeded model token limit: M (requested: N)".
        (rf"exceeded model token limit: {_N} \(requested: {_N}\)", ("limit", "prompt")),
        # Ollama: "prompt too long; exceeded max context length by K tokens".
        (rf"exceeded max context length by {_N} tokens?", ("excess",)),
        # DashScope / Qwen: "Range of input length should be [1, M]".
        (rf"range of input length should be \[1, {_N}\]", ("limit",)),
    )
)  # fmt: skip
# Overflow wordings that carry no numbers (or none we trust).
_BARE: Final = (
    "exceed_context_size_error",  # llama.cpp error type
    "exceeds the available context size",  # llama.cpp, LM Studio
    "context_length_exceeded",  # OpenAI error code
    "model_context_window_exceeded",  # Z.ai
    "context window exceeds limit",  # MiniMax
    "input length exceeds context length",  # Ollama
    "input length exceeds the context length",
    "greater than the context length",  # LM Studio: "tokens to keep … is greater than the context length"
    "maximum context length",
    "reduce the length of the messages",
)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def find_overflow(data: Any, text: str) -> Overflow | None:
    """The overflow an error body describes (parsed JSON ``data`` and its raw ``text``), or None."""
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and isinstance(err.get("n_prompt_tokens"), int) and isinstance(err.get("n_ctx"), int):
        return Overflow(prompt_tokens=err["n_prompt_tokens"], limit=err["n_ctx"])  # llama.cpp's own fields
    flat = " ".join(text.split())
    for pattern, names in _WORDINGS:
        m = pattern.search(flat)
        if m:
            found = {name: _int(v) for name, v in zip(names, m.groups(), strict=True)}
            found.pop("total", None)
            return Overflow(
                prompt_tokens=found.get("prompt"),
                limit=found.get("limit"),
                output_tokens=found.get("output"),
                excess=found.get("excess"),
            )
    lowered = flat.lower()
    if any(w in lowered for w in _BARE) or ("prompt too long" in lowered and "context" in lowered):
        return Overflow()
    return None


def overflow_message(found: Overflow, *, context_window: int | None = None, prompt_estimate: int | None = None) -> str:
    """The wording Claude Code acts on for ``found``, using what the caller knows for the gaps.

    A prompt that fits but leaves no room for ``max_tokens`` gets the max_tokens form (Claude Code
    then retries with a smaller max_tokens instead of compacting a conversation that fits).
    Unknown numbers fall back to the profile's window and the proxy's own estimate; when nothing
    is known both are 0, which Claude Code reads as "no gap" and compacts with its own estimate.
    """
    limit = found.limit or context_window
    prompt = found.prompt_tokens
    if prompt is None and found.excess is not None and limit:
        prompt = limit + found.excess
    if prompt is None:
        prompt = prompt_estimate
    if found.output_tokens is not None and prompt is not None and limit and prompt < limit:
        return f"input length and `max_tokens` exceed context limit: {prompt} + {found.output_tokens} > {limit}"
    if prompt is None:
        prompt = limit or 0
    return f"prompt is too long: {prompt} tokens > {limit if limit is not None else prompt} maximum"


def _is_anthropic_error(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("type") == "error"
        and isinstance(data.get("error"), dict)
        and isinstance(data["error"].get("type"), str)
    )


def map_upstream_error(
    status: int,
    body: bytes,
    *,
    provider: str,
    model: str,
    context_window: int | None = None,
    prompt_estimate: int | None = None,
) -> tuple[int, bytes]:
    """An upstream error response → (status, Anthropic error body).

    A body already in Anthropic's shape passes unchanged (Claude Code matches some wording:
    rejected thinking, signatures, mid-conversation system messages) unless it is an overflow in
    a wording Claude Code does not recognise. Any provider's context overflow becomes a 400
    ``invalid_request_error`` in the form Claude Code compacts on; ``context_window`` (the
    profile's) and ``prompt_estimate`` (the proxy's count) fill in numbers the provider left out.
    """
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    detail = _extract_message(data) or text.strip()[:500] or "no details"
    if _is_anthropic_error(data) and (CLAUDE_CODE_OVERFLOW.search(detail) or CLAUDE_CODE_MAX_TOKENS.search(detail)):
        return status, body
    if 400 <= status < 500 or status == 500:  # Ollama has answered overflow with a 500
        found = find_overflow(data, text)
        if found is not None:
            message = overflow_message(found, context_window=context_window, prompt_estimate=prompt_estimate)
            # The provider's own words follow, for the user; Claude Code's regex reads the start.
            return 400, error_body("invalid_request_error", f"{message} ({provider}, {model}: {detail[:300]})")
    if _is_anthropic_error(data):
        return status, body
    out_status = status if status in STATUS_TO_TYPE or 400 <= status < 600 else 502
    message = f"{provider} ({model}) answered HTTP {status}: {detail}"
    return out_status, error_body(error_type_for(out_status), message)
