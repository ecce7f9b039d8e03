"""Version strings compared as numbers (`0.14.2`, `2.1.197 (Claude Code)`, `0.13.0-rc1`)."""

from __future__ import annotations

from typing import Final

OLLAMA_NATIVE_MESSAGES: Final = (0, 14, 0)  # Ollama serves Anthropic's /v1/messages since 0.14.0


def version_tuple(text: str) -> tuple[int, ...]:
    """The first three dotted parts as integers; non-digits are ignored, a missing part is 0."""
    parts: list[int] = []
    for piece in text.strip().split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
