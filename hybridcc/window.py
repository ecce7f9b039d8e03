"""The real context window of the model a session uses, and where that figure came from (issue 13).

Claude Code compacts and sizes its output by the window, which it does not know for a non-Claude
model. In order: the profile's ``context_window``; what a local server reports (llama.cpp
``/props`` ``n_ctx``, Ollama ``/api/show`` model info or the managed server's context length);
none. A probe is one loopback request with a short timeout, never a remote call at launch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hybridcc.config.schema import Config, Profile

PROBE_TIMEOUT_S: Final = 2.0  # one loopback request; httpx is imported only when a probe runs (start-up time)
AUTO_COMPACT_RANGE: Final = (100_000, 1_000_000)  # what CLAUDE_CODE_AUTO_COMPACT_WINDOW accepts


@dataclass(frozen=True)
class Window:
    tokens: int | None
    source: str  # "profile", "llama.cpp /props", "ollama /api/show", "unknown"


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _ollama_window(data: Any) -> int | None:
    info = data.get("model_info") if isinstance(data, dict) else None
    if isinstance(info, dict):
        for key, value in info.items():
            if key.endswith(".context_length") and isinstance(value, int):
                return value
    return None


def resolve_window(config: Config, profile: Profile, model: str | None = None) -> Window:
    if profile.context_window:
        return Window(profile.context_window, "profile")
    from hybridcc.providers import upstream_base

    provider = config.providers[profile.provider]
    base = upstream_base(provider, config.ollama)
    if not _is_loopback(base):
        return Window(None, "unknown")
    import httpx

    try:
        if provider.api == "ollama" or provider.quirks == "ollama":
            root = base.removesuffix("/v1")
            resp = httpx.post(root + "/api/show", json={"model": model or profile.model}, timeout=PROBE_TIMEOUT_S)
            found = _ollama_window(resp.json())
            if found:
                # The server runs with its own context length; the smaller of the two is what fits.
                served = config.ollama.context_length
                return Window(min(found, served) if served else found, "ollama /api/show")
        else:
            root = base.removesuffix("/v1")
            resp = httpx.get(root + "/props", timeout=PROBE_TIMEOUT_S)
            n_ctx = (resp.json().get("default_generation_settings") or {}).get("n_ctx")
            if isinstance(n_ctx, int) and n_ctx > 0:
                return Window(n_ctx, "llama.cpp /props")
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    return Window(None, "unknown")


def window_env(window: Window) -> dict[str, str]:
    """The variables that tell Claude Code the window: MAX_CONTEXT_TOKENS applies to non-Claude
    ids (ours: hybridcc sets ANTHROPIC_MODEL to the upstream name); AUTO_COMPACT_WINDOW only takes
    100k–1M, so it is set only inside that range (shared/GATEWAY.md)."""
    if not window.tokens:
        return {}
    env = {"CLAUDE_CODE_MAX_CONTEXT_TOKENS": str(window.tokens)}
    low, high = AUTO_COMPACT_RANGE
    if low <= window.tokens <= high:
        env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] = str(window.tokens)
    return env


def timeout_env(config: Config, profile: Profile) -> dict[str, str]:
    """Slow prefill on a local model must not be dropped at Claude Code's 300 s stream watchdog
    (a 335 s prefill was, issue 13): stretch it to the provider's own timeout."""
    from hybridcc.providers import upstream_base

    provider = config.providers[profile.provider]
    slow = provider.timeout > 300 or _is_loopback(upstream_base(provider, config.ollama))
    if not slow:
        return {}
    ms = int(provider.timeout * 1000)
    return {"CLAUDE_STREAM_IDLE_TIMEOUT_MS": str(max(ms, 300_000)), "API_TIMEOUT_MS": str(max(ms + 60_000, 600_000))}
