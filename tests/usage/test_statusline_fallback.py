"""The status line says "via fallback" while a fallback entry serves the session (issue 16)."""

from __future__ import annotations

import io
import json
import time

from hybridcc.config.load import load_config
from hybridcc.usage.ledger import LedgerWriter
from hybridcc.usage.statusline import main
from tests.usage.conftest import record

ENV = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:8787/p/deepseek"}


def _line(session: str) -> str:
    out = io.StringIO()
    data = {"session_id": session, "model": {"id": "deepseek-chat"}}
    assert main(io.StringIO(json.dumps(data)), out, ENV, argv=[]) == 0
    return out.getvalue()


def test_via_fallback_while_the_fallback_serves() -> None:
    writer = LedgerWriter.open_default(load_config())
    assert writer is not None
    now = time.time()  # rows older than the retention are pruned
    writer.submit(record(session_id="s1", request_id="a", ts=now - 2))
    writer.submit(record(session_id="s1", request_id="b", ts=now - 1, provider="openrouter", model_used="qwen3",
                         served_by="openrouter/qwen3", hops=["deepseek/deepseek-chat: HTTP 529"]))  # fmt: skip
    writer.submit(record(session_id="s2", request_id="c", ts=now))
    writer.close()
    assert _line("s1").startswith("deepseek · openrouter/qwen3 via fallback · ")
    assert "via fallback" not in _line("s2")
