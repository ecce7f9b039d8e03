"""Scenario routing: which rule of a profile matches a request (issue 16). Pure, no I/O.

Each kind reads only what Claude Code actually sends (shared/CLAUDE_CODE.md, GATEWAY.md):
- ``background``: its title/summary requests carry no tools and ``output_config.format`` (or
  ``thinking: disabled``), or name the haiku slot;
- ``subagent``: an ``x-claude-code-agent-id`` header (``agent``: a glob on it; Claude Code sends
  no agent name or type, so a subagent's own ``model:`` is matched with a custom ``model`` glob)
  — no prompt tags;
- ``thinking``: explicit extended thinking (``type: enabled``) or an effort of ``xhigh``/``max``;
  ``adaptive`` alone does not count, since Claude Code sends it for every unknown model id;
- ``long_context``: the estimated input above ``threshold`` tokens (default 60,000);
- ``image``: an image block anywhere in the messages, when the model it would go to is not
  vision-capable (``[profiles.X] vision = true``, or Anthropic's own API);
- ``web_search``: Anthropic's server web-search tool offered, when the provider it would go to
  cannot run server tools (only Anthropic's own API can; elsewhere they are dropped with a
  warning, :func:`without_server_tools`);
- ``custom``: every condition of the rule's ``match`` table (slot, model glob, tools offered,
  token estimate bounds, header globs) holds — no code needed.

A top-level ``[[routes]]`` rule is in every profile's ``routes``, after the profile's own
(the validator appends it), so the order here is the whole story.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Any, Final

from hybridcc.config.schema import Config, Profile, RouteRule, RuleMatch
from hybridcc.proxy.estimate import estimate_input_tokens
from hybridcc.proxy.routing import Route, chain, is_local, is_switch, resolve, slot_of, supports_server_tools

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


def is_background(profile: Profile, body: Mapping[str, Any]) -> bool:
    """Claude Code's own small requests (titles, summaries, hooks): no tools, the small slot."""
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


def _server_tools(body: Mapping[str, Any]) -> list[str]:
    """The types of Anthropic server tools offered (``web_search_20250305``…): they carry a
    ``type`` other than ``custom`` and no ``input_schema``."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    return [
        str(t.get("type"))
        for t in tools
        if isinstance(t, dict) and t.get("type") not in (None, "custom") and "input_schema" not in t
    ]


def without_server_tools(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``body`` without Anthropic's server tools (a copy, only when there were some) and the names
    dropped — for a provider that cannot run them; the caller logs the warning."""
    dropped = _server_tools(body)
    if not dropped:
        return body, []
    kept = [t for t in body["tools"] if not (isinstance(t, dict) and str(t.get("type")) in dropped)]
    out = {k: v for k, v in body.items() if k != "tools"}
    if kept:
        out["tools"] = kept
    choice = out.get("tool_choice")
    if (
        isinstance(choice, dict)
        and choice.get("type") == "tool"
        and not any(isinstance(t, dict) and t.get("name") == choice.get("name") for t in kept)
    ):
        out.pop("tool_choice")  # it named a dropped tool
    if not kept:
        out.pop("tool_choice", None)
    return out, dropped


def _capable(config: Config | None, profile: Profile, requested: str, what: str) -> bool:
    """Can the route the request would take without rules take images (``vision``) or run
    server tools (``server_tools``)? Without ``config`` nothing is known: the rule decides alone."""
    if config is None:
        return False
    route = resolve(config, profile, requested)
    if what == "server_tools":
        return supports_server_tools(route)
    if route.provider.name == profile.provider and profile.vision is not None:
        return profile.vision
    return route.provider.quirks == "anthropic"  # every current Claude model takes images


def _tool_names(body: Mapping[str, Any]) -> list[str]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    return [str(t.get("name") or t.get("type") or "") for t in tools if isinstance(t, dict)]


Estimate = int | Callable[[], int]  # a callable is asked only by a rule that needs the figure


def _tokens(estimate: Estimate) -> int:
    return estimate() if callable(estimate) else estimate


def _custom(m: RuleMatch, profile: Profile, body: Mapping[str, Any], headers: Mapping[str, str],
            estimate: Estimate) -> str | None:  # fmt: skip
    """Why every condition of ``m`` holds, or None."""
    why = []
    model = str(body.get("model") or "")
    if m.slot is not None:
        if slot_of(profile, model) != m.slot:
            return None
        why.append(f"slot {m.slot}")
    if m.model is not None:
        if not fnmatchcase(model.lower(), m.model.lower()):
            return None
        why.append(f"model {model}")
    if m.tools:
        names = _tool_names(body)
        hit = next((n for n in names for g in m.tools if fnmatchcase(n, g)), None)
        if hit is None:
            return None
        why.append(f"tool {hit} offered")
    if m.min_tokens is not None or m.max_tokens is not None:
        tokens = _tokens(estimate)
        if (m.min_tokens is not None and tokens < m.min_tokens) or (m.max_tokens is not None and tokens > m.max_tokens):
            return None
        why.append(f"about {tokens} input tokens")
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, glob in m.headers:
        value = lowered.get(name)
        if value is None or not fnmatchcase(value, glob):
            return None
        why.append(f"header {name}")
    return "custom: " + (", ".join(why) or "no condition given")


