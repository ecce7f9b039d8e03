"""Scenario routing: which rule of a profile matches a request (issue 16). Pure, no I/O.

Each kind reads only what Claude Code actually sends (shared/CLAUDE_CODE.md, GATEWAY.md):
- ``background``: its title/summary requests carry no tools and ``output_config.format`` (or
  ``thinking: disabled``), or name the haiku slot;
- ``subagent``: an ``x-claude-code-agent-id`` header (optionally one agent id) — no prompt tags;
- ``thinking``: explicit extended thinking (``type: enabled``) or an effort of ``xhigh``/``max``;
  ``adaptive`` alone does not count, since Claude Code sends it for every unknown model id;
- ``long_context``: the estimated input above ``threshold`` tokens (default 60,000);
- ``image``: an image block anywhere in the messages;
- ``web_search``: Anthropic's server web-search tool offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hybridcc.config.schema import Profile, RouteRule

LONG_CONTEXT_DEFAULT: Final = 60_000


def _has_image(content: Any) -> bool:
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "image":
                    return True
                if block.get("type") == "tool_result" and _has_image(block.get("content")):
                    return True
    return False


def _background(profile: Profile, body: Mapping[str, Any]) -> bool:
    if body.get("tools"):
        return False
    thinking = body.get("thinking")
    out_cfg = body.get("output_config")
    model = str(body.get("model") or "").lower()
    small = (profile.small_model or "").lower()
    return (
        (isinstance(out_cfg, dict) and "format" in out_cfg)
        or (isinstance(thinking, dict) and thinking.get("type") == "disabled")
        or "haiku" in model
        or (bool(small) and model == small)
    )


def _thinking(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    out_cfg = body.get("output_config")
    effort = out_cfg.get("effort") if isinstance(out_cfg, dict) else None
    return (isinstance(thinking, dict) and thinking.get("type") == "enabled") or effort in ("xhigh", "max")


def matches(rule: RouteRule, profile: Profile, body: Mapping[str, Any], headers: Mapping[str, str],
            estimate: int) -> str | None:  # fmt: skip
    """Why ``rule`` matches (a short reason), or None."""
    kind = rule.when
    if kind == "background" and _background(profile, body):
        return "a background request (no tools; title/summary shape or the haiku slot)"
    if kind == "subagent":
        agent = headers.get("x-claude-code-agent-id")
        if agent and (rule.agent is None or rule.agent == agent):
            return f"a subagent request (agent {agent})"
    if kind == "thinking" and _thinking(body):
        return "extended thinking asked for"
    if kind == "long_context":
        threshold = rule.threshold or LONG_CONTEXT_DEFAULT
        if estimate > threshold:
            return f"about {estimate} input tokens > {threshold}"
    if kind == "image":
        messages = body.get("messages")
        if isinstance(messages, list) and any(isinstance(m, dict) and _has_image(m.get("content")) for m in messages):
            return "an image in the messages"
    if kind == "web_search":
        tools = body.get("tools")
        if isinstance(tools, list) and any(
            isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools
        ):
            return "Anthropic's web search tool offered"
    return None


def first_match(profile: Profile, body: Mapping[str, Any], headers: Mapping[str, str],
                estimate: int) -> tuple[RouteRule, str] | None:  # fmt: skip
    """The first rule of ``profile`` that matches, in order, with its reason."""
    for rule in profile.routes:
        why = matches(rule, profile, body, headers, estimate)
        if why is not None:
            return rule, why
    return None
