"""Shared helpers for the usage tests: a config file, ledger rows, a loaded Config."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest


def write_config(text: str) -> Path:
    from hybridcc import paths

    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def record(**overrides: Any) -> dict[str, Any]:
    """A request record shaped like the one the proxy logs to requests.jsonl."""
    base: dict[str, Any] = {
        "request_id": "req_0001",
        "path": "/p/deepseek/v1/messages",
        "profile": "deepseek",
        "provider": "deepseek",
        "model_requested": "deepseek-chat",
        "model_used": "deepseek-chat",
        "wire": "anthropic",
        "stream": True,
        "status": 200,
        "upstream_status": 200,
        "ttfb_ms": 120.5,
        "latency_ms": 900.0,
        "ts": time.time(),
        "input_tokens": 100_000,
        "output_tokens": 20_000,
        "session_id": "sess-1",
    }
    base.update(overrides)
    return base


# The design's prices (issue 14), put in as overrides.
DESIGN_PRICES = """
[usage]
baseline_model = "claude-sonnet-4-5"
baseline_big_model = "claude-opus-4-1"

[prices."anthropic/claude-sonnet-4-5"]
input = 3
output = 15
[prices."anthropic/claude-opus-4-1"]
input = 15
output = 75
[prices."gemini/gemini-2.5-pro"]
input = 1.25
output = 5
[prices."deepseek/deepseek-chat"]
input = 0.27
output = 1.10
[prices."openrouter/meta-llama/llama-3.3-70b-instruct"]
input = 0.35
output = 0.40

[profiles.llama]
provider = "openrouter"
model = "meta-llama/llama-3.3-70b-instruct"
"""


@pytest.fixture
def db_path() -> Path:
    from hybridcc import paths

    return paths.usage_db_file()
