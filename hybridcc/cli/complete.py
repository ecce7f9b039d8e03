"""Candidates for shell completion: profile and provider names, formats, shells, wires.

Called by typer's completion protocol from bash, zsh and fish (completions/); each returns the
candidates starting with what was typed, and never raises: a broken config completes nothing
rather than printing a traceback into the user's command line.
"""

from __future__ import annotations

from typing import Final

SHELLS: Final = ("bash", "zsh", "fish")
WIRES: Final = ("openai", "anthropic")


def _starting(candidates: list[str] | tuple[str, ...], incomplete: str) -> list[str]:
    return sorted(c for c in candidates if c.startswith(incomplete))


def profile_names(incomplete: str = "") -> list[str]:
    try:
        from hybridcc.config import load_config

        return _starting(list(load_config().profiles), incomplete)
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []


def provider_names(incomplete: str = "") -> list[str]:
    try:
        from hybridcc.config import load_config

        return _starting(list(load_config().providers), incomplete)
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []


def env_formats(incomplete: str = "") -> list[str]:
    from hybridcc.envplan import FORMATS

    return [f for f in FORMATS if f.startswith(incomplete)]


def shells(incomplete: str = "") -> list[str]:
    return [s for s in SHELLS if s.startswith(incomplete)]