def matches(rule: RouteRule, profile: Profile, body: Mapping[str, Any], headers: Mapping[str, str],
            estimate: Estimate, *, config: Config | None = None) -> str | None:  # fmt: skip
    """Why ``rule`` matches (a short reason), or None. With ``config``, ``image`` and
    ``web_search`` match only when the route the request would otherwise take lacks the ability."""
    kind = rule.when
    if kind == "custom" and rule.match is not None:
        return _custom(rule.match, profile, body, headers, estimate)
    if kind == "background" and is_background(profile, body):
        return "a background request (no tools; title/summary shape or the haiku slot)"
    if kind == "subagent":
        agent = headers.get("x-claude-code-agent-id")
        if agent and (rule.agent is None or fnmatchcase(agent, rule.agent)):  # `agent` is a glob
            return f"a subagent request (agent {agent})"
    if kind == "thinking" and _thinking(body):
        return "extended thinking asked for"
    if kind == "long_context":
        threshold = rule.threshold or LONG_CONTEXT_DEFAULT
        tokens = _tokens(estimate)
        if tokens > threshold:
            return f"about {tokens} input tokens > {threshold}"
    if kind == "image":
        messages = body.get("messages")
        if (
            isinstance(messages, list)
            and any(isinstance(m, dict) and _has_image(m.get("content")) for m in messages)
            and not _capable(config, profile, str(body.get("model") or ""), "vision")
        ):
            return "an image in the messages" + (", and the current model is not vision-capable" if config else "")
    web = kind == "web_search" and any(t.startswith("web_search") for t in _server_tools(body))
    if web and not _capable(config, profile, str(body.get("model") or ""), "server_tools"):
        return "Anthropic's web search tool offered" + (
            ", and the current provider cannot run server tools" if config else ""
        )
    return None


def first_match(profile: Profile, body: Mapping[str, Any], headers: Mapping[str, str],
                estimate: int | None = None, *, config: Config | None = None) -> tuple[RouteRule, str] | None:  # fmt: skip
    """The first rule of ``profile`` (its own, then the top-level ones) that matches, with its reason.
    ``estimate`` None: the input-token estimate is computed only if a rule asks for it (it costs
    ~0.2 ms on a long session's body, the rest of routing ~0.06 ms)."""
    tokens: Estimate = cache(lambda: estimate_input_tokens(dict(body))) if estimate is None else estimate
    for rule in profile.routes:
        why = matches(rule, profile, body, headers, tokens, config=config)
        if why is not None:
            return rule, why
    return None


@dataclass(frozen=True)
class Entry:
    """One entry of the chain a request would try, as `route explain` shows it."""

    route: Route
    local: bool
    note: str = ""  # "refused: …" (never tried), or the server tools it would drop


@dataclass(frozen=True)
class Explained:
    rule: RouteRule | None
    reason: str  # why the rule matched, or why none did
    entries: tuple[Entry, ...]
    refused: str | None = None  # the whole request is refused (local-only session, first entry remote)


def explain(config: Config, profile: Profile, body: Mapping[str, Any], headers: Mapping[str, str], *,
            local_only: bool = False) -> Explained:  # fmt: skip
    """Where the proxy would send ``body`` and why: the same rule, chain and privacy decisions as
    ``ProxyApp._messages`` makes (issue 16), without sending anything."""
    requested = str(body.get("model") or profile.model)
    matched = None
    if is_switch(config, profile, requested):
        reason = "an explicit provider/model switch is never rerouted"
    else:
        matched = first_match(profile, body, headers, config=config)
        reason = (
            matched[1] if matched else (f"none of {len(profile.routes)} matched" if profile.routes else "no routes")
        )
    routes = chain(config, profile, requested, first=matched[0].use if matched else None)
    local_only = local_only or profile.privacy == "local"
    why_local = "the session is local-only" if local_only and profile.privacy != "local" else "privacy = local"
    server = _server_tools(body)
    entries = []
    for route in routes:
        local = is_local(route)
        note = f"refused: not local, {why_local}" if local_only and not local else ""
        if not note and server and not supports_server_tools(route):
            note = f"drops {', '.join(server)} (server tools run only on Anthropic's API)"
        entries.append(Entry(route, local, note))
    refused = None
    if local_only and not entries[0].local:
        refused = (f"{entries[0].route.provider.name} is not local and {why_local}: the proxy answers 403 and sends "
                   f"nothing; pick a local model, or declare the host private: [providers.X] local = true")  # fmt: skip
    return Explained(matched[0] if matched else None, reason, tuple(entries), refused)
