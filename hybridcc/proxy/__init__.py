"""The built-in proxy: the Anthropic Messages API for Claude Code, in front of any provider.

Layers (arrows point one way): ``app`` (ASGI, moves bytes) → ``routing`` / ``upstream`` /
``passthrough`` → ``translate`` (pure functions and the stream state machine) → ``sse``.
"""

from __future__ import annotations

from hybridcc.proxy.server import serve

__all__ = ["serve"]
