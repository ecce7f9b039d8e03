"""hybridcc — run Claude Code and Claude Agent SDK programs on any inference provider."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
