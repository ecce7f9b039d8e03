"""Prefill progress from the real llama-server (issue 17): asked with `return_progress`, its
`prompt_progress` chunks reach the proxy's registry (GET /_hybridcc/progress) while the model
reads the prompt, and never reach Claude Code."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hybridcc import paths
from tests.fakes.grammar import check, parse
from tests.helpers import wait_for
from tests.proxy.conftest import RunningProxy, start_proxy  # noqa: F401  (fixture)
from tests.realmodel.conftest import ALIAS, LlamaServer, realmodel_config

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]
SESSION = "7d1f3b9a-2c4e-4f6a-8b0d-1e2f3a4b5c6d"


def test_real_llama_server_reports_prompt_progress(
    llama: LlamaServer,
    start_proxy: Callable[..., RunningProxy],  # noqa: F811
) -> None:
    realmodel_config(llama)
    proxy = start_proxy(paths.config_file().read_text(encoding="utf-8"), default_profile="local-openai")
    # ~700 tokens, a fresh prefix each run (the server's prompt cache would skip a known one).
    prompt = f"{secrets.token_hex(8)} " + "Summarize: the quick brown fox jumps over the lazy dog. " * 60
    body = {"model": ALIAS, "max_tokens": 4, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    result: dict[str, Any] = {}

    def go() -> None:
        resp = proxy.post("/v1/messages", body, headers={"x-claude-code-session-id": SESSION}, timeout=240)
        result["status"], result["raw"] = resp.status_code, resp.content

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    headers = {"authorization": f"Bearer {proxy.token}"}

    def progress() -> dict[str, Any] | None:
        got: dict[str, Any] = httpx.get(f"{proxy.url}/_hybridcc/progress", params={"session": SESSION},
                                        headers=headers, timeout=10).json()  # fmt: skip
        return got if "total" in got or "status" in result else None

    seen = wait_for(progress, timeout=240, interval=0.05, what="prompt_progress figures from llama-server")
    thread.join(240)
    assert seen.get("phase") == "prefill", f"the answer came before any progress was seen: {seen}"
    assert seen["total"] >= 500 and 0 <= seen["processed"] <= seen["total"], seen
    assert result["status"] == 200
    assert b"prompt_progress" not in result["raw"]
    check(parse(result["raw"]))
    assert proxy.app.progress.lookup(SESSION) == {"phase": "idle"}
